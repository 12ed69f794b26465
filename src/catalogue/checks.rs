//! Checking a mutation's input: every problem is collected as a `UserError` naming its
//! field, so a caller fixes them all in one round.

use crate::{
    error::UserError,
    values::{GssCode, Period, PeriodType, Slug, UserErrorCode},
};

/// The longest title or name accepted.
pub const MAX_NAME: usize = 300;
/// The longest body of text accepted.
pub const MAX_TEXT: usize = 20_000;

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

    /// Trimmed, non-empty text of at most `max` characters.
    pub fn text(&mut self, field: &str, raw: &str, max: usize) -> Option<String> {
        let text = raw.trim();
        if text.is_empty() {
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
