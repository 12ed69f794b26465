//! Changes to the catalogue: priorities, commitments, measures and organisations (for
//! administrators) and case studies (for partners within their area). Each change is checked
//! whole, written in one transaction with its audit event, or refused with user errors and
//! nothing written. Roles are checked by the caller's guard; areas are checked here.

use chrono::Utc;
use entity::{
    case_study, case_study_geography, case_study_organisation, case_study_priority, commitment, geography, measure,
    organisation, organisation_member, priority,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};

use super::checks::{
    Checks, MAX_CASE_STUDY_AREAS, MAX_CASE_STUDY_ORGANISATIONS, MAX_CASE_STUDY_PRIORITIES, MAX_MEMBERS, MAX_NAME,
    MAX_TEXT,
};
use crate::{
    audit::{self, EntityType},
    auth::Principal,
    error::{AppResult, Outcome, UserError},
    values::{OrganisationKind, Period, PeriodType, Polarity, Role, Unit, UserErrorCode},
};

/// A change to an optional field: `None` leaves it, `Some(None)` clears it.
pub type Change<T> = Option<Option<T>>;

fn refused<T>(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> AppResult<Outcome<T>> {
    Ok(Err(vec![UserError::new(field, code, message)]))
}

/// Commits when the write was done, rolls back when it was refused.
async fn finish<T>(tx: DatabaseTransaction, outcome: Outcome<T>) -> AppResult<Outcome<T>> {
    match &outcome {
        Ok(_) => tx.commit().await?,
        Err(_) => tx.rollback().await?,
    }
    Ok(outcome)
}

// ---- priorities -------------------------------------------------------------------------

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

async fn priority_by_slug(tx: &DatabaseTransaction, slug: &str) -> AppResult<Option<priority::Model>> {
    Ok(priority::Entity::find().filter(priority::Column::Slug.eq(slug)).one(tx).await?)
}

pub async fn create_priority(
    db: &DatabaseConnection,
    actor: &Principal,
    input: NewPriority,
) -> AppResult<Outcome<priority::Model>> {
    let mut c = Checks::default();
    let slug = c.slug("slug", &input.slug);
    let title = c.text("title", &input.title, MAX_NAME);
    let ambition = c.text("ambition", &input.ambition, MAX_TEXT);
    let challenge = c.optional_text("challenge", input.challenge.as_deref(), MAX_TEXT);
    if input.number.is_some_and(|n| n < 1) {
        c.push(&["number"], UserErrorCode::Invalid, "`number` must be 1 or more");
    }
    let tx = crate::db::begin_write(db).await?;
    if let Some(s) = &slug
        && priority_by_slug(&tx, s.as_str()).await?.is_some()
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
    let mut c = Checks::default();
    let title = input.title.as_deref().map(|t| c.text("title", t, MAX_NAME));
    let ambition = input.ambition.as_deref().map(|t| c.text("ambition", t, MAX_TEXT));
    let challenge = input.challenge.as_ref().map(|t| c.optional_text("challenge", t.as_deref(), MAX_TEXT));
    let tx = crate::db::begin_write(db).await?;
    let Some(before) = priority_by_slug(&tx, &input.slug).await? else {
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

// ---- commitments ------------------------------------------------------------------------

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

async fn measure_by_slug(tx: &DatabaseTransaction, slug: &str) -> AppResult<Option<measure::Model>> {
    Ok(measure::Entity::find().filter(measure::Column::Slug.eq(slug)).one(tx).await?)
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
    let mut c = Checks::default();
    let slug = c.slug("slug", &input.slug);
    let statement = c.text("statement", &input.statement, MAX_TEXT);
    let tx = crate::db::begin_write(db).await?;
    let priority = priority_by_slug(&tx, &input.priority).await?;
    if priority.is_none() {
        c.push(&["priority"], UserErrorCode::NotFound, format!("no priority has the slug '{}'", input.priority));
    }
    let measure = match &input.measure {
        Some(m) => {
            let found = measure_by_slug(&tx, m).await?;
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
    let mut c = Checks::default();
    let statement = input.statement.as_deref().map(|s| c.text("statement", s, MAX_TEXT));
    let tx = crate::db::begin_write(db).await?;
    let Some(before) = commitment::Entity::find().filter(commitment::Column::Slug.eq(&input.slug)).one(&tx).await?
    else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no commitment has the slug '{}'", input.slug));
    };
    let measure = match &input.measure {
        Some(Some(m)) => {
            let found = measure_by_slug(&tx, m).await?;
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

// ---- measures ---------------------------------------------------------------------------

pub struct NewMeasure {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub unit: Unit,
    pub polarity: Polarity,
    pub period_type: PeriodType,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub priority: Option<String>,
    pub source: Option<String>,
}

/// The unit and period type are not changeable: values already submitted are in them.
pub struct MeasureChanges {
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub polarity: Option<Polarity>,
    pub min_value: Change<f64>,
    pub max_value: Change<f64>,
    pub priority: Change<String>,
    pub source: Change<String>,
}

/// The bounds a unit implies when none are given: percentages 0 to 100, differences of
/// percentages -100 to 100, rates, counts and years not negative.
pub fn default_bounds(unit: Unit) -> (Option<f64>, Option<f64>) {
    match unit {
        Unit::Percent => (Some(0.0), Some(100.0)),
        Unit::PercentagePoints => (Some(-100.0), Some(100.0)),
        Unit::RatePer100 | Unit::RatePer1000 | Unit::RatePer100000 | Unit::Count | Unit::Years => (Some(0.0), None),
    }
}

fn check_bounds(c: &mut Checks, min: Option<f64>, max: Option<f64>) {
    if let Some(v) = min {
        c.finite(&["minValue"], v);
    }
    if let Some(v) = max {
        c.finite(&["maxValue"], v);
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        c.push(&["minValue"], UserErrorCode::Invalid, format!("`minValue` {lo} is above `maxValue` {hi}"));
    }
}

pub async fn create_measure(
    db: &DatabaseConnection,
    actor: &Principal,
    input: NewMeasure,
) -> AppResult<Outcome<measure::Model>> {
    let mut c = Checks::default();
    let slug = c.slug("slug", &input.slug);
    let name = c.text("name", &input.name, MAX_NAME);
    let description = c.text("description", &input.description, MAX_TEXT);
    let source = c.optional_text("source", input.source.as_deref(), MAX_NAME);
    let (default_min, default_max) = default_bounds(input.unit);
    let (min, max) = (input.min_value.or(default_min), input.max_value.or(default_max));
    check_bounds(&mut c, min, max);
    let tx = crate::db::begin_write(db).await?;
    if let Some(s) = &slug
        && measure_by_slug(&tx, s.as_str()).await?.is_some()
    {
        c.push(&["slug"], UserErrorCode::Taken, format!("a measure already has the slug '{s}'"));
    }
    let priority = match &input.priority {
        Some(p) => {
            let found = priority_by_slug(&tx, p).await?;
            if found.is_none() {
                c.push(&["priority"], UserErrorCode::NotFound, format!("no priority has the slug '{p}'"));
            }
            found
        }
        None => None,
    };
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let (Some(slug), Some(name), Some(description), Some(source)) = (slug, name, description, source) else {
        unreachable!("BUG: checks passed without values")
    };
    let position =
        measure::Entity::find().order_by_desc(measure::Column::Position).one(&tx).await?.map_or(1, |m| m.position + 1);
    let now = Utc::now();
    let row = measure::ActiveModel {
        slug: Set(slug.to_string()),
        name: Set(name),
        description: Set(description),
        unit: Set(input.unit.as_str().to_owned()),
        polarity: Set(input.polarity.as_str().to_owned()),
        period_type: Set(input.period_type.as_str().to_owned()),
        min_value: Set(min),
        max_value: Set(max),
        whole_number: Set(input.unit == Unit::Count),
        priority_id: Set(priority.map(|p| p.id)),
        position: Set(position),
        source: Set(source),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    audit::record(&tx, actor, "createMeasure", EntityType::Measure, row.id, None, Some(&row)).await?;
    finish(tx, Ok(row)).await
}

pub async fn update_measure(
    db: &DatabaseConnection,
    actor: &Principal,
    input: MeasureChanges,
) -> AppResult<Outcome<measure::Model>> {
    let mut c = Checks::default();
    let name = input.name.as_deref().map(|n| c.text("name", n, MAX_NAME));
    let description = input.description.as_deref().map(|d| c.text("description", d, MAX_TEXT));
    let source = input.source.as_ref().map(|s| c.optional_text("source", s.as_deref(), MAX_NAME));
    let tx = crate::db::begin_write(db).await?;
    let Some(before) = measure_by_slug(&tx, &input.slug).await? else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no measure has the slug '{}'", input.slug));
    };
    let min = input.min_value.unwrap_or(before.min_value);
    let max = input.max_value.unwrap_or(before.max_value);
    check_bounds(&mut c, min, max);
    let priority = match &input.priority {
        Some(Some(p)) => {
            let found = priority_by_slug(&tx, p).await?;
            if found.is_none() {
                c.push(&["priority"], UserErrorCode::NotFound, format!("no priority has the slug '{p}'"));
            }
            found.map(|p| Some(p.id))
        }
        Some(None) => Some(None),
        None => None,
    };
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let mut row = before.clone().into_active_model();
    if let Some(Some(n)) = name {
        row.name = Set(n);
    }
    if let Some(Some(d)) = description {
        row.description = Set(d);
    }
    if let Some(p) = input.polarity {
        row.polarity = Set(p.as_str().to_owned());
    }
    if let Some(Some(s)) = source {
        row.source = Set(s);
    }
    if let Some(p) = priority {
        row.priority_id = Set(p);
    }
    row.min_value = Set(min);
    row.max_value = Set(max);
    row.updated_at = Set(Utc::now());
    let after = row.update(&tx).await?;
    audit::record(&tx, actor, "updateMeasure", EntityType::Measure, after.id, Some(&before), Some(&after)).await?;
    finish(tx, Ok(after)).await
}

// ---- organisations ----------------------------------------------------------------------

pub struct NewOrganisation {
    pub slug: String,
    pub name: String,
    pub kind: OrganisationKind,
    pub geography: String,
    pub description: Option<String>,
    pub website: Option<String>,
    pub members: Vec<String>,
}

pub struct OrganisationChanges {
    pub slug: String,
    pub name: Option<String>,
    pub kind: Option<OrganisationKind>,
    pub geography: Option<String>,
    pub description: Change<String>,
    pub website: Change<String>,
    /// The whole new list of members, replacing the old.
    pub members: Option<Vec<String>>,
}

/// An organisation and its members, as audit events record them.
#[derive(serde::Serialize)]
struct OrganisationRecord<'a> {
    #[serde(flatten)]
    organisation: &'a organisation::Model,
    members: Vec<String>,
}

async fn geography_by_code(tx: &DatabaseTransaction, code: &str) -> AppResult<Option<geography::Model>> {
    Ok(geography::Entity::find().filter(geography::Column::Code.eq(code)).one(tx).await?)
}

fn check_website(c: &mut Checks, website: Option<&str>) {
    if let Some(w) = website.map(str::trim).filter(|w| !w.is_empty())
        && !(w.starts_with("https://") || w.starts_with("http://"))
    {
        c.push(&["website"], UserErrorCode::Invalid, "`website` must be an http(s) address");
    }
}

/// The ids of the named member organisations; an unknown one is a user error.
async fn member_ids(
    tx: &DatabaseTransaction,
    c: &mut Checks,
    slugs: &[String],
    own: Option<&str>,
) -> AppResult<Vec<i64>> {
    let mut ids = Vec::new();
    if !c.at_most("members", slugs, MAX_MEMBERS) {
        return Ok(ids);
    }
    for (i, slug) in slugs.iter().enumerate() {
        let index = i.to_string();
        if Some(slug.as_str()) == own {
            c.push(&["members", &index], UserErrorCode::Invalid, "an organisation cannot be its own member");
            continue;
        }
        match organisation::Entity::find().filter(organisation::Column::Slug.eq(slug)).one(tx).await? {
            Some(o) if !ids.contains(&o.id) => ids.push(o.id),
            Some(_) => {}
            None => {
                c.push(&["members", &index], UserErrorCode::NotFound, format!("no organisation has the slug '{slug}'"))
            }
        }
    }
    Ok(ids)
}

async fn members_of(tx: &DatabaseTransaction, id: i64) -> AppResult<Vec<String>> {
    let links =
        organisation_member::Entity::find().filter(organisation_member::Column::OrganisationId.eq(id)).all(tx).await?;
    let ids: Vec<i64> = links.iter().map(|l| l.member_id).collect();
    let mut slugs: Vec<String> = organisation::Entity::find()
        .filter(organisation::Column::Id.is_in(ids))
        .all(tx)
        .await?
        .into_iter()
        .map(|o| o.slug)
        .collect();
    slugs.sort();
    Ok(slugs)
}

async fn set_members(tx: &DatabaseTransaction, id: i64, members: &[i64]) -> AppResult<()> {
    organisation_member::Entity::delete_many()
        .filter(organisation_member::Column::OrganisationId.eq(id))
        .exec(tx)
        .await?;
    for &m in members {
        let row = organisation_member::ActiveModel { organisation_id: Set(id), member_id: Set(m) };
        organisation_member::Entity::insert(row).exec_without_returning(tx).await?;
    }
    Ok(())
}

pub async fn create_organisation(
    db: &DatabaseConnection,
    actor: &Principal,
    input: NewOrganisation,
) -> AppResult<Outcome<organisation::Model>> {
    let mut c = Checks::default();
    let slug = c.slug("slug", &input.slug);
    let name = c.text("name", &input.name, MAX_NAME);
    let description = c.optional_text("description", input.description.as_deref(), MAX_TEXT);
    let website = c.optional_text("website", input.website.as_deref(), MAX_NAME);
    check_website(&mut c, input.website.as_deref());
    c.gss_code(&["geography"], &input.geography);
    let tx = crate::db::begin_write(db).await?;
    if let Some(s) = &slug
        && organisation::Entity::find().filter(organisation::Column::Slug.eq(s.as_str())).one(&tx).await?.is_some()
    {
        c.push(&["slug"], UserErrorCode::Taken, format!("an organisation already has the slug '{s}'"));
    }
    let area = geography_by_code(&tx, &input.geography).await?;
    if area.is_none() {
        c.push(&["geography"], UserErrorCode::NotFound, format!("no geography has the code '{}'", input.geography));
    }
    let members = member_ids(&tx, &mut c, &input.members, Some(&input.slug)).await?;
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let (Some(slug), Some(name), Some(description), Some(website), Some(area)) =
        (slug, name, description, website, area)
    else {
        unreachable!("BUG: checks passed without values")
    };
    let now = Utc::now();
    let row = organisation::ActiveModel {
        slug: Set(slug.to_string()),
        name: Set(name),
        kind: Set(input.kind.as_str().to_owned()),
        geography_id: Set(area.id),
        description: Set(description),
        website: Set(website),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    set_members(&tx, row.id, &members).await?;
    let after = OrganisationRecord { organisation: &row, members: members_of(&tx, row.id).await? };
    audit::record(&tx, actor, "createOrganisation", EntityType::Organisation, row.id, None, Some(&after)).await?;
    finish(tx, Ok(row)).await
}

pub async fn update_organisation(
    db: &DatabaseConnection,
    actor: &Principal,
    input: OrganisationChanges,
) -> AppResult<Outcome<organisation::Model>> {
    let mut c = Checks::default();
    let name = input.name.as_deref().map(|n| c.text("name", n, MAX_NAME));
    let description = input.description.as_ref().map(|d| c.optional_text("description", d.as_deref(), MAX_TEXT));
    let website = input.website.as_ref().map(|w| {
        check_website(&mut c, w.as_deref());
        c.optional_text("website", w.as_deref(), MAX_NAME)
    });
    let tx = crate::db::begin_write(db).await?;
    let Some(before) = organisation::Entity::find().filter(organisation::Column::Slug.eq(&input.slug)).one(&tx).await?
    else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no organisation has the slug '{}'", input.slug));
    };
    let area = match &input.geography {
        Some(code) => {
            let found = geography_by_code(&tx, code).await?;
            if found.is_none() {
                c.push(&["geography"], UserErrorCode::NotFound, format!("no geography has the code '{code}'"));
            }
            found
        }
        None => None,
    };
    let members = match &input.members {
        Some(list) => Some(member_ids(&tx, &mut c, list, Some(&input.slug)).await?),
        None => None,
    };
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let before_record =
        serde_json::to_value(OrganisationRecord { organisation: &before, members: members_of(&tx, before.id).await? })
            .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    let mut row = before.clone().into_active_model();
    if let Some(Some(n)) = name {
        row.name = Set(n);
    }
    if let Some(k) = input.kind {
        row.kind = Set(k.as_str().to_owned());
    }
    if let Some(a) = area {
        row.geography_id = Set(a.id);
    }
    if let Some(Some(d)) = description {
        row.description = Set(d);
    }
    if let Some(Some(w)) = website {
        row.website = Set(w);
    }
    row.updated_at = Set(Utc::now());
    let after = row.update(&tx).await?;
    if let Some(m) = &members {
        set_members(&tx, after.id, m).await?;
    }
    let after_record =
        serde_json::to_value(OrganisationRecord { organisation: &after, members: members_of(&tx, after.id).await? })
            .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    audit::record(
        &tx,
        actor,
        "updateOrganisation",
        EntityType::Organisation,
        after.id,
        Some(&before_record),
        Some(&after_record),
    )
    .await?;
    finish(tx, Ok(after)).await
}

// ---- case studies -----------------------------------------------------------------------

pub struct NewCaseStudy {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub priorities: Vec<String>,
    pub geographies: Vec<String>,
    pub organisations: Vec<String>,
}

pub struct CaseStudyChanges {
    pub slug: String,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub priorities: Option<Vec<String>>,
    pub geographies: Option<Vec<String>>,
    pub organisations: Option<Vec<String>>,
}

/// A case study and its links, as audit events record them.
#[derive(serde::Serialize)]
struct CaseStudyRecord {
    #[serde(flatten)]
    case_study: case_study::Model,
    priorities: Vec<i64>,
    geographies: Vec<i64>,
    organisations: Vec<i64>,
}

async fn case_study_record(tx: &DatabaseTransaction, study: case_study::Model) -> AppResult<CaseStudyRecord> {
    let id = study.id;
    let priorities = case_study_priority::Entity::find()
        .filter(case_study_priority::Column::CaseStudyId.eq(id))
        .all(tx)
        .await?
        .into_iter()
        .map(|l| l.priority_id)
        .collect();
    let geographies = case_study_geography::Entity::find()
        .filter(case_study_geography::Column::CaseStudyId.eq(id))
        .all(tx)
        .await?
        .into_iter()
        .map(|l| l.geography_id)
        .collect();
    let organisations = case_study_organisation::Entity::find()
        .filter(case_study_organisation::Column::CaseStudyId.eq(id))
        .all(tx)
        .await?
        .into_iter()
        .map(|l| l.organisation_id)
        .collect();
    Ok(CaseStudyRecord { case_study: study, priorities, geographies, organisations })
}

/// The ids of the named priorities, areas and organisations; each unknown name, and each
/// area outside the actor's scope, is a user error.
struct Links {
    priorities: Vec<i64>,
    geographies: Vec<i64>,
    organisations: Vec<i64>,
}

async fn resolve_links(
    tx: &DatabaseTransaction,
    c: &mut Checks,
    actor: &Principal,
    priorities: &[String],
    geographies: Option<&[String]>,
    organisations: &[String],
) -> AppResult<Links> {
    let mut links = Links { priorities: Vec::new(), geographies: Vec::new(), organisations: Vec::new() };
    let within = c.at_most("priorities", priorities, MAX_CASE_STUDY_PRIORITIES)
        & c.at_most("geographies", geographies.unwrap_or_default(), MAX_CASE_STUDY_AREAS)
        & c.at_most("organisations", organisations, MAX_CASE_STUDY_ORGANISATIONS);
    if !within {
        return Ok(links);
    }
    for (i, slug) in priorities.iter().enumerate() {
        match priority_by_slug(tx, slug).await? {
            Some(p) => links.priorities.push(p.id),
            None => c.push(
                &["priorities", &i.to_string()],
                UserErrorCode::NotFound,
                format!("no priority has the slug '{slug}'"),
            ),
        }
    }
    // A case study is always somewhere: a list of areas, when given, names at least one.
    if geographies.is_some_and(<[String]>::is_empty) {
        c.push(&["geographies"], UserErrorCode::Required, "name at least one area (ONS code) the case study is in");
    }
    for (i, code) in geographies.unwrap_or_default().iter().enumerate() {
        let index = i.to_string();
        match geography_by_code(tx, code).await? {
            Some(g) if actor.scope.contains(g.id) => links.geographies.push(g.id),
            Some(g) => c.push(
                &["geographies", &index],
                UserErrorCode::OutOfScope,
                format!("{} ({code}) is outside the area of {}", g.name, actor.organisation.name),
            ),
            None => {
                c.push(&["geographies", &index], UserErrorCode::NotFound, format!("no geography has the code '{code}'"))
            }
        }
    }
    for (i, slug) in organisations.iter().enumerate() {
        match organisation::Entity::find().filter(organisation::Column::Slug.eq(slug)).one(tx).await? {
            Some(o) => links.organisations.push(o.id),
            None => c.push(
                &["organisations", &i.to_string()],
                UserErrorCode::NotFound,
                format!("no organisation has the slug '{slug}'"),
            ),
        }
    }
    links.priorities.dedup();
    links.geographies.dedup();
    links.organisations.dedup();
    Ok(links)
}

async fn replace_links(tx: &DatabaseTransaction, id: i64, links: &Links, which: (bool, bool, bool)) -> AppResult<()> {
    if which.0 {
        case_study_priority::Entity::delete_many()
            .filter(case_study_priority::Column::CaseStudyId.eq(id))
            .exec(tx)
            .await?;
        for &p in &links.priorities {
            let row = case_study_priority::ActiveModel { case_study_id: Set(id), priority_id: Set(p) };
            case_study_priority::Entity::insert(row).exec_without_returning(tx).await?;
        }
    }
    if which.1 {
        case_study_geography::Entity::delete_many()
            .filter(case_study_geography::Column::CaseStudyId.eq(id))
            .exec(tx)
            .await?;
        for &g in &links.geographies {
            let row = case_study_geography::ActiveModel { case_study_id: Set(id), geography_id: Set(g) };
            case_study_geography::Entity::insert(row).exec_without_returning(tx).await?;
        }
    }
    if which.2 {
        case_study_organisation::Entity::delete_many()
            .filter(case_study_organisation::Column::CaseStudyId.eq(id))
            .exec(tx)
            .await?;
        for &o in &links.organisations {
            let row = case_study_organisation::ActiveModel { case_study_id: Set(id), organisation_id: Set(o) };
            case_study_organisation::Entity::insert(row).exec_without_returning(tx).await?;
        }
    }
    Ok(())
}

/// Whether every area of the case study lies in the actor's scope (administrators' scope is
/// not limited here).
async fn within_scope(tx: &DatabaseTransaction, actor: &Principal, study_id: i64) -> AppResult<bool> {
    if actor.has_role(Role::Admin) {
        return Ok(true);
    }
    let areas = case_study_geography::Entity::find()
        .filter(case_study_geography::Column::CaseStudyId.eq(study_id))
        .all(tx)
        .await?;
    Ok(areas.iter().all(|a| actor.scope.contains(a.geography_id)))
}

async fn case_study_by_slug(tx: &DatabaseTransaction, slug: &str) -> AppResult<Option<case_study::Model>> {
    Ok(case_study::Entity::find().filter(case_study::Column::Slug.eq(slug)).one(tx).await?)
}

/// A new case study, unpublished, owned by the actor's organisation.
pub async fn create_case_study(
    db: &DatabaseConnection,
    actor: &Principal,
    input: NewCaseStudy,
) -> AppResult<Outcome<case_study::Model>> {
    let mut c = Checks::default();
    let slug = c.slug("slug", &input.slug);
    let title = c.text("title", &input.title, MAX_NAME);
    let summary = c.text("summary", &input.summary, MAX_TEXT);
    let body = c.text("body", &input.body, MAX_TEXT);
    let tx = crate::db::begin_write(db).await?;
    if let Some(s) = &slug
        && case_study_by_slug(&tx, s.as_str()).await?.is_some()
    {
        c.push(&["slug"], UserErrorCode::Taken, format!("a case study already has the slug '{s}'"));
    }
    let links =
        resolve_links(&tx, &mut c, actor, &input.priorities, Some(&input.geographies), &input.organisations).await?;
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let (Some(slug), Some(title), Some(summary), Some(body)) = (slug, title, summary, body) else {
        unreachable!("BUG: checks passed without values")
    };
    let now = Utc::now();
    let row = case_study::ActiveModel {
        slug: Set(slug.to_string()),
        title: Set(title),
        summary: Set(summary),
        body: Set(body),
        published: Set(false),
        published_at: Set(None),
        owner_organisation_id: Set(Some(actor.organisation.id)),
        source: Set(Some(format!("submitted by {}", actor.organisation.name))),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    replace_links(&tx, row.id, &links, (true, true, true)).await?;
    let after = case_study_record(&tx, row.clone()).await?;
    audit::record(&tx, actor, "createCaseStudy", EntityType::CaseStudy, row.id, None, Some(&after)).await?;
    finish(tx, Ok(row)).await
}

/// Changes a case study within the actor's area. An edit by someone who may not publish
/// returns a published case study to draft, so that nothing goes public unreviewed.
pub async fn update_case_study(
    db: &DatabaseConnection,
    actor: &Principal,
    input: CaseStudyChanges,
) -> AppResult<Outcome<case_study::Model>> {
    let mut c = Checks::default();
    let title = input.title.as_deref().map(|t| c.text("title", t, MAX_NAME));
    let summary = input.summary.as_deref().map(|t| c.text("summary", t, MAX_TEXT));
    let body = input.body.as_deref().map(|t| c.text("body", t, MAX_TEXT));
    let tx = crate::db::begin_write(db).await?;
    let Some(before) = case_study_by_slug(&tx, &input.slug).await? else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no case study has the slug '{}'", input.slug));
    };
    if !within_scope(&tx, actor, before.id).await? {
        tx.rollback().await?;
        return refused(
            &["slug"],
            UserErrorCode::OutOfScope,
            format!("the case study '{}' covers areas outside the area of {}", before.slug, actor.organisation.name),
        );
    }
    let links = resolve_links(
        &tx,
        &mut c,
        actor,
        input.priorities.as_deref().unwrap_or_default(),
        input.geographies.as_deref(),
        input.organisations.as_deref().unwrap_or_default(),
    )
    .await?;
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let before_record = case_study_record(&tx, before.clone()).await?;
    let mut row = before.clone().into_active_model();
    if let Some(Some(t)) = title {
        row.title = Set(t);
    }
    if let Some(Some(s)) = summary {
        row.summary = Set(s);
    }
    if let Some(Some(b)) = body {
        row.body = Set(b);
    }
    if before.published && !(actor.has_role(Role::Approver) || actor.has_role(Role::Admin)) {
        row.published = Set(false);
        row.published_at = Set(None);
    }
    row.updated_at = Set(Utc::now());
    let after = row.update(&tx).await?;
    let which = (input.priorities.is_some(), input.geographies.is_some(), input.organisations.is_some());
    replace_links(&tx, after.id, &links, which).await?;
    let after_record = case_study_record(&tx, after.clone()).await?;
    audit::record(
        &tx,
        actor,
        "updateCaseStudy",
        EntityType::CaseStudy,
        after.id,
        Some(&before_record),
        Some(&after_record),
    )
    .await?;
    finish(tx, Ok(after)).await
}

/// Publishes a case study whose areas all lie in the actor's area.
pub async fn publish_case_study(
    db: &DatabaseConnection,
    actor: &Principal,
    slug: &str,
) -> AppResult<Outcome<case_study::Model>> {
    let tx = crate::db::begin_write(db).await?;
    let Some(before) = case_study_by_slug(&tx, slug).await? else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no case study has the slug '{slug}'"));
    };
    if !within_scope(&tx, actor, before.id).await? {
        tx.rollback().await?;
        return refused(
            &["slug"],
            UserErrorCode::OutOfScope,
            format!("the case study '{slug}' covers areas outside the area of {}", actor.organisation.name),
        );
    }
    if before.published {
        tx.rollback().await?;
        return Ok(Ok(before));
    }
    let mut row = before.clone().into_active_model();
    let now = Utc::now();
    row.published = Set(true);
    row.published_at = Set(Some(now));
    row.updated_at = Set(now);
    let after = row.update(&tx).await?;
    audit::record(&tx, actor, "publishCaseStudy", EntityType::CaseStudy, after.id, Some(&before), Some(&after)).await?;
    finish(tx, Ok(after)).await
}
