//! Checking a mutation's input: every problem is collected as a `UserError` naming its
//! field, so a caller fixes them all in one round.

use crate::{
    error::UserError,
    values::{GssCode, Lines, Period, PeriodType, Slug, UserErrorCode, describe_character, forbidden_character},
};

/// The longest title or name accepted.
pub const MAX_NAME: usize = 300;
/// The longest body of text accepted.
pub const MAX_TEXT: usize = 20_000;
/// The most members one organisation lists (London Councils has the 33 councils).
pub const MAX_MEMBERS: usize = 50;
/// The most priorities one case study illustrates.
pub const MAX_CASE_STUDY_PRIORITIES: usize = 10;
/// The most areas one case study names (all of London's 39 fit).
pub const MAX_CASE_STUDY_AREAS: usize = 40;
/// The most organisations one case study names.
pub const MAX_CASE_STUDY_ORGANISATIONS: usize = 20;

#[derive(Debug, Default)]
pub struct Checks {
    pub errors: Vec<UserError>,
}

impl Checks {
    pub fn push(&mut self, field: &[&str], code: UserErrorCode, message: impl Into<String>) {
        self.errors.push(UserError::new(field, code, message));
    }

    pub fn slug(&mut self, field: &str, raw: &str) -> Option<Slug> {
        Slug::parse(raw).map_err(|e| self.push(&[field], UserErrorCode::Invalid, e.0)).ok()
    }

    pub fn gss_code(&mut self, field: &[&str], raw: &str) -> Option<GssCode> {
        GssCode::parse(raw).map_err(|e| self.push(field, UserErrorCode::Invalid, e.0)).ok()
    }

    /// Trimmed, non-empty text of at most `max` characters, with no control characters
    /// (line breaks and tabs are allowed in long text, never in a name).
    pub fn text(&mut self, field: &str, raw: &str, max: usize) -> Option<String> {
        let text = raw.trim();
        let lines = if max > MAX_NAME { Lines::Many } else { Lines::One };
        if let Some(c) = forbidden_character(text, lines) {
            self.push(
                &[field],
                UserErrorCode::Invalid,
                format!("`{field}` holds the control character {}, which is not allowed", describe_character(c)),
            );
            None
        } else if text.is_empty() {
            self.push(&[field], UserErrorCode::Required, format!("`{field}` must not be empty"));
            None
        } else if text.chars().count() > max {
            self.push(&[field], UserErrorCode::TooLong, format!("`{field}` is longer than {max} characters"));
            None
        } else {
            Some(text.to_owned())
        }
    }

    /// Optional text: empty means none.
    pub fn optional_text(&mut self, field: &str, raw: Option<&str>, max: usize) -> Option<Option<String>> {
        match raw.map(str::trim).filter(|t| !t.is_empty()) {
            None => Some(None),
            Some(t) => self.text(field, t, max).map(Some),
        }
    }

    /// Whether a list is within its bound; a longer one is a user error, and is not looked at.
    pub fn at_most<T>(&mut self, field: &str, items: &[T], max: usize) -> bool {
        if items.len() > max {
            self.push(
                &[field],
                UserErrorCode::TooLong,
                format!("`{field}` may name at most {max}, not {}", items.len()),
            );
            false
        } else {
            true
        }
    }

    /// A finite number.
    pub fn finite(&mut self, field: &[&str], value: f64) -> Option<f64> {
        if value.is_finite() {
            Some(value)
        } else {
            self.push(field, UserErrorCode::Invalid, "the value must be a finite number");
            None
        }
    }

    /// A period that fits `period_type`, or a calendar year (targets are often "by 2030").
    pub fn target_period(&mut self, field: &[&str], period: &Period, period_type: Option<PeriodType>) -> bool {
        match period_type {
            Some(t) if !period.fits(t) && !period.fits(PeriodType::CalendarYear) => {
                self.push(
                    field,
                    UserErrorCode::Invalid,
                    format!("{period} is not a {t} period like {} (or a calendar year)", t.example()),
                );
                false
            }
            _ => true,
        }
    }

    pub fn finish(self) -> Result<(), Vec<UserError>> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }
}
