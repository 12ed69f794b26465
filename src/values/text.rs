//! Text a person may send: no control characters (they cannot be stored by PostgreSQL, in the
//! case of NUL, and are never part of a name, a note or a key), except tab, line feed and
//! carriage return where the text may run over several lines.

/// Whether a text may hold tab and line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// A name, slug, key or search: one line, no tabs.
    One,
    /// A note, summary or body: tabs and line breaks allowed.
    Many,
}

/// The first character of `text` that is not allowed in it, if any: a C0 or C1 control
/// character or DEL (with tab, LF and CR allowed in `Lines::Many`).
pub fn forbidden_character(text: &str, lines: Lines) -> Option<char> {
    text.chars().find(|&c| {
        let allowed_break = lines == Lines::Many && matches!(c, '\t' | '\n' | '\r');
        c.is_control() && !allowed_break
    })
}

/// How a forbidden character is named in a message: `U+0000`.
pub fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// The most characters of a caller's text an error message quotes back.
pub const QUOTED_CHARS: usize = 40;

/// A caller's text as an error message quotes it: whole when short, otherwise its first
/// [`QUOTED_CHARS`] characters and how long it was, so that a 100 kB mistake is not sent back.
pub fn quoted(text: &str) -> String {
    let count = text.chars().count();
    if count <= QUOTED_CHARS {
        format!("'{text}'")
    } else {
        let head: String = text.chars().take(QUOTED_CHARS).collect();
        format!("'{head}…' ({count} characters)")
    }
}

#[cfg(test)]
mod tests {
    use super::{Lines, describe, forbidden_character, quoted};

    #[test]
    fn long_text_is_quoted_by_its_start_and_its_length() {
        assert_eq!(quoted("camden"), "'camden'");
        let long = "é".repeat(100_000);
        let q = quoted(&long);
        assert!(q.starts_with(&format!("'{}…'", "é".repeat(40))), "{q}");
        assert!(q.ends_with("(100000 characters)"), "{q}");
    }

    #[test]
    fn control_characters_are_found_and_line_breaks_allowed_only_in_long_text() {
        assert_eq!(forbidden_character("Camden", Lines::One), None);
        assert_eq!(forbidden_character("a\0b", Lines::Many), Some('\0'));
        assert_eq!(forbidden_character("a\u{7f}", Lines::Many), Some('\u{7f}'));
        assert_eq!(forbidden_character("a\u{85}", Lines::Many), Some('\u{85}'));
        assert_eq!(forbidden_character("line\nnext\tcol\r\n", Lines::Many), None);
        assert_eq!(forbidden_character("line\nnext", Lines::One), Some('\n'));
        assert_eq!(forbidden_character("tab\there", Lines::One), Some('\t'));
        assert_eq!(forbidden_character("Hackney – Ōkami ✓ 🙂", Lines::One), None);
        assert_eq!(describe('\0'), "U+0000");
        assert_eq!(describe('\u{1b}'), "U+001B");
    }
}
