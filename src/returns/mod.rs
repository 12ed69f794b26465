//! The submission pipeline: every way data comes in (GraphQL, CSV over HTTP, the `import`
//! command) goes through `submit`: check every row, then write the whole return in one
//! transaction, or nothing at all. Then its review (`review`) and reading it back (`read`).
//!
//! Values are never overwritten: a value that differs from the current approved one for its
//! measure, area and period becomes the next revision; an equal one is counted as unchanged.

mod bulk;
pub mod csv;
pub mod due;
pub mod locks;
mod read;
pub mod receipt;
mod review;
mod submit;
mod summary;
mod validate;
mod write;

use serde::{Deserialize, Serialize};

pub use self::{
    read::{ReturnFilter, Reviewer, by_ids, list, observations_of},
    review::{review, withdraw},
    submit::submit,
    summary::Summary,
    validate::{MAX_NOTE, Reference, ValidRow},
};
use crate::{
    error::{AppError, AppResult, UserError},
    values::ChangeKind,
};

/// One row as it came in, before any check. `row` is how errors name it: the 0-based
/// position in `values`, or the CSV line number.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RawRow {
    pub row: i32,
    pub measure: String,
    pub geography: String,
    pub period: String,
    pub value: Option<f64>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub lower_ci: Option<f64>,
    pub upper_ci: Option<f64>,
    pub note: Option<String>,
}

/// Where a return's rows come from. They are read twice, once to check them all and once
/// to write them, so that a file of any length goes through in bounded memory.
#[derive(Debug, Clone)]
pub enum Rows {
    /// Rows already in memory (a GraphQL request, bounded by its body limit).
    Memory(Vec<RawRow>),
    /// A CSV file, read one row at a time.
    CsvFile(std::path::PathBuf),
}

type RowItem = Result<RawRow, Vec<UserError>>;

impl Rows {
    /// The rows from the start; a CSV header's problems come first, as one item.
    fn open(&self) -> AppResult<Box<dyn Iterator<Item = RowItem> + Send + '_>> {
        match self {
            Self::Memory(rows) => Ok(Box::new(rows.iter().cloned().map(Ok))),
            Self::CsvFile(path) => {
                let file =
                    std::fs::File::open(path).map_err(|e| AppError::Internal(format!("opening an upload: {e}")))?;
                let mut rows = csv::CsvRows::new(std::io::BufReader::new(file));
                let header = std::mem::take(&mut rows.header_errors);
                if header.is_empty() { Ok(Box::new(rows)) } else { Ok(Box::new(std::iter::once(Err(header)))) }
            }
        }
    }
}

/// A return as submitted.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The slug of the organisation the return is for: the caller's own.
    pub organisation: String,
    pub rows: Rows,
    /// A key the caller chooses; a repeat from the same organisation gets the first result.
    pub idempotency_key: Option<String>,
    /// Check and report, write nothing.
    pub dry_run: bool,
    pub note: Option<String>,
}

/// One value's old and new figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueChange {
    pub row: i32,
    pub measure: String,
    pub geography: String,
    pub period: String,
    pub old_value: Option<f64>,
    pub new_value: f64,
    /// The revision written (or that would be, in a dry run); none when unchanged.
    pub revision: Option<i32>,
    pub kind: ChangeKind,
}

/// The result of a submission, as every entry point reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitOutcome {
    /// The return written; none for a dry run or a refused return.
    pub return_id: Option<i64>,
    /// Rows that became a new revision (or would, in a dry run).
    pub accepted: i32,
    /// Rows equal to the current value.
    pub unchanged: i32,
    /// Rows with at least one problem; when above zero, nothing was written.
    pub rejected: i32,
    /// Each value's old and new figures, for at most the first `MAX_CHANGES` values.
    pub changes: Vec<ValueChange>,
    /// True when the return had more values than `changes` lists.
    #[serde(default)]
    pub changes_truncated: bool,
    /// True when the return had more problems than `user_errors` lists (the count of
    /// rejected rows is complete).
    #[serde(default)]
    pub user_errors_truncated: bool,
    /// True when this is the stored result of an earlier submission with the same key.
    #[serde(default)]
    pub replayed: bool,
    /// What is wrong, row by row. Never stored: a refused return stores nothing.
    #[serde(skip_deserializing)]
    pub user_errors: Vec<UserError>,
}

/// At most this many problems are listed; the count of rejected rows is always complete.
const MAX_ERRORS: usize = 1_000;
/// How long a write keeps trying when other writers hold what it needs (it lost a race for a
/// revision number, or the database was locked); after that the caller is told to try again.
const WRITE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);
/// Rows read, looked up and written at a time.
const BATCH: usize = 500;
/// At most this many changes are listed in an outcome; the counts are always complete.
pub const MAX_CHANGES: usize = 10_000;
