//! `POST /returns.csv`: a return as a CSV file, through the same pipeline as `submitReturn`.
//! Query parameters: `organisation` (default: the token's), `idempotencyKey` (or the
//! `Idempotency-Key` header), `dryRun`, `note`. The answer is the submission's summary, with
//! CSV line numbers: 200 when written (or checked, in a dry run), 422 when refused, 409 when
//! its idempotency key was used for another return. Other failures are JSON errors with a
//! code and their own status: 400 (a body that cannot be read), 401, 403, 413 (over
//! `MAX_CSV_BYTES`), 429 (too many uploads at once), 503 (the database busy; with
//! `Retry-After`). The body is spooled to a file of its own in `DATA_DIR/uploads` as it
//! arrives and read from there a row at a time, so an upload of any length takes bounded
//! memory; the file is removed on every path, and left-overs of a crashed process are swept
//! at start-up.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use async_graphql::futures_util::StreamExt as _;
use axum::{
    Json,
    body::Body,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;

use super::{
    AppState,
    graphql::{error, principal},
};
use crate::{
    error::AppError,
    http::MAX_CSV_BYTES,
    returns::{self, Rows, Submission, Summary},
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

/// A failure answered with the status its kind calls for, as JSON with its code.
fn failed(err: AppError) -> Response {
    error(err.http_status(), err)
}

/// An upload spooled to disk, removed when dropped.
struct Upload(PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

static UPLOADS: AtomicU64 = AtomicU64::new(0);

/// The prefix of every spooled upload's file name, followed by the process id.
const SPOOL_PREFIX: &str = "upload-";

/// Writes the request body to a file of its own as it arrives, so that memory does not grow
/// with it. The name joins this process's id, a counter and random bytes, and the file is
/// created new (never opened if it exists), readable by its owner only.
async fn spool(dir: &Path, body: Body, limit: usize) -> Result<Upload, AppError> {
    // No space left for the upload is the machine's state, not a fault: the caller may try
    // again later, as when the database itself has no space.
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            tracing::warn!(error = %e, "spooling an upload");
            AppError::unavailable()
        }
        _ => AppError::Internal(format!("spooling an upload: {e}")),
    };
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let tag: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("{SPOOL_PREFIX}{}-{}-{tag}.csv", std::process::id(), UPLOADS.fetch_add(1, Ordering::Relaxed));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(dir.join(&name)).await.map_err(io)?;
    let upload = Upload(dir.join(name));
    let mut stream = body.into_data_stream();
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::BadUserInput(format!("the upload could not be read: {e}")))?;
        size += chunk.len();
        if size > limit {
            return Err(AppError::TooLarge(format!(
                "a CSV return may be at most {limit} bytes: split it into several"
            )));
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(upload)
}

/// Removes uploads left behind by processes that are no longer running (a crash between
/// spooling and removing). Uploads of a running process, which may share the directory,
/// are left alone.
pub fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(SPOOL_PREFIX).and_then(|rest| rest.split('-').next()) else { continue };
        let alive = pid
            .parse::<u32>()
            .is_ok_and(|pid| pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists());
        if !alive && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// An answer given before the request's body was read to its end: the connection closes
/// after it (`Connection: close`), so that a client does not send its next request on a
/// connection whose unread rest the server will not wait for.
fn unread(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    response
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
            return unread(failed(AppError::Unauthenticated(
                "send a partner token: `Authorization: Bearer <token>`".into(),
            )));
        }
        Err(refused) => return unread(refused),
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_CSV_BYTES) {
        return unread(failed(AppError::TooLarge(format!(
            "a CSV return may be at most {MAX_CSV_BYTES} bytes: split it into several"
        ))));
    }
    // A bounded number of uploads at once: each holds a file and a write transaction.
    let Ok(_permit) = state.uploads.clone().try_acquire_owned() else {
        return unread(failed(AppError::RateLimited(
            "too many CSV returns are being processed at once: try again shortly".into(),
        )));
    };
    let upload = match spool(&state.upload_dir, body, MAX_CSV_BYTES).await {
        Ok(u) => u,
        Err(e) => return unread(failed(e)),
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
    // The write runs to its own end even if the caller hangs up; the upload is removed
    // when it is done, whichever way it went.
    let db = state.db.conn.clone();
    let directory = state.directory.clone();
    let result = crate::db::run_to_end(&state.db.conn, async move {
        let outcome = match directory.now(&db, None).await {
            Ok(now) => returns::submit(&db, now.reference(), &actor, submission).await,
            Err(e) => Err(e),
        };
        drop(upload);
        outcome
    })
    .await;
    match result {
        Ok(Ok(outcome)) => {
            if let Some(event) = crate::events::Event::of_submission(&outcome) {
                state.events.announce(event).await;
            }
            let summary = Summary::new(outcome);
            let status = if !summary.refused() {
                StatusCode::OK
            } else if summary.key_conflict() {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (status, Json(summary)).into_response()
        }
        Ok(Err(e)) | Err(e) => failed(e),
    }
}
