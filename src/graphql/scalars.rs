//! Custom scalars of the contract.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::values::Period;

/// A reporting period: `2023` (calendar year), `2023/24` (financial or academic year),
/// `2023-Q1` (calendar quarter), `2023-05` (month) or `2020-22` (three-year rolling).
/// Validated on input; each measure takes one period type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodScalar(pub Period);

/// A reporting period, as text of one of these forms (each measure takes one):
///
/// - `YYYY`: a calendar year, `2023`;
/// - `YYYY/YY`: a financial year (April to March) or academic year, `2023/24` (the second
///   year is the next one);
/// - `YYYY-Qn`: a calendar quarter, `2023-Q1` (`n` from 1 to 4);
/// - `YYYY-MM`: a calendar month, `2023-05`;
/// - `YYYY-YY`: three calendar years ending in the second, `2020-22` (rolling rates, such as
///   suicide rates).
///
/// Years run from 1900 to 2100. Anything else is refused with `BAD_USER_INPUT`.
#[Scalar(name = "Period", specified_by_url = "/scalars/Period")]
impl ScalarType for PeriodScalar {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Period::parse(s).map(Self).map_err(|e| InputValueError::custom(e.0)),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.as_str().to_owned())
    }
}

/// A moment in time, as RFC 3339 text in UTC with the `Z` offset, e.g.
/// `2026-11-23T14:05:09.123Z` (fractions of a second as the moment has them). Input may carry
/// any offset (`2026-11-23T14:05:09+01:00`); it is read as the same moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub chrono::DateTime<chrono::Utc>);

/// A moment in time, as RFC 3339 text in UTC with the `Z` offset, e.g.
/// `2026-11-23T14:05:09.123Z`. Input may carry any offset (`2026-11-23T14:05:09+01:00`); it is
/// read as the same moment.
#[Scalar(name = "DateTime", specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339")]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Self(t.with_timezone(&chrono::Utc)))
                .map_err(|e| InputValueError::custom(format!("'{s}' is not an RFC 3339 date and time: {e}"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl From<chrono::DateTime<chrono::Utc>> for Timestamp {
    fn from(t: chrono::DateTime<chrono::Utc>) -> Self {
        Self(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_any_offset_and_write_utc() {
        let t = Timestamp::parse(Value::String("2026-11-23T14:05:09+01:00".into())).expect("parses");
        assert_eq!(t.to_value(), Value::String("2026-11-23T13:05:09Z".into()));
        assert!(Timestamp::parse(Value::String("23/11/2026".into())).is_err());
        assert!(Timestamp::parse(Value::Number(1.into())).is_err());
    }
}
