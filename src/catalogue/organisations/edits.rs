//! Changes to organisations and their members (administrators only).

use chrono::Utc;
use entity::{organisation, organisation_member};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter,
};

use crate::catalogue::checks::{Checks, MAX_MEMBERS, MAX_NAME, MAX_TEXT};
use crate::{
    audit::{self, EntityType},
    auth::{Act, OrgRef, Principal},
    error::{AppResult, Outcome},
    values::{OrganisationKind, UserErrorCode},
};

use crate::catalogue::edit::{Change, begin, finish, refused};

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
    actor: &Principal,
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
            Some(o) if !ids.contains(&o.id) => match actor.authorise(Act::NameMember(OrgRef::from(&o))) {
                Ok(()) => ids.push(o.id),
                Err(denied) => {
                    c.errors.extend(denied.user_error(&["members", &index])?);
                }
            },
            Some(_) => {}
            None => {
                c.push(&["members", &index], UserErrorCode::NotFound, format!("no organisation has the slug '{slug}'"))
            }
        }
    }
    Ok(ids)
}

async fn member_slugs(tx: &DatabaseTransaction, id: i64) -> AppResult<Vec<String>> {
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
    let tx = begin(db).await?;
    if let Some(s) = &slug
        && organisation::Entity::find().filter(organisation::Column::Slug.eq(s.as_str())).one(&tx).await?.is_some()
    {
        c.push(&["slug"], UserErrorCode::Taken, format!("an organisation already has the slug '{s}'"));
    }
    let area = crate::catalogue::geographies::by_code(&tx, &input.geography).await?;
    if area.is_none() {
        c.push(&["geography"], UserErrorCode::NotFound, format!("no geography has the code '{}'", input.geography));
    }
    if let Some(a) = &area
        && let Err(denied) = actor.authorise(Act::Place { moving: None, geography: a.id })
    {
        c.errors.extend(denied.user_error(&["geography"])?);
    }
    let members = member_ids(&tx, actor, &mut c, &input.members, Some(&input.slug)).await?;
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
    let after = OrganisationRecord { organisation: &row, members: member_slugs(&tx, row.id).await? };
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
    let tx = begin(db).await?;
    let Some(before) = organisation::Entity::find().filter(organisation::Column::Slug.eq(&input.slug)).one(&tx).await?
    else {
        tx.rollback().await?;
        return refused(&["slug"], UserErrorCode::NotFound, format!("no organisation has the slug '{}'", input.slug));
    };
    if let Err(denied) = actor.authorise(Act::Administer(OrgRef::from(&before))) {
        tx.rollback().await?;
        return Ok(Err(denied.user_error(&["slug"])?));
    }
    let area = match &input.geography {
        Some(code) => {
            let found = crate::catalogue::geographies::by_code(&tx, code).await?;
            if found.is_none() {
                c.push(&["geography"], UserErrorCode::NotFound, format!("no geography has the code '{code}'"));
            }
            found
        }
        None => None,
    };
    // Its place in the hierarchy: its area, its kind and its members.
    let current_members = member_slugs(&tx, before.id).await?;
    let moves = area.as_ref().is_some_and(|a| a.id != before.geography_id)
        || input.kind.is_some_and(|k| k.as_str() != before.kind)
        || input.members.as_ref().is_some_and(|m| {
            let mut m = m.clone();
            m.sort();
            m.dedup();
            m != current_members
        });
    if moves {
        let geography = area.as_ref().map_or(before.geography_id, |a| a.id);
        if let Err(denied) = actor.authorise(Act::Place { moving: Some(OrgRef::from(&before)), geography }) {
            c.errors.extend(denied.user_error(&["slug"])?);
        }
    }
    let members = match &input.members {
        Some(list) => Some(member_ids(&tx, actor, &mut c, list, Some(&input.slug)).await?),
        None => None,
    };
    if let Err(e) = c.finish() {
        return finish(tx, Err(e)).await;
    }
    let before_record = serde_json::to_value(OrganisationRecord { organisation: &before, members: current_members })
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
        serde_json::to_value(OrganisationRecord { organisation: &after, members: member_slugs(&tx, after.id).await? })
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
