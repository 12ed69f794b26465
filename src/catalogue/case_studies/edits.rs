//! Changes to case studies, by partners within their own area; publishing needs an
//! APPROVER or ADMIN. An edit by someone who may not publish returns a published case study
//! to draft, so that nothing goes public unreviewed.

use chrono::Utc;
use entity::{case_study, case_study_geography, case_study_organisation, case_study_priority, organisation};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter,
};

use crate::catalogue::checks::{
    Checks, MAX_CASE_STUDY_AREAS, MAX_CASE_STUDY_ORGANISATIONS, MAX_CASE_STUDY_PRIORITIES, MAX_NAME, MAX_TEXT,
};
use crate::{
    audit::{self, EntityType},
    auth::Principal,
    error::{AppResult, Outcome},
    values::{Role, UserErrorCode},
};

use crate::catalogue::edit::{begin, finish, refused};

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
        match crate::catalogue::priorities::by_slug(tx, slug).await? {
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
        match crate::catalogue::geographies::by_code(tx, code).await? {
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

/// Whether every area of the case study lies in the actor's scope, the one rule for every
/// role (`auth::authority`: nobody reaches beside or above its own area). A study of no area
/// is London's.
async fn within_scope(tx: &DatabaseTransaction, actor: &Principal, study_id: i64) -> AppResult<bool> {
    if actor.is_london_wide() {
        return Ok(true);
    }
    let areas = case_study_geography::Entity::find()
        .filter(case_study_geography::Column::CaseStudyId.eq(study_id))
        .all(tx)
        .await?;
    Ok(!areas.is_empty() && areas.iter().all(|a| actor.scope.contains(a.geography_id)))
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
    let tx = begin(db).await?;
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
    let tx = begin(db).await?;
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
    let tx = begin(db).await?;
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
