//! `POST /returns.csv`: a return as a CSV file, through the same pipeline as `submitReturn`.
//! Query parameters: `organisation` (default: the token's), `idempotencyKey` (or the
//! `Idempotency-Key` header), `dryRun`, `note`. The answer is the submission's summary, with
//! CSV line numbers: 200 when written (or checked, in a dry run), 422 when refused. The body
//! is spooled to a file in `DATA_DIR/uploads` as it arrives and read from there a row at a
//! time, so an upload of any length takes bounded memory.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use async_graphql::futures_util::StreamExt as _;
use axum::{
    Json,
    body::Body,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use super::{AppState, graphql::principal};
use crate::{
    error::AppError,
    graphql::ids::{NodeType, encode},
    returns::{self, Rows, Submission, SubmitOutcome},
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

/// An upload spooled to disk, removed when dropped.
struct Upload(PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

static UPLOADS: AtomicU64 = AtomicU64::new(0);

/// Writes the request body to a file as it arrives, so that memory does not grow with it.
async fn spool(dir: &Path, body: Body) -> Result<Upload, AppError> {
    let io = |e: std::io::Error| AppError::Internal(format!("spooling an upload: {e}"));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let name = format!("{}-{}.csv", std::process::id(), UPLOADS.fetch_add(1, Ordering::Relaxed));
    let upload = Upload(dir.join(name));
    let mut file = tokio::fs::File::create(&upload.0).await.map_err(io)?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::BadUserInput(format!("the upload could not be read: {e}")))?;
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(upload)
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<CsvParams>,
    body: Body,
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
    let upload = match spool(&state.upload_dir, body).await {
        Ok(u) => u,
        Err(e @ AppError::BadUserInput(_)) => return fail(StatusCode::BAD_REQUEST, &e),
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let key = params
        .idempotency_key
        .or_else(|| headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned));
    let submission = Submission {
        organisation: params.organisation.unwrap_or_else(|| actor.organisation.slug.clone()),
        rows: Rows::CsvFile(upload.0.clone()),
        idempotency_key: key,
        dry_run: params.dry_run,
        note: params.note,
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
