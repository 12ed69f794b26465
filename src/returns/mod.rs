//! The submission pipeline: every way data comes in (GraphQL, CSV over HTTP, the `import`
//! command) goes through `submit`: check every row, then write the whole return in one
//! transaction, or nothing at all.
//!
//! Values are never overwritten: a value that differs from the current one for its measure,
//! area and period becomes the next revision; an equal one is counted as unchanged.

pub mod csv;
pub mod due;
pub mod locks;
mod validate;

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::Utc;
use entity::{geography, measure, observation, period_lock, return_};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use self::validate::Rules;
pub use self::validate::{MAX_NOTE, ValidRow};
use crate::{
    audit::{self, EntityType},
    auth::Principal,
    catalogue::{
        Visibility,
        page::{self, Page, PageArgs},
    },
    db::{Fault, fault},
    error::{AppError, AppResult, UserError},
    values::{ChangeKind, Lines, ReturnStatus, Role, UserErrorCode, describe_character, forbidden_character},
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

fn refused(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> SubmitOutcome {
    SubmitOutcome { user_errors: vec![UserError::new(field, code, message)], ..SubmitOutcome::default() }
}

/// Submits a return for the caller's organisation. Expected problems are answered in the
/// outcome's `user_errors`; only faults are errors.
pub async fn submit(db: &DatabaseConnection, actor: &Principal, submission: Submission) -> AppResult<SubmitOutcome> {
    if submission.organisation != actor.organisation.slug {
        return Err(AppError::Forbidden(format!(
            "your token is for {}, not {}: a partner submits its own returns",
            actor.organisation.slug, submission.organisation
        )));
    }
    actor.require_role(Role::Submitter)?;
    if let Some(key) = &submission.idempotency_key
        && (key.trim().is_empty() || key.len() > 200 || forbidden_character(key, Lines::One).is_some())
    {
        return Ok(refused(
            &["idempotencyKey"],
            UserErrorCode::Invalid,
            "an idempotency key has 1 to 200 characters and no control characters",
        ));
    }
    if let Some(c) = submission.note.as_deref().and_then(|n| forbidden_character(n, Lines::Many)) {
        return Ok(refused(
            &["note"],
            UserErrorCode::Invalid,
            format!("the note holds the control character {}, which is not allowed", describe_character(c)),
        ));
    }
    if submission.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Ok(refused(
            &["note"],
            UserErrorCode::TooLong,
            format!("a note may have at most {MAX_NOTE} characters"),
        ));
    }
    let rules = Rules {
        measures: measure::Entity::find().all(db).await?.into_iter().map(|m| (m.slug.clone(), m)).collect(),
        geographies: geography::Entity::find().all(db).await?.into_iter().map(|g| (g.code.clone(), g)).collect(),
        locks: period_lock::Entity::find().all(db).await?.into_iter().map(|l| (l.measure_id, l.period)).collect(),
        scope: actor.scope.clone(),
        seen: HashSet::new(),
    };
    // The first pass reads and checks every row: a file of any length, so off the async
    // runtime, where it would hold up other requests.
    let head = serde_json::to_vec(&(&submission.organisation, &submission.note)).unwrap_or_default();
    let rows = submission.rows.clone();
    let pass = tokio::task::spawn_blocking(move || first_pass(&rows, rules, &head))
        .await
        .map_err(|e| AppError::Internal(format!("checking a return failed: {e}")))??;
    let FirstPass { mut rules, mut errors, errors_truncated, rejected, count, print } = pass;
    if count == 0 {
        return Ok(refused(&["values"], UserErrorCode::Required, "a return needs at least one value"));
    }
    if !submission.dry_run
        && let Some(earlier) = replay(db, actor, &submission, &print).await?
    {
        return Ok(earlier);
    }
    if rejected > 0 {
        errors.sort_by_key(|e| e.row.unwrap_or(-1));
        return Ok(SubmitOutcome {
            rejected,
            user_errors: errors,
            user_errors_truncated: errors_truncated,
            ..SubmitOutcome::default()
        });
    }

    // Second pass: write, trying again while other writers hold what this one needs.
    let started = std::time::Instant::now();
    for attempt in 1u64.. {
        rules.seen.clear();
        match write(db, actor, &submission, &print, &mut rules).await {
            Ok(outcome) => return Ok(outcome),
            Err(WriteError::Db(e)) if matches!(fault(&e), Fault::Contention | Fault::Unique) => {
                if started.elapsed() >= WRITE_PATIENCE {
                    tracing::warn!(error = %e, attempt, "a return gave up waiting for other writers");
                    return Err(AppError::busy());
                }
                if !submission.dry_run
                    && let Some(earlier) = replay(db, actor, &submission, &print).await?
                {
                    return Ok(earlier);
                }
                // Back off a little more each time, spread so that racing writers part.
                let pause = 5 + (attempt * 7 + u64::from(std::process::id())) % 40 + attempt.min(20) * 5;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            Err(WriteError::Db(e)) => return Err(e.into()),
            Err(WriteError::Refused(errors)) => {
                let rejected = i32::try_from(errors.len()).unwrap_or(i32::MAX);
                return Ok(SubmitOutcome { rejected, user_errors: errors, ..SubmitOutcome::default() });
            }
            Err(WriteError::App(e)) => return Err(e),
        }
    }
    unreachable!("BUG: the attempts never run out; the patience does")
}

/// What the first pass over a return's rows found.
struct FirstPass {
    rules: Rules,
    errors: Vec<UserError>,
    errors_truncated: bool,
    rejected: i32,
    count: usize,
    /// The digest of the return (its organisation, note and rows), so that an idempotency
    /// key reused for other data is caught.
    print: String,
}

/// Checks every row, keeping only the keys seen (so any length fits in bounded memory).
fn first_pass(rows: &Rows, mut rules: Rules, head: &[u8]) -> AppResult<FirstPass> {
    let mut digest = Sha256::new();
    digest.update(head);
    let (mut errors, mut errors_truncated, mut rejected, mut count) = (Vec::new(), false, 0, 0usize);
    for item in rows.open()? {
        count += 1;
        let problems = match item {
            Ok(raw) => {
                digest.update(serde_json::to_vec(&raw).unwrap_or_default());
                let mut found = Vec::new();
                rules.check(&raw, &mut found);
                found
            }
            Err(problems) => problems,
        };
        if !problems.is_empty() {
            rejected += 1;
            let room = MAX_ERRORS.saturating_sub(errors.len());
            errors_truncated |= problems.len() > room;
            errors.extend(problems.into_iter().take(room));
        }
    }
    let print = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(FirstPass { rules, errors, errors_truncated, rejected, count, print })
}

/// Why a write stopped: the database (perhaps a race lost), a check inside the transaction
/// (a period locked meanwhile), or anything else.
enum WriteError {
    Db(DbErr),
    Refused(Vec<UserError>),
    App(AppError),
}

impl From<DbErr> for WriteError {
    fn from(e: DbErr) -> Self {
        Self::Db(e)
    }
}

/// The stored outcome of an earlier return with the same key from the same organisation.
async fn replay(
    db: &DatabaseConnection,
    actor: &Principal,
    s: &Submission,
    print: &str,
) -> AppResult<Option<SubmitOutcome>> {
    let Some(key) = &s.idempotency_key else { return Ok(None) };
    let Some(earlier) = return_::Entity::find()
        .filter(return_::Column::OrganisationId.eq(actor.organisation.id))
        .filter(return_::Column::IdempotencyKey.eq(key.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if earlier.request_fingerprint.as_deref() != Some(print) {
        return Ok(Some(refused(
            &["idempotencyKey"],
            UserErrorCode::Conflict,
            format!("the key '{key}' was used for a different return (return {}); use a new key", earlier.id),
        )));
    }
    let mut outcome: SubmitOutcome = earlier
        .outcome
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok())
        .ok_or_else(|| AppError::Internal(format!("return {} has no stored outcome", earlier.id)))?;
    outcome.replayed = true;
    Ok(Some(outcome))
}

/// For one (measure, area, period): its current figures (the highest revision not
/// rejected, if any), whether they are approved, and the highest revision number used.
#[derive(Default)]
struct Current {
    live: Option<observation::Model>,
    live_approved: bool,
    max_revision: i32,
}

async fn current_values(
    tx: &DatabaseTransaction,
    rows: &[ValidRow],
) -> Result<HashMap<(i64, i64, String), Current>, DbErr> {
    let mut out: HashMap<(i64, i64, String), Current> = HashMap::new();
    for chunk in rows.chunks(BATCH) {
        let wanted: HashSet<(i64, i64, &str)> =
            chunk.iter().map(|r| (r.measure_id, r.geography_id, r.period.as_str())).collect();
        // Each list without repeats: a batch names few measures, areas and periods, and long
        // lists of repeats make PostgreSQL scan the table rather than use its index.
        let measures: BTreeSet<i64> = chunk.iter().map(|r| r.measure_id).collect();
        let areas: BTreeSet<i64> = chunk.iter().map(|r| r.geography_id).collect();
        let periods: BTreeSet<&str> = chunk.iter().map(|r| r.period.as_str()).collect();
        let found = observation::Entity::find()
            .filter(observation::Column::MeasureId.is_in(measures))
            .filter(observation::Column::GeographyId.is_in(areas))
            .filter(observation::Column::Period.is_in(periods))
            .order_by_asc(observation::Column::Revision)
            .all(tx)
            .await?;
        let found: Vec<_> =
            found.into_iter().filter(|o| wanted.contains(&(o.measure_id, o.geography_id, o.period.as_str()))).collect();
        let return_ids: BTreeSet<i64> = found.iter().map(|o| o.return_id).collect();
        let statuses: HashMap<i64, String> = return_::Entity::find()
            .filter(return_::Column::Id.is_in(return_ids))
            .all(tx)
            .await?
            .into_iter()
            .map(|r| (r.id, r.status))
            .collect();
        for o in found {
            let entry = out.entry((o.measure_id, o.geography_id, o.period.clone())).or_default();
            entry.max_revision = entry.max_revision.max(o.revision);
            // Rows come in revision order: the last one not rejected (nor withdrawn) is current.
            let status = statuses.get(&o.return_id).map(String::as_str);
            let approved = status == Some(ReturnStatus::Approved.as_str());
            if approved || status == Some(ReturnStatus::Submitted.as_str()) {
                entry.live = Some(o);
                entry.live_approved = approved;
            }
        }
    }
    Ok(out)
}

fn same_figures(o: &observation::Model, r: &ValidRow) -> bool {
    o.value == r.value
        && o.numerator == r.numerator
        && o.denominator == r.denominator
        && o.lower_ci == r.lower_ci
        && o.upper_ci == r.upper_ci
        && o.note == r.note
}

/// Writes the return and its new revisions in one transaction, a batch at a time (or, for a
/// dry run, works out what would be written and writes nothing). A return that would carry
/// no new value is not created. Periods locked while the return was being written are
/// checked again inside the transaction, under the measure's lock (see `locks`).
async fn write(
    db: &DatabaseConnection,
    actor: &Principal,
    s: &Submission,
    print: &str,
    rules: &mut Rules,
) -> Result<SubmitOutcome, WriteError> {
    // A dry run only reads: it need not wait for the write lock.
    let tx = if s.dry_run { db.begin().await? } else { crate::db::begin_write(db).await? };
    let now = Utc::now();
    let ret = if s.dry_run {
        None
    } else {
        Some(
            return_::ActiveModel {
                organisation_id: Set(actor.organisation.id),
                status: Set(ReturnStatus::Submitted.as_str().to_owned()),
                note: Set(s.note.clone()),
                idempotency_key: Set(s.idempotency_key.clone()),
                request_fingerprint: Set(Some(print.to_owned())),
                outcome: Set(None),
                submitted_at: Set(now),
                submitted_by: Set(actor.subject.clone()),
                ..Default::default()
            }
            .insert(&tx)
            .await?,
        )
    };
    let mut outcome = SubmitOutcome::default();
    let mut written: BTreeSet<(i64, String)> = BTreeSet::new();
    let mut rows = s.rows.open().map_err(WriteError::App)?;
    loop {
        if crate::db::abandoned() {
            tx.rollback().await?;
            return Err(WriteError::App(AppError::Internal("the caller went away: the return was rolled back".into())));
        }
        // The rows were all checked in the first pass; they are checked again here only to
        // resolve their references, so a problem now means the catalogue changed meanwhile.
        let mut batch = Vec::with_capacity(BATCH);
        for item in rows.by_ref().take(BATCH) {
            let raw =
                item.map_err(|_| WriteError::App(AppError::Internal("an upload changed while it was written".into())))?;
            let mut problems = Vec::new();
            match rules.check(&raw, &mut problems) {
                Some(valid) => batch.push(valid),
                None => return Err(WriteError::Refused(problems)),
            }
        }
        if batch.is_empty() {
            break;
        }
        let current = current_values(&tx, &batch).await?;
        let mut to_write = Vec::new();
        for r in &batch {
            let now_key = current.get(&(r.measure_id, r.geography_id, r.period.clone()));
            let live = now_key.and_then(|c| c.live.as_ref());
            let next = now_key.map_or(1, |c| c.max_revision + 1);
            // Unchanged only when equal to the current value and that value is approved: a
            // value equal to one still in review is carried by this return as well, so that
            // it survives that review's rejection.
            let approved = now_key.is_some_and(|c| c.live_approved);
            let (kind, revision) = match live {
                Some(o) if approved && same_figures(o, r) => (ChangeKind::Unchanged, None),
                Some(_) => (ChangeKind::Revised, Some(next)),
                None => (ChangeKind::New, Some(next)),
            };
            if outcome.changes.len() < MAX_CHANGES {
                outcome.changes.push(ValueChange {
                    row: r.row,
                    measure: r.measure.clone(),
                    geography: r.geography.clone(),
                    period: r.period.clone(),
                    old_value: live.map(|o| o.value),
                    new_value: r.value,
                    revision,
                    kind,
                });
            } else {
                outcome.changes_truncated = true;
            }
            match revision {
                Some(rev) => {
                    outcome.accepted += 1;
                    written.insert((r.measure_id, r.period.clone()));
                    to_write.push((r, rev));
                }
                None => outcome.unchanged += 1,
            }
        }
        if let Some(ret) = &ret
            && !to_write.is_empty()
        {
            // In key order, so that two returns writing the same values wait for each other
            // in the same order rather than deadlock.
            to_write.sort_by(|a, b| {
                (a.0.measure_id, a.0.geography_id, &a.0.period).cmp(&(b.0.measure_id, b.0.geography_id, &b.0.period))
            });
            let models = to_write.iter().map(|(r, rev)| observation::ActiveModel {
                measure_id: Set(r.measure_id),
                geography_id: Set(r.geography_id),
                period: Set(r.period.clone()),
                period_start: Set(r.period_start),
                period_end: Set(r.period_end),
                revision: Set(*rev),
                value: Set(r.value),
                numerator: Set(r.numerator),
                denominator: Set(r.denominator),
                lower_ci: Set(r.lower_ci),
                upper_ci: Set(r.upper_ci),
                note: Set(r.note.clone()),
                return_id: Set(ret.id),
                submitted_at: Set(now),
                submitted_by: Set(actor.subject.clone()),
                ..Default::default()
            });
            observation::Entity::insert_many(models).exec_without_returning(&tx).await?;
        }
    }
    let Some(ret) = ret else {
        tx.rollback().await?;
        return Ok(outcome);
    };
    if outcome.accepted == 0 {
        // Nothing new: no return is created, and the outcome says every value is unchanged.
        tx.rollback().await?;
        return Ok(outcome);
    }
    let locked = locks::locked_among(&tx, &written).await?;
    if !locked.is_empty() {
        tx.rollback().await?;
        let errors = locked
            .into_iter()
            .map(|(slug, period)| {
                UserError::new(
                    &["values"],
                    UserErrorCode::PeriodLocked,
                    format!("{slug} for {period} was locked while this return was being written"),
                )
            })
            .collect();
        return Err(WriteError::Refused(errors));
    }
    if crate::db::abandoned() {
        tx.rollback().await?;
        return Err(WriteError::App(AppError::Internal("the caller went away: the return was rolled back".into())));
    }
    outcome.return_id = Some(ret.id);
    let stored = serde_json::to_string(&outcome).map_err(|e| WriteError::App(AppError::Internal(e.to_string())))?;
    let mut row = ret.into_active_model();
    row.outcome = Set(Some(stored));
    let ret = row.update(&tx).await?;
    let summary = serde_json::json!({ "return": ret.id, "accepted": outcome.accepted, "unchanged": outcome.unchanged, "status": ret.status });
    audit::record(&tx, actor, "submitReturn", EntityType::Return, ret.id, None, Some(&summary))
        .await
        .map_err(WriteError::App)?;
    tx.commit().await?;
    Ok(outcome)
}

/// Approves or rejects a return. The reviewer is an APPROVER whose area covers every value
/// of the return, and never the person who submitted it.
pub async fn review(
    db: &DatabaseConnection,
    actor: &Principal,
    return_id: i64,
    decision: ReturnStatus,
    note: Option<String>,
) -> AppResult<Result<return_::Model, Vec<UserError>>> {
    actor.require_role(Role::Approver)?;
    if let Some(c) = note.as_deref().and_then(|n| forbidden_character(n, Lines::Many)) {
        return Ok(Err(vec![UserError::new(
            &["note"],
            UserErrorCode::Invalid,
            format!("the note holds the control character {}, which is not allowed", describe_character(c)),
        )]));
    }
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Ok(Err(vec![UserError::new(
            &["note"],
            UserErrorCode::TooLong,
            format!("a note may have at most {MAX_NOTE} characters"),
        )]));
    }
    let tx = crate::db::begin_write(db).await?;
    let outcome = decide(&tx, actor, return_id, decision, note).await?;
    match &outcome {
        Ok(_) => tx.commit().await?,
        Err(_) => tx.rollback().await?,
    }
    Ok(outcome)
}

/// The review itself, inside its transaction; the caller commits or rolls back.
async fn decide(
    tx: &DatabaseTransaction,
    actor: &Principal,
    return_id: i64,
    decision: ReturnStatus,
    note: Option<String>,
) -> AppResult<Result<return_::Model, Vec<UserError>>> {
    let no = |code, message: String| Ok(Err(vec![UserError::new(&["id"], code, message)]));
    let Some(before) = return_::Entity::find_by_id(return_id).one(tx).await? else {
        return no(UserErrorCode::NotFound, format!("no return has the id {return_id}"));
    };
    if !sees_return(tx, actor, &before).await? {
        return no(UserErrorCode::NotFound, format!("no return has the id {return_id}"));
    }
    if before.status != ReturnStatus::Submitted.as_str() {
        return no(UserErrorCode::Conflict, format!("return {return_id} is already {}", before.status));
    }
    // Four eyes: the same subject is the same person whatever organisation a token names
    // (tokens of one issuer; the command line's script subjects name their organisation).
    if before.submitted_by == actor.subject {
        return no(UserErrorCode::NotAllowed, "a return is reviewed by someone other than its submitter".into());
    }
    let areas: HashSet<i64> = observation::Entity::find()
        .filter(observation::Column::ReturnId.eq(return_id))
        .all(tx)
        .await?
        .into_iter()
        .map(|o| o.geography_id)
        .collect();
    if !areas.iter().all(|a| actor.scope.contains(*a)) {
        return no(
            UserErrorCode::OutOfScope,
            format!("return {return_id} has values for areas outside the area of {}", actor.organisation.name),
        );
    }
    let reviewed_at = Utc::now();
    // Compare and set: the decision lands only on a return still in review, so two
    // reviewers deciding at once decide once, and the other is told.
    let changed = return_::Entity::update_many()
        .col_expr(return_::Column::Status, Expr::value(decision.as_str()))
        .col_expr(return_::Column::ReviewedAt, Expr::value(reviewed_at))
        .col_expr(return_::Column::ReviewedBy, Expr::value(actor.subject.clone()))
        .col_expr(return_::Column::ReviewNote, Expr::value(note))
        .filter(return_::Column::Id.eq(return_id))
        .filter(return_::Column::Status.eq(ReturnStatus::Submitted.as_str()))
        .exec(tx)
        .await?;
    if changed.rows_affected != 1 {
        return no(UserErrorCode::Conflict, format!("return {return_id} was decided by someone else meanwhile"));
    }
    let after = return_::Entity::find_by_id(return_id)
        .one(tx)
        .await?
        .ok_or_else(|| AppError::Internal(format!("return {return_id} vanished while it was reviewed")))?;
    let action = if decision == ReturnStatus::Approved { "approveReturn" } else { "rejectReturn" };
    let strip = |r: &return_::Model| serde_json::json!({ "status": r.status, "reviewedBy": r.reviewed_by, "reviewNote": r.review_note });
    audit::record(tx, actor, action, EntityType::Return, after.id, Some(&strip(&before)), Some(&strip(&after))).await?;
    Ok(Ok(after))
}

/// Filters of the `returns` list.
#[derive(Debug, Default, Clone)]
pub struct ReturnFilter {
    pub organisation: Option<i64>,
    pub status: Option<ReturnStatus>,
}

/// SQL: the returns the caller may see, those of organisations based in the areas whose work
/// in review it sees.
fn shown(visibility: &Visibility) -> sea_orm::sea_query::SimpleExpr {
    Expr::cust(format!("organisation_id IN ({})", visibility.organisations_in_review_areas()))
}

/// Returns the caller may see, oldest first; partners with a role only.
pub async fn list(
    db: &DatabaseConnection,
    filter: &ReturnFilter,
    visibility: &Visibility,
    args: PageArgs,
) -> AppResult<Page<return_::Model>> {
    let mut select = return_::Entity::find().filter(shown(visibility));
    if let Some(org) = filter.organisation {
        select = select.filter(return_::Column::OrganisationId.eq(org));
    }
    if let Some(status) = filter.status {
        select = select.filter(return_::Column::Status.eq(status.as_str()));
    }
    page::fetch(db, select, return_::Column::Id, |m| m.id, args).await
}

pub async fn by_ids(db: &DatabaseConnection, ids: &[i64], visibility: &Visibility) -> AppResult<Vec<return_::Model>> {
    if !visibility.partner() || ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(return_::Entity::find()
        .filter(return_::Column::Id.is_in(ids.iter().copied()))
        .filter(shown(visibility))
        .all(db)
        .await?)
}

/// Whether the actor may see (and so review) the return: it was submitted by an
/// organisation based within the actor's area.
async fn sees_return(tx: &DatabaseTransaction, actor: &Principal, ret: &return_::Model) -> Result<bool, DbErr> {
    let org = entity::organisation::Entity::find_by_id(ret.organisation_id).one(tx).await?;
    Ok(org.is_some_and(|o| actor.scope.contains(o.geography_id)))
}

/// The values a return carried.
pub async fn observations_of(
    db: &DatabaseConnection,
    return_id: i64,
    args: PageArgs,
) -> AppResult<Page<observation::Model>> {
    let select = observation::Entity::find().filter(observation::Column::ReturnId.eq(return_id));
    page::fetch(db, select, observation::Column::Id, |m| m.id, args).await
}
