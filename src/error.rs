//! One error type for the library, each variant with the `extensions.code` it is answered
//! with. Internal errors are logged in full and answered with a generic message.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use sea_orm::DbErr;

use crate::{
    db::{Fault, fault},
    values::UserErrorCode,
};

/// How long a caller is asked to wait before trying a refused write again, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The codes of the contract's top-level errors.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    /// The server could not take the write now (other writers hold what it needs); nothing
    /// was written, and the same request may be sent again after `Retry-After` seconds.
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    /// A persisted query's hash that the server does not hold: send the query text with it.
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request names something malformed or out of range; the message says what.
    #[error("{0}")]
    BadUserInput(String),
    /// The request names something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// No valid credentials where they are required.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials that do not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The answer (or the request) is larger than the server serves.
    #[error("{0}")]
    TooLarge(String),
    /// Too many requests of this kind at once, or from this caller.
    #[error("{0}")]
    RateLimited(String),
    /// Other writers held the database for longer than a write may wait; nothing was
    /// written, and the caller may try again.
    #[error("{0}")]
    Busy(String),
    /// A fault of the database; details go to the log, never to the caller.
    #[error("internal server error")]
    Database(#[source] DbErr),
    /// Any other fault of the server.
    #[error("internal server error")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput(_) => code::BAD_USER_INPUT,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::TooLarge(_) => code::QUERY_TOO_COMPLEX,
            Self::Busy(_) => code::SERVICE_UNAVAILABLE,
            Self::RateLimited(_) => code::RATE_LIMITED,
            Self::Database(_) | Self::Internal(_) => code::INTERNAL_SERVER_ERROR,
        }
    }

    /// The HTTP status this error is answered with where the whole request fails.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::BadUserInput(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error for a request the database could not serve just now (unreachable, the
    /// connection lost, no space left).
    pub fn unavailable() -> Self {
        Self::Busy(
            "the database cannot be reached or cannot write just now: try again shortly; a write sent again with \
             the same idempotency key is written once"
                .into(),
        )
    }

    /// The error for a write that could not get through in time.
    pub fn busy() -> Self {
        Self::Busy("the database is busy with other writes: nothing was written; try again shortly".into())
    }
}

impl From<DbErr> for AppError {
    /// Read by the error's code: a unique or foreign key violation or text the database
    /// cannot store is the caller's to fix, contention is worth a retry, never a server fault.
    fn from(err: DbErr) -> Self {
        match fault(&err) {
            Fault::Unique => Self::BadUserInput("that conflicts with an existing record".into()),
            Fault::ForeignKey => Self::BadUserInput("that refers to a record that does not exist".into()),
            Fault::BadText => Self::BadUserInput("the text holds characters that cannot be stored".into()),
            Fault::Contention => Self::busy(),
            Fault::Cancelled => Self::Busy("the request ran past the statement time limit and was stopped".into()),
            Fault::Unavailable => {
                tracing::warn!(error = %err, "database unavailable");
                Self::unavailable()
            }
            Fault::Other => Self::Database(err),
        }
    }
}

/// `AppError` is `Display`, so async-graphql's blanket `From` would drop its code: resolvers
/// convert with `async_graphql::ResultExt::extend`, which goes through this.
impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Database(e) = self {
            tracing::error!(error = %e, "database error");
        } else if let Self::Internal(e) = self {
            tracing::error!(error = %e, "internal error");
        }
        let code = self.code();
        let busy = matches!(self, Self::Busy(_));
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", code);
            if busy {
                ext.set("retryAfter", RETRY_AFTER_SECONDS);
            }
        })
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// An expected, caller-fixable problem with a mutation's input: answered in the payload's
/// `userErrors`, never as a top-level error. Defined once, as the contract names it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UserError {
    /// Path to the input field at fault, e.g. `["slug"]` or `["members", "2"]`.
    pub field: Option<Vec<String>>,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The kind of problem.
    pub code: UserErrorCode,
    /// The row the problem is in, for inputs with rows (0-based, or the CSV line number).
    pub row: Option<i32>,
}

impl UserError {
    pub fn new(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> Self {
        let field = (!field.is_empty()).then(|| field.iter().map(|f| (*f).to_owned()).collect());
        Self { field, message: message.into(), code, row: None }
    }
}

/// A write that is either done, or refused for the listed reasons with nothing changed.
pub type Outcome<T> = Result<T, Vec<UserError>>;
