//! `POST /returns.csv`: a return as a CSV file, through the same pipeline as `submitReturn`.
//! Query parameters: `organisation` (default: the token's), `idempotencyKey` (or the
//! `Idempotency-Key` header), `dryRun`, `note`. The answer is the submission's summary, with
//! CSV line numbers: 200 when written (or checked, in a dry run), 422 when refused.

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{AppState, graphql::principal};
use crate::{
    error::AppError,
    graphql::ids::{NodeType, encode},
    returns::{self, Submission, SubmitOutcome},
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsvParams {
    organisation: Option<String>,
    idempotency_key: Option<String>,
    #[serde(default)]
    dry_run: bool,
    note: Option<String>,
}

/// The summary, as JSON: the outcome with the return's global ID.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CsvSummary {
    #[serde(rename = "return")]
    return_id: Option<String>,
    #[serde(flatten)]
    outcome: SubmitOutcome,
}

impl CsvSummary {
    pub fn new(outcome: SubmitOutcome) -> Self {
        Self { return_id: outcome.return_id.map(|id| encode(NodeType::Return, id).0), outcome }
    }

    /// True when the return was refused.
    pub fn refused(&self) -> bool {
        !self.outcome.user_errors.is_empty()
    }
}

fn fail(status: StatusCode, err: &AppError) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": err.to_string(), "extensions": { "code": err.code() } }] });
    (status, Json(body)).into_response()
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<CsvParams>,
    body: Bytes,
) -> Response {
    let actor = match principal(&state, &headers).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return fail(
                StatusCode::UNAUTHORIZED,
                &AppError::Unauthenticated("send a partner token: `Authorization: Bearer <token>`".into()),
            );
        }
        Err(refused) => return refused,
    };
    let read = returns::csv::read(body.as_ref());
    let key = params
        .idempotency_key
        .or_else(|| headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned));
    let submission = Submission {
        organisation: params.organisation.unwrap_or_else(|| actor.organisation.slug.clone()),
        rows: read.rows,
        idempotency_key: key,
        dry_run: params.dry_run,
        note: params.note,
        read_errors: read.errors,
        unreadable: read.unreadable,
    };
    match returns::submit(&state.db.conn, &actor, submission).await {
        Ok(outcome) => {
            let summary = CsvSummary::new(outcome);
            let status = if summary.refused() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            (status, Json(summary)).into_response()
        }
        Err(e @ AppError::Forbidden(_)) => fail(StatusCode::FORBIDDEN, &e),
        Err(e) => {
            if matches!(e, AppError::Database(_) | AppError::Internal(_)) {
                tracing::error!(error = ?e, "a CSV return failed");
            }
            fail(StatusCode::INTERNAL_SERVER_ERROR, &e)
        }
    }
}
