//! Changes to measures (administrators only). The unit and period type are fixed once
//! created: values already submitted are in them.

use chrono::Utc;
use entity::{measure, series_break};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use crate::catalogue::checks::{Checks, MAX_NAME, MAX_TEXT};
use crate::{
    audit::{self, EntityType},
    auth::Principal,
    error::{AppResult, Outcome},
    values::{PeriodType, Polarity, Unit, UserErrorCode, ValueType},
};

use crate::catalogue::edit::{Change, begin, finish, refused};

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
    /// By default the type the unit implies ([`ValueType::for_unit`]).
    pub value_type: Option<ValueType>,
    pub suppress_up_to: Option<i32>,
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
    pub value_type: Option<ValueType>,
    pub suppress_up_to: Change<i32>,
}

/// The largest count a disclosure rule may hide.
pub const MAX_SUPPRESS_UP_TO: i32 = 100;

/// Whether values of `value_type` can be expressed in `unit`: proportions in percent,
/// rates in a rate per head, counts as counts.
pub fn fits_unit(value_type: ValueType, unit: Unit) -> bool {
    match value_type {
        ValueType::Proportion => unit == Unit::Percent,
        ValueType::CrudeRate | ValueType::DirectlyStandardisedRate => {
            matches!(unit, Unit::RatePer100 | Unit::RatePer1000 | Unit::RatePer100000)
        }
        ValueType::Count => unit == Unit::Count,
        ValueType::Mean | ValueType::Index => true,
    }
}

fn check_rules(c: &mut Checks, value_type: ValueType, unit: Unit, suppress_up_to: Option<i32>) {
    if !fits_unit(value_type, unit) {
        c.push(
            &["valueType"],
            UserErrorCode::Invalid,
            format!("a measure in {unit} cannot hold values of type {value_type}"),
        );
    }
    if let Some(n) = suppress_up_to
        && !(1..=MAX_SUPPRESS_UP_TO).contains(&n)
    {
        c.push(
            &["suppressUpTo"],
            UserErrorCode::Invalid,
            format!("`suppressUpTo` must be from 1 to {MAX_SUPPRESS_UP_TO}; {n} is not"),
        );
    }
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
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let mut c = Checks::default();
    let slug = c.slug("slug", &input.slug);
    let name = c.text("name", &input.name, MAX_NAME);
    let description = c.text("description", &input.description, MAX_TEXT);
    let source = c.optional_text("source", input.source.as_deref(), MAX_NAME);
    let (default_min, default_max) = default_bounds(input.unit);
    let (min, max) = (input.min_value.or(default_min), input.max_value.or(default_max));
    check_bounds(&mut c, min, max);
    let value_type = input.value_type.unwrap_or_else(|| ValueType::for_unit(input.unit));
    check_rules(&mut c, value_type, input.unit, input.suppress_up_to);
    let tx = begin(db).await?;
    if let Some(s) = &slug
        && crate::catalogue::measures::by_slug(&tx, s.as_str()).await?.is_some()
    {
        c.push(&["slug"], UserErrorCode::Taken, format!("a measure already has the slug '{s}'"));
    }
    let priority = match &input.priority {
        Some(p) => {
            let found = crate::catalogue::priorities::by_slug(&tx, p).await?;
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
        value_type: Set(value_type.as_str().to_owned()),
        suppress_up_to: Set(input.suppress_up_to),
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
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let mut c = Checks::default();
    let name = input.name.as_deref().map(|n| c.text("name", n, MAX_NAME));
    let description = input.description.as_deref().map(|d| c.text("description", d, MAX_TEXT));
    let source = input.source.as_ref().map(|s| c.optional_text("source", s.as_deref(), MAX_NAME));
    let tx = begin(db).await?;
    let Some(before) = crate::catalogue::measures::by_slug(&tx, &input.slug).await? else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no measure has the slug '{}'", input.slug));
    };
    let min = input.min_value.unwrap_or(before.min_value);
    let max = input.max_value.unwrap_or(before.max_value);
    check_bounds(&mut c, min, max);
    let unit = Unit::parse(&before.unit).map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    let value_type = match input.value_type {
        Some(t) => t,
        None => ValueType::parse(&before.value_type).map_err(|e| crate::error::AppError::Internal(e.to_string()))?,
    };
    let suppress_up_to = input.suppress_up_to.unwrap_or(before.suppress_up_to);
    check_rules(&mut c, value_type, unit, suppress_up_to);
    let priority = match &input.priority {
        Some(Some(p)) => {
            let found = crate::catalogue::priorities::by_slug(&tx, p).await?;
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
    row.value_type = Set(value_type.as_str().to_owned());
    row.suppress_up_to = Set(suppress_up_to);
    row.updated_at = Set(Utc::now());
    let after = row.update(&tx).await?;
    // What the disclosure rule hides depends on these two: the public's kept flags follow.
    if (after.value_type.as_str(), after.suppress_up_to) != (before.value_type.as_str(), before.suppress_up_to) {
        crate::picture::public_hidden::refresh_measure(&tx, after.id).await?;
    }
    audit::record(&tx, actor, "updateMeasure", EntityType::Measure, after.id, Some(&before), Some(&after)).await?;
    finish(tx, Ok(after)).await
}

/// The most series breaks one measure may have.
pub const MAX_SERIES_BREAKS: usize = 20;

/// Marks `period` as the first of a new definition of a measure: trends never reach back
/// past it. Marking a period already marked changes its note.
pub async fn mark_series_break(
    db: &DatabaseConnection,
    actor: &Principal,
    slug: &str,
    period: &str,
    note: &str,
) -> AppResult<Outcome<series_break::Model>> {
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let mut c = Checks::default();
    let note = c.text("note", note, MAX_TEXT);
    let tx = begin(db).await?;
    let Some(m) = crate::catalogue::measures::by_slug(&tx, slug).await? else {
        tx.rollback().await?;
        return refused(&["measure"], UserErrorCode::NotFound, format!("no measure has the slug '{slug}'"));
    };
    let period_type = PeriodType::parse(&m.period_type).map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    let start = match crate::values::Period::parse(period) {
        Ok(p) => match p.bounds(period_type) {
            Some(b) => Some(b.start),
            None => {
                c.push(&["period"], UserErrorCode::Invalid, format!("'{p}' is not a period of {period_type}"));
                None
            }
        },
        Err(e) => {
            c.push(&["period"], UserErrorCode::Invalid, e.0);
            None
        }
    };
    let existing = series_break::Entity::find().filter(series_break::Column::MeasureId.eq(m.id)).all(&tx).await?;
    let before = existing.iter().find(|b| b.period == period).cloned();
    if before.is_none() && existing.len() >= MAX_SERIES_BREAKS {
        c.push(&["period"], UserErrorCode::Invalid, format!("a measure has at most {MAX_SERIES_BREAKS} series breaks"));
    }
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let (Some(note), Some(start)) = (note, start) else { unreachable!("BUG: checks passed without values") };
    let row = match before.clone() {
        Some(b) => {
            let mut row = b.into_active_model();
            row.note = Set(note);
            row.update(&tx).await?
        }
        None => {
            series_break::ActiveModel {
                measure_id: Set(m.id),
                period: Set(period.to_owned()),
                period_start: Set(start),
                note: Set(note),
                created_at: Set(Utc::now()),
                created_by: Set(actor.subject.clone()),
                ..Default::default()
            }
            .insert(&tx)
            .await?
        }
    };
    audit::record(&tx, actor, "markSeriesBreak", EntityType::Measure, m.id, before.as_ref(), Some(&row)).await?;
    finish(tx, Ok(row)).await
}

/// Removes a series break; `NOT_FOUND` when the period is not marked.
pub async fn remove_series_break(
    db: &DatabaseConnection,
    actor: &Principal,
    slug: &str,
    period: &str,
) -> AppResult<Outcome<series_break::Model>> {
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let tx = begin(db).await?;
    let Some(m) = crate::catalogue::measures::by_slug(&tx, slug).await? else {
        tx.rollback().await?;
        return refused(&["measure"], UserErrorCode::NotFound, format!("no measure has the slug '{slug}'"));
    };
    let Some(found) = series_break::Entity::find()
        .filter(series_break::Column::MeasureId.eq(m.id))
        .filter(series_break::Column::Period.eq(period))
        .one(&tx)
        .await?
    else {
        tx.rollback().await?;
        return refused(&["period"], UserErrorCode::NotFound, format!("{slug} has no series break at '{period}'"));
    };
    series_break::Entity::delete_by_id(found.id).exec(&tx).await?;
    audit::record(
        &tx,
        actor,
        "removeSeriesBreak",
        EntityType::Measure,
        m.id,
        Some(&found),
        None::<&series_break::Model>,
    )
    .await?;
    finish(tx, Ok(found)).await
}
