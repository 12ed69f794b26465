//! Parsed value types shared by every room of the library: the period grammar, slugs, ONS
//! codes and the enumerations of the public contract. Once parsed, a value is trusted.

mod enums;
pub mod global_id;
mod gss_code;
pub mod period;
mod slug;
mod text;

pub use enums::{
    AggregationMethod, ChangeKind, Comparison, ConfidenceLevel, DeliveryStatus, GeographyLevel, IntervalMethod,
    OrganisationKind, PeriodType, Polarity, ReturnStatus, Role, TrajectoryStatus, TrendAssessment, TrendDirection,
    TrendMethod, Unit, UserErrorCode, ValueSource, ValueType, WebhookEvent,
};
pub use gss_code::GssCode;
pub use period::{Period, PeriodBounds};
pub use slug::Slug;
pub use text::{Lines, describe as describe_character, forbidden_character, quoted};

/// Why a piece of text is not a valid value, in words fit for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
