//! Writing a checked return: its new revisions, in one transaction, a batch at a time.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::Utc;
use entity::{observation, return_};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait,
};

use sha2::{Digest, Sha256};

use super::validate::Rules;
use super::{BATCH, MAX_CHANGES, MAX_ERRORS, Rows, Submission, SubmitOutcome, ValidRow, ValueChange, locks};
use crate::{
    audit::{self, EntityType},
    auth::Principal,
    error::{AppError, AppResult, UserError},
    values::{ChangeKind, ReturnStatus, UserErrorCode},
};

/// Why a write stopped: the database (perhaps a race lost), a check inside the transaction
/// (a period locked meanwhile), or anything else.
pub(super) enum WriteError {
    Db(DbErr),
    Refused(Vec<UserError>),
    App(AppError),
}

impl From<DbErr> for WriteError {
    fn from(e: DbErr) -> Self {
        Self::Db(e)
    }
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
    if tx.get_database_backend() == DbBackend::Postgres {
        let mut out = HashMap::new();
        let keys: BTreeSet<(i64, i64, &str)> =
            rows.iter().map(|r| (r.measure_id, r.geography_id, r.period.as_str())).collect();
        let keys: Vec<_> = keys.into_iter().collect();
        for latest in super::bulk::latest(tx, &keys).await? {
            let (live, live_approved) = match latest.live {
                Some((o, status)) => (Some(o), status == ReturnStatus::Approved.as_str()),
                None => (None, false),
            };
            out.insert(latest.key, Current { live, live_approved, max_revision: latest.max_revision });
        }
        return Ok(out);
    }
    let mut out: HashMap<(i64, i64, String), Current> = HashMap::new();
    let mut note = |o: observation::Model, status: Option<&str>| {
        let entry = out.entry((o.measure_id, o.geography_id, o.period.clone())).or_default();
        entry.max_revision = entry.max_revision.max(o.revision);
        // Rows come in revision order: the last one not rejected (nor withdrawn) is current.
        let approved = status == Some(ReturnStatus::Approved.as_str());
        if approved || status == Some(ReturnStatus::Submitted.as_str()) {
            entry.live = Some(o);
            entry.live_approved = approved;
        }
    };
    for chunk in rows.chunks(BATCH) {
        let wanted: HashSet<(i64, i64, &str)> =
            chunk.iter().map(|r| (r.measure_id, r.geography_id, r.period.as_str())).collect();
        // Each list without repeats: a batch names few measures, areas and periods, and long
        // lists of repeats make the database scan the table rather than use its index.
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
        let statuses: HashMap<i64, String> = if return_ids.is_empty() {
            HashMap::new()
        } else {
            return_::Entity::find()
                .filter(return_::Column::Id.is_in(return_ids))
                .all(tx)
                .await?
                .into_iter()
                .map(|r| (r.id, r.status))
                .collect()
        };
        for o in found {
            let status = statuses.get(&o.return_id).map(String::as_str);
            note(o, status);
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

/// Reads, checks and writes the return in one pass: a blocking thread reads and checks the
/// rows (see `pass`) while this transaction writes the batch before, so the database and
/// the checks work at the same time. The return and its new revisions are written in one
/// transaction, or nothing is: a refused row rolls back everything written before it (or,
/// for a dry run, it works out what would be written and writes nothing). A return that
/// would carry no new value is not created. Periods locked while the return was being
/// written are checked again inside the transaction, under the measure's lock (see `locks`).
pub(super) async fn write(
    db: &DatabaseConnection,
    actor: &Principal,
    s: &Submission,
    rules: Rules,
    head: Vec<u8>,
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
                // Set with the outcome, once every row has been read.
                request_fingerprint: Set(None),
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
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let batch_size = if postgres { super::bulk::BATCH } else { BATCH };
    // Two batches in flight at most: the one being written and the one being checked.
    let (to_writer, mut batches) = tokio::sync::mpsc::channel::<Vec<ValidRow>>(1);
    let rows = s.rows.clone();
    let reader = tokio::task::spawn_blocking(move || pass(&rows, rules, &head, Some((to_writer, batch_size))));
    while let Some(batch) = batches.recv().await {
        if crate::db::abandoned() {
            drop(batches);
            tx.rollback().await?;
            return Err(WriteError::App(AppError::Internal("the caller went away: the return was rolled back".into())));
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
                    to_write.push((r, rev, live.map(|o| o.value)));
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
            if postgres {
                super::bulk::insert(&tx, &to_write, ret.id, now, &actor.subject).await?;
                continue;
            }
            // SQLite: a multi-row insert of at most `BATCH` rows (within its parameter limit).
            let models = to_write.iter().map(|(r, rev, replaced)| observation::ActiveModel {
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
                source_row: Set(Some(r.row)),
                replaced_value: Set(*replaced),
                ..Default::default()
            });
            observation::Entity::insert_many(models).exec_without_returning(&tx).await?;
        }
    }
    let read =
        reader.await.map_err(|e| WriteError::App(AppError::Internal(format!("reading a return failed: {e}"))))?;
    let read = read.map_err(WriteError::App)?;
    if read.count == 0 {
        tx.rollback().await?;
        return Ok(super::submit::refused(&["values"], UserErrorCode::Required, "a return needs at least one value"));
    }
    if read.rejected > 0 {
        tx.rollback().await?;
        let mut errors = read.errors;
        errors.sort_by_key(|e| e.row.unwrap_or(-1));
        return Ok(SubmitOutcome {
            rejected: read.rejected,
            user_errors: errors,
            user_errors_truncated: read.errors_truncated,
            ..SubmitOutcome::default()
        });
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
    row.request_fingerprint = Set(Some(read.print));
    let ret = row.update(&tx).await?;
    let summary = serde_json::json!({ "return": ret.id, "accepted": outcome.accepted, "unchanged": outcome.unchanged, "status": ret.status });
    audit::record(&tx, actor, "submitReturn", EntityType::Return, ret.id, None, Some(&summary))
        .await
        .map_err(WriteError::App)?;
    crate::webhooks::enqueue(&tx, &ret).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// What a pass over a return's rows found, beside the batches it handed on.
pub(super) struct Pass {
    pub errors: Vec<UserError>,
    pub errors_truncated: bool,
    pub rejected: i32,
    pub count: usize,
    /// The digest of the return (its organisation, note and rows), so that an idempotency
    /// key reused for other data is caught.
    pub print: String,
}

/// Reads and checks every row of `rows` (keeping only the keys seen, so any length fits in
/// bounded memory) and digests them. While no row has been refused, the valid rows go to
/// `batches`, `batch` at a time; the first problem stops that, and the rest are only checked.
/// Runs off the async runtime (a file of any length); when the receiver goes away, it stops.
pub(super) fn pass(
    rows: &Rows,
    mut rules: Rules,
    head: &[u8],
    batches: Option<(tokio::sync::mpsc::Sender<Vec<ValidRow>>, usize)>,
) -> AppResult<Pass> {
    let mut digest = Sha256::new();
    digest.update(head);
    let (mut errors, mut errors_truncated, mut rejected, mut count) = (Vec::new(), false, 0, 0usize);
    let mut sending = batches;
    let mut batch = Vec::new();
    for item in rows.open()? {
        count += 1;
        let problems = match item {
            Ok(raw) => {
                digest.update(serde_json::to_vec(&raw).unwrap_or_default());
                let mut found = Vec::new();
                if let Some(valid) = rules.check(&raw, &mut found)
                    && let Some((to, size)) = &sending
                {
                    batch.push(valid);
                    if batch.len() >= *size && to.blocking_send(std::mem::take(&mut batch)).is_err() {
                        // The writer stopped (a fault, or the caller went away): no need to go on.
                        return Err(AppError::Internal("the return's writer stopped".into()));
                    }
                }
                found
            }
            Err(problems) => problems,
        };
        if !problems.is_empty() {
            // Nothing of a refused return is written: stop handing rows on.
            sending = None;
            batch.clear();
            rejected += 1;
            let room = MAX_ERRORS.saturating_sub(errors.len());
            errors_truncated |= problems.len() > room;
            errors.extend(problems.into_iter().take(room));
        }
    }
    if let Some((to, _)) = &sending
        && !batch.is_empty()
    {
        let _ = to.blocking_send(batch);
    }
    let print = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Pass { errors, errors_truncated, rejected, count, print })
}
