//! Submitting a return: check every row (a first pass off the async runtime), answer a
//! replayed key with its first result, then write, trying again while other writers hold
//! what it needs.

use std::collections::HashSet;

use entity::return_;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::validate::{Reference, Rules};
use super::write::{WriteError, pass, write};
use super::{MAX_NOTE, Submission, SubmitOutcome, WRITE_PATIENCE};
use crate::{
    auth::Principal,
    db::{Fault, fault},
    error::{AppError, AppResult, UserError},
    values::{Lines, ReturnStatus, Role, UserErrorCode, describe_character, forbidden_character},
};

pub(super) fn refused(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> SubmitOutcome {
    SubmitOutcome { user_errors: vec![UserError::new(field, code, message)], ..SubmitOutcome::default() }
}

/// Submits a return for the caller's organisation. Expected problems are answered in the
/// outcome's `user_errors`; only faults are errors.
///
/// `reference` is what the rows are checked against (`Reference`): the directory's, or read
/// afresh by a caller without one.
pub async fn submit(
    db: &DatabaseConnection,
    reference: Reference,
    actor: &Principal,
    submission: Submission,
) -> AppResult<SubmitOutcome> {
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
        measures: reference.measures,
        geographies: reference.geographies,
        locks: reference.locks,
        scope: actor.scope.clone(),
        seen: HashSet::new(),
    };
    let head = serde_json::to_vec(&(&submission.organisation, &submission.note)).unwrap_or_default();
    if !submission.dry_run
        && let Some(earlier) = replay(db, actor, &submission, &rules, &head).await?
    {
        return Ok(earlier);
    }

    // One pass: read, check and write, trying again while other writers hold what it needs.
    let started = std::time::Instant::now();
    for attempt in 1u64.. {
        if crate::db::abandoned() {
            return Err(AppError::Internal("the caller went away before the return was written".into()));
        }
        match write(db, actor, &submission, rules.clone(), head.clone()).await {
            Ok(outcome) => return Ok(outcome),
            Err(WriteError::Db(e)) if matches!(fault(&e), Fault::Contention | Fault::Unique) => {
                if started.elapsed() >= WRITE_PATIENCE {
                    tracing::warn!(error = %e, attempt, "a return gave up waiting for other writers");
                    return Err(AppError::busy());
                }
                if !submission.dry_run
                    && let Some(earlier) = replay(db, actor, &submission, &rules, &head).await?
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

/// The stored outcome of an earlier return with the same key from the same organisation.
async fn replay(
    db: &DatabaseConnection,
    actor: &Principal,
    s: &Submission,
    rules: &Rules,
    head: &[u8],
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
    if earlier.status == ReturnStatus::Rejected.as_str() || earlier.status == ReturnStatus::Withdrawn.as_str() {
        let how = if earlier.status == ReturnStatus::Rejected.as_str() { "rejected" } else { "withdrawn" };
        let why = earlier.review_note.as_deref().map(|n| format!(" ('{n}')")).unwrap_or_default();
        return Ok(Some(refused(
            &["idempotencyKey"],
            UserErrorCode::ReturnClosed,
            format!(
                "the key '{key}' was used for return {}, which was {how}{why}: nothing was written; to send \
                 these values again (corrected, or as they are), use a new idempotency key",
                earlier.id
            ),
        )));
    }
    // The same key again: the same return only if its rows are the same (read off the
    // async runtime: a file of any length).
    let (rows, rules, head) = (s.rows.clone(), rules.clone(), head.to_vec());
    let read = tokio::task::spawn_blocking(move || pass(&rows, rules, &head, None))
        .await
        .map_err(|e| AppError::Internal(format!("reading a return failed: {e}")))??;
    if earlier.request_fingerprint.as_deref() != Some(read.print.as_str()) {
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
