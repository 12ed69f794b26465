//! `UserError` as GraphQL shows it: the domain's expected, caller-fixable problem with a
//! mutation's input (`crate::error::UserError`), as the contract names it.

use async_graphql::Object;

use crate::{error, values::UserErrorCode};

/// A domain problem, shown to GraphQL.
pub struct UserError(pub error::UserError);

/// An expected, caller-fixable problem with a mutation's input: answered in the payload's
/// `userErrors`, never as a top-level error; nothing was changed.
#[Object]
impl UserError {
    /// Path to the input field at fault, e.g. `["slug"]` or `["values", "2", "period"]`.
    async fn field(&self) -> Option<&[String]> {
        self.0.field.as_deref()
    }

    /// What is wrong and how to fix it.
    async fn message(&self) -> &str {
        &self.0.message
    }

    /// The kind of problem.
    async fn code(&self) -> UserErrorCode {
        self.0.code
    }

    /// The row the problem is in, for inputs with rows (0-based, or the CSV line number).
    async fn row(&self) -> Option<i32> {
        self.0.row
    }
}

/// The domain's problems, as GraphQL shows them.
pub fn all(errors: Vec<error::UserError>) -> Vec<UserError> {
    errors.into_iter().map(UserError).collect()
}
