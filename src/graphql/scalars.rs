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
#[Scalar(name = "Period")]
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
