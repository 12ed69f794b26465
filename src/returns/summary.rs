//! The summary of a submission, as the CSV endpoint answers it and the `import` command prints it.

use serde::Serialize;

use super::SubmitOutcome;
use crate::values::global_id::{self, NodeType};

/// A submission's summary as partners read it, as JSON: the outcome with the return's global
/// ID. `POST /returns.csv` answers it and `london-vision import` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    #[serde(rename = "return")]
    return_id: Option<String>,
    #[serde(flatten)]
    outcome: SubmitOutcome,
}

impl Summary {
    pub fn new(outcome: SubmitOutcome) -> Self {
        Self { return_id: outcome.return_id.map(|id| global_id::encode(NodeType::Return, id)), outcome }
    }

    /// True when the return was refused because its idempotency key was used for another.
    pub fn key_conflict(&self) -> bool {
        self.outcome.user_errors.iter().any(|e| e.code == crate::values::UserErrorCode::Conflict)
    }

    /// True when the return was refused.
    pub fn refused(&self) -> bool {
        !self.outcome.user_errors.is_empty()
    }
}
