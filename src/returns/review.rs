//! Reviewing a return: approve or reject, once, by someone other than its submitter.

use std::collections::HashSet;

use chrono::Utc;
use entity::{observation, return_};
use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, sea_query::Expr};

use super::MAX_NOTE;
use crate::{
    audit::{self, EntityType},
    auth::Principal,
    error::{AppError, AppResult, UserError},
    values::{Lines, ReturnStatus, Role, UserErrorCode, describe_character, forbidden_character},
};

/// Checks a reviewer's or submitter's note: no control characters, at most `MAX_NOTE`
/// characters.
fn note_problem(note: Option<&str>) -> Option<UserError> {
    if let Some(c) = note.and_then(|n| forbidden_character(n, Lines::Many)) {
        return Some(UserError::new(
            &["note"],
            UserErrorCode::Invalid,
            format!("the note holds the control character {}, which is not allowed", describe_character(c)),
        ));
    }
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Some(UserError::new(
            &["note"],
            UserErrorCode::TooLong,
            format!("a note may have at most {MAX_NOTE} characters"),
        ));
    }
    None
}

/// Withdraws a return its organisation sent by mistake, while it is still in review: it
/// becomes `WITHDRAWN` and its values never become current. A SUBMITTER of the submitting
/// organisation only; `reviewedAt`, `reviewedBy` and `reviewNote` say when, by whom and why.
pub async fn withdraw(
    db: &DatabaseConnection,
    actor: &Principal,
    return_id: i64,
    note: Option<String>,
) -> AppResult<Result<return_::Model, Vec<UserError>>> {
    actor.require_role(Role::Submitter)?;
    if let Some(problem) = note_problem(note.as_deref()) {
        return Ok(Err(vec![problem]));
    }
    let tx = crate::db::begin_write(db).await?;
    let no = |code, message: String| Ok(Err(vec![UserError::new(&["id"], code, message)]));
    let outcome: AppResult<Result<return_::Model, Vec<UserError>>> = async {
        let Some(before) = return_::Entity::find_by_id(return_id).one(&tx).await? else {
            return no(UserErrorCode::NotFound, format!("no return has the id {return_id}"));
        };
        if !sees_return(&tx, actor, &before).await? {
            return no(UserErrorCode::NotFound, format!("no return has the id {return_id}"));
        }
        if before.organisation_id != actor.organisation.id {
            return no(
                UserErrorCode::NotAllowed,
                format!("return {return_id} was sent by another organisation: only its own may withdraw it"),
            );
        }
        let changed = return_::Entity::update_many()
            .col_expr(return_::Column::Status, Expr::value(ReturnStatus::Withdrawn.as_str()))
            .col_expr(return_::Column::ReviewedAt, Expr::value(Utc::now()))
            .col_expr(return_::Column::ReviewedBy, Expr::value(actor.subject.clone()))
            .col_expr(return_::Column::ReviewNote, Expr::value(note.clone()))
            .filter(return_::Column::Id.eq(return_id))
            .filter(return_::Column::Status.eq(ReturnStatus::Submitted.as_str()))
            .exec(&tx)
            .await?;
        if changed.rows_affected != 1 {
            return no(
                UserErrorCode::Conflict,
                format!("return {return_id} is already {}: only a return in review can be withdrawn", before.status),
            );
        }
        let after = return_::Entity::find_by_id(return_id)
            .one(&tx)
            .await?
            .ok_or_else(|| AppError::Internal(format!("return {return_id} vanished while it was withdrawn")))?;
        let strip = |r: &return_::Model| serde_json::json!({ "status": r.status, "reviewNote": r.review_note });
        audit::record(
            &tx,
            actor,
            "withdrawReturn",
            EntityType::Return,
            after.id,
            Some(&strip(&before)),
            Some(&strip(&after)),
        )
        .await?;
        crate::webhooks::enqueue(&tx, &after).await?;
        Ok(Ok(after))
    }
    .await;
    match &outcome {
        Ok(Ok(_)) => tx.commit().await?,
        _ => tx.rollback().await?,
    }
    outcome
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
    if let Some(problem) = note_problem(note.as_deref()) {
        return Ok(Err(vec![problem]));
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
    if decision == ReturnStatus::Approved {
        crate::picture::load::approve_into_current(tx, return_id, reviewed_at).await?;
    }
    let action = if decision == ReturnStatus::Approved { "approveReturn" } else { "rejectReturn" };
    let strip = |r: &return_::Model| serde_json::json!({ "status": r.status, "reviewedBy": r.reviewed_by, "reviewNote": r.review_note });
    audit::record(tx, actor, action, EntityType::Return, after.id, Some(&strip(&before)), Some(&strip(&after))).await?;
    crate::webhooks::enqueue(tx, &after).await?;
    Ok(Ok(after))
}

/// Whether the actor may see (and so review) the return: it was submitted by an
/// organisation based within the actor's area.
async fn sees_return(tx: &DatabaseTransaction, actor: &Principal, ret: &return_::Model) -> Result<bool, DbErr> {
    let org = entity::organisation::Entity::find_by_id(ret.organisation_id).one(tx).await?;
    Ok(org.is_some_and(|o| actor.scope.contains(o.geography_id)))
}
