use std::fmt;

use super::ParseError;

/// An ONS Government Statistical Service code: an upper-case letter, two digits for the
/// entity type and six digits (e.g. `E12000007` London, `E09000007` Camden).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GssCode(String);

impl GssCode {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let b = raw.as_bytes();
        let ok = b.len() == 9 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit);
        if !ok {
            return Err(ParseError(format!(
                "{} is not an ONS GSS code: expected a capital letter and eight digits, e.g. 'E09000007'",
                super::quoted(raw)
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GssCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::GssCode;

    #[test]
    fn accepts_region_ics_and_borough_codes() {
        for ok in ["E12000007", "E54000027", "E09000001", "E09000033"] {
            assert_eq!(GssCode::parse(ok).map(|c| c.to_string()), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn rejects_wrong_length_case_and_characters() {
        for bad in ["", "E0900000", "E090000011", "e09000001", "E0900000X", "909000001"] {
            assert!(GssCode::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
