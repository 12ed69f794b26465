//! Changes to priorities and their commitments (administrators only), each written whole with its audit event.

use chrono::Utc;
use entity::{commitment, measure, priority};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use crate::catalogue::checks::{Checks, MAX_NAME, MAX_TEXT};
use crate::{
    audit::{self, EntityType},
    auth::Principal,
    error::{AppResult, Outcome},
    values::{Period, PeriodType, UserErrorCode},
};

use crate::catalogue::edit::{Change, begin, finish, refused};

pub struct NewPriority {
    pub slug: String,
    pub number: Option<i32>,
    pub title: String,
    pub ambition: String,
    pub challenge: Option<String>,
}

pub struct PriorityChanges {
    pub slug: String,
    pub title: Option<String>,
    pub ambition: Option<String>,
    pub challenge: Change<String>,
}

pub async fn create_priority(
    db: &DatabaseConnection,
    actor: &Principal,
    input: NewPriority,
) -> AppResult<Outcome<priority::Model>> {
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let mut c = Checks::default();
    let slug = c.slug("slug", &input.slug);
    let title = c.text("title", &input.title, MAX_NAME);
    let ambition = c.text("ambition", &input.ambition, MAX_TEXT);
    let challenge = c.optional_text("challenge", input.challenge.as_deref(), MAX_TEXT);
    if input.number.is_some_and(|n| n < 1) {
        c.push(&["number"], UserErrorCode::Invalid, "`number` must be 1 or more");
    }
    let tx = begin(db).await?;
    if let Some(s) = &slug
        && crate::catalogue::priorities::by_slug(&tx, s.as_str()).await?.is_some()
    {
        c.push(&["slug"], UserErrorCode::Taken, format!("a priority already has the slug '{s}'"));
    }
    let last = priority::Entity::find().order_by_desc(priority::Column::Number).one(&tx).await?;
    let number = input.number.unwrap_or_else(|| last.map_or(1, |p| p.number + 1));
    if priority::Entity::find().filter(priority::Column::Number.eq(number)).one(&tx).await?.is_some() {
        c.push(&["number"], UserErrorCode::Taken, format!("priority number {number} is taken"));
    }
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let (Some(slug), Some(title), Some(ambition), Some(challenge)) = (slug, title, ambition, challenge) else {
        unreachable!("BUG: checks passed without values")
    };
    let now = Utc::now();
    let row = priority::ActiveModel {
        slug: Set(slug.to_string()),
        number: Set(number),
        title: Set(title),
        ambition: Set(ambition),
        challenge: Set(challenge),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    audit::record(&tx, actor, "createPriority", EntityType::Priority, row.id, None, Some(&row)).await?;
    finish(tx, Ok(row)).await
}

pub async fn update_priority(
    db: &DatabaseConnection,
    actor: &Principal,
    input: PriorityChanges,
) -> AppResult<Outcome<priority::Model>> {
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let mut c = Checks::default();
    let title = input.title.as_deref().map(|t| c.text("title", t, MAX_NAME));
    let ambition = input.ambition.as_deref().map(|t| c.text("ambition", t, MAX_TEXT));
    let challenge = input.challenge.as_ref().map(|t| c.optional_text("challenge", t.as_deref(), MAX_TEXT));
    let tx = begin(db).await?;
    let Some(before) = crate::catalogue::priorities::by_slug(&tx, &input.slug).await? else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no priority has the slug '{}'", input.slug));
    };
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let mut row = before.clone().into_active_model();
    if let Some(Some(t)) = title {
        row.title = Set(t);
    }
    if let Some(Some(a)) = ambition {
        row.ambition = Set(a);
    }
    if let Some(Some(ch)) = challenge {
        row.challenge = Set(ch);
    }
    row.updated_at = Set(Utc::now());
    let after = row.update(&tx).await?;
    audit::record(&tx, actor, "updatePriority", EntityType::Priority, after.id, Some(&before), Some(&after)).await?;
    finish(tx, Ok(after)).await
}

/// A baseline or target as stated: a value, the period it is for, and where it comes from.
#[derive(Debug, Clone)]
pub struct StatedValue {
    pub value: f64,
    pub period: Option<Period>,
    pub note: Option<String>,
}

pub struct NewCommitment {
    pub priority: String,
    pub slug: String,
    pub statement: String,
    pub measure: Option<String>,
    pub baseline: Option<StatedValue>,
    pub target: Option<StatedValue>,
}

pub struct CommitmentChanges {
    pub slug: String,
    pub statement: Option<String>,
    pub measure: Change<String>,
    pub baseline: Change<StatedValue>,
    pub target: Change<StatedValue>,
}

/// Checks a stated value against the measure's period type.
fn stated(c: &mut Checks, field: &str, v: &StatedValue, period_type: Option<PeriodType>) {
    c.finite(&[field, "value"], v.value);
    if let Some(p) = &v.period {
        c.target_period(&[field, "period"], p, period_type);
    }
    if let Some(note) = &v.note {
        c.optional_text(field, Some(note), MAX_TEXT);
    }
}

fn period_type_of(m: &measure::Model) -> Option<PeriodType> {
    PeriodType::parse(&m.period_type).ok()
}

pub async fn create_commitment(
    db: &DatabaseConnection,
    actor: &Principal,
    input: NewCommitment,
) -> AppResult<Outcome<commitment::Model>> {
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let mut c = Checks::default();
    let slug = c.slug("slug", &input.slug);
    let statement = c.text("statement", &input.statement, MAX_TEXT);
    let tx = begin(db).await?;
    let priority = crate::catalogue::priorities::by_slug(&tx, &input.priority).await?;
    if priority.is_none() {
        c.push(&["priority"], UserErrorCode::NotFound, format!("no priority has the slug '{}'", input.priority));
    }
    let measure = match &input.measure {
        Some(m) => {
            let found = crate::catalogue::measures::by_slug(&tx, m).await?;
            if found.is_none() {
                c.push(&["measure"], UserErrorCode::NotFound, format!("no measure has the slug '{m}'"));
            }
            found
        }
        None => None,
    };
    let period_type = measure.as_ref().and_then(period_type_of);
    for (field, v) in [("baseline", &input.baseline), ("target", &input.target)] {
        if let Some(v) = v {
            stated(&mut c, field, v, period_type);
        }
    }
    if let Some(s) = &slug
        && commitment::Entity::find().filter(commitment::Column::Slug.eq(s.as_str())).one(&tx).await?.is_some()
    {
        c.push(&["slug"], UserErrorCode::Taken, format!("a commitment already has the slug '{s}'"));
    }
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let (Some(slug), Some(statement), Some(priority)) = (slug, statement, priority) else {
        unreachable!("BUG: checks passed without values")
    };
    let position = commitment::Entity::find()
        .filter(commitment::Column::PriorityId.eq(priority.id))
        .order_by_desc(commitment::Column::Position)
        .one(&tx)
        .await?
        .map_or(1, |c| c.position + 1);
    let now = Utc::now();
    let (b, t) = (input.baseline.as_ref(), input.target.as_ref());
    let row = commitment::ActiveModel {
        slug: Set(slug.to_string()),
        priority_id: Set(priority.id),
        position: Set(position),
        statement: Set(statement),
        measure_id: Set(measure.map(|m| m.id)),
        baseline_value: Set(b.map(|v| v.value)),
        baseline_period: Set(b.and_then(|v| v.period.as_ref().map(ToString::to_string))),
        baseline_note: Set(b.and_then(|v| v.note.clone())),
        target_value: Set(t.map(|v| v.value)),
        target_period: Set(t.and_then(|v| v.period.as_ref().map(ToString::to_string))),
        target_note: Set(t.and_then(|v| v.note.clone())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    audit::record(&tx, actor, "createCommitment", EntityType::Commitment, row.id, None, Some(&row)).await?;
    finish(tx, Ok(row)).await
}

pub async fn update_commitment(
    db: &DatabaseConnection,
    actor: &Principal,
    input: CommitmentChanges,
) -> AppResult<Outcome<commitment::Model>> {
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let mut c = Checks::default();
    let statement = input.statement.as_deref().map(|s| c.text("statement", s, MAX_TEXT));
    let tx = begin(db).await?;
    let Some(before) = commitment::Entity::find().filter(commitment::Column::Slug.eq(&input.slug)).one(&tx).await?
    else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no commitment has the slug '{}'", input.slug));
    };
    let measure = match &input.measure {
        Some(Some(m)) => {
            let found = crate::catalogue::measures::by_slug(&tx, m).await?;
            if found.is_none() {
                c.push(&["measure"], UserErrorCode::NotFound, format!("no measure has the slug '{m}'"));
            }
            found
        }
        Some(None) => None,
        None => match before.measure_id {
            Some(id) => measure::Entity::find_by_id(id).one(&tx).await?,
            None => None,
        },
    };
    let period_type = measure.as_ref().and_then(period_type_of);
    for (field, v) in [("baseline", &input.baseline), ("target", &input.target)] {
        if let Some(Some(v)) = v {
            stated(&mut c, field, v, period_type);
        }
    }
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let mut row = before.clone().into_active_model();
    if let Some(Some(s)) = statement {
        row.statement = Set(s);
    }
    if input.measure.is_some() {
        row.measure_id = Set(measure.map(|m| m.id));
    }
    if let Some(b) = &input.baseline {
        row.baseline_value = Set(b.as_ref().map(|v| v.value));
        row.baseline_period = Set(b.as_ref().and_then(|v| v.period.as_ref().map(ToString::to_string)));
        row.baseline_note = Set(b.as_ref().and_then(|v| v.note.clone()));
    }
    if let Some(t) = &input.target {
        row.target_value = Set(t.as_ref().map(|v| v.value));
        row.target_period = Set(t.as_ref().and_then(|v| v.period.as_ref().map(ToString::to_string)));
        row.target_note = Set(t.as_ref().and_then(|v| v.note.clone()));
    }
    row.updated_at = Set(Utc::now());
    let after = row.update(&tx).await?;
    audit::record(&tx, actor, "updateCommitment", EntityType::Commitment, after.id, Some(&before), Some(&after))
        .await?;
    finish(tx, Ok(after)).await
}
