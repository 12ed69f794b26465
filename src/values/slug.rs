use std::fmt;

use super::ParseError;

/// A natural key for organisations, priorities, measures and case studies: lower-case ASCII
/// letters and digits in words joined by single hyphens, 2 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let ok_chars = raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_shape = !raw.starts_with('-') && !raw.ends_with('-') && !raw.contains("--");
        if raw.len() < 2 || raw.len() > Self::MAX_LEN || !ok_chars || !ok_shape {
            return Err(ParseError(format!(
                "{} is not a slug: use 2 to {} lower-case letters, digits and single hyphens, e.g. 'childhood-obesity'",
                super::quoted(raw),
                Self::MAX_LEN
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Slug;

    #[test]
    fn accepts_lower_case_words_joined_by_hyphens() {
        for ok in ["camden", "childhood-obesity", "nhs-england-london", "year6-obesity", "e9"] {
            assert_eq!(Slug::parse(ok).map(|s| s.to_string()), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn rejects_capitals_spaces_edges_and_doubled_hyphens() {
        for bad in ["", "a", "Camden", "tower hamlets", "-camden", "camden-", "one--croydon", "café", &"x".repeat(65)]
        {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
