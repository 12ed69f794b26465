//! One error type for the library, each variant with the `extensions.code` it is answered
//! with. Internal errors are logged in full and answered with a generic message.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

use crate::values::UserErrorCode;

/// The codes of the contract's top-level errors.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
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
            Self::Database(_) | Self::Internal(_) => code::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DbErr> for AppError {
    /// A unique or foreign key violation is the caller's to fix, never a server fault.
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Self::BadUserInput("that conflicts with an existing record".into())
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Self::BadUserInput("that refers to a record that does not exist".into())
            }
            _ => Self::Database(err),
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
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| ext.set("code", code))
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// An expected, caller-fixable problem with a mutation's input: answered in the payload's
/// `userErrors`, never as a top-level error. Defined once, as the contract names it.
#[derive(Debug, Clone, PartialEq, async_graphql::SimpleObject, serde::Serialize)]
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
