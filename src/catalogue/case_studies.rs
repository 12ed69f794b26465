//! Case studies: initiatives and local examples, linked to priorities, areas and organisations.

mod edits;

pub use edits::*;

use std::collections::HashMap;

use entity::{case_study, case_study_geography, case_study_organisation, case_study_priority, geography};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

use super::{
    Visibility, geographies, organisations,
    page::{self, Page, PageArgs},
    pair_up, priorities, rows_where_in,
};
use crate::error::{AppError, AppResult};

/// Filters of the `caseStudies` list.
#[derive(Debug, Default, Clone)]
pub struct CaseStudyFilter {
    /// A priority slug.
    pub priority: Option<String>,
    /// An ONS code: case studies in that area or in any area inside it.
    pub geography: Option<String>,
    /// Words to find in the title, summary or body, ignoring case.
    pub search: Option<String>,
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &CaseStudyFilter,
    visibility: &Visibility,
    args: PageArgs,
) -> AppResult<Page<case_study::Model>> {
    if filter.search.as_ref().is_some_and(|w| w.chars().count() > MAX_SEARCH) {
        return Err(AppError::BadUserInput(format!("a search has at most {MAX_SEARCH} characters")));
    }
    let mut select = case_study::Entity::find().filter(shown(visibility));
    if let Some(slug) = &filter.priority {
        let p = priorities::require_by_slug(db, slug).await?;
        let ids = case_study_priority::Entity::find()
            .select_only()
            .column(case_study_priority::Column::CaseStudyId)
            .filter(case_study_priority::Column::PriorityId.eq(p.id))
            .into_query();
        select = select.filter(case_study::Column::Id.in_subquery(ids));
    }
    if let Some(code) = &filter.geography {
        let area = geographies::by_code(db, code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no geography has the code '{code}'")))?;
        let within = geographies::subtree_ids(&geographies::all(db).await?, area.id);
        let ids = case_study_geography::Entity::find()
            .select_only()
            .column(case_study_geography::Column::CaseStudyId)
            .filter(case_study_geography::Column::GeographyId.is_in(within))
            .into_query();
        select = select.filter(case_study::Column::Id.in_subquery(ids));
    }
    if let Some(words) = filter.search.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        let pattern = format!("%{}%", escape_like(&words.to_lowercase()));
        let mut any = Condition::any();
        for col in [case_study::Column::Title, case_study::Column::Summary, case_study::Column::Body] {
            any = any.add(Expr::expr(Func::lower(Expr::col(col))).like(LikeExpr::new(pattern.clone()).escape('\\')));
        }
        select = select.filter(any);
    }
    page::fetch(db, select, case_study::Column::Id, |m| m.id, args).await
}

/// The longest search accepted, in characters.
pub const MAX_SEARCH: usize = 200;

/// Case studies the caller may see: published ones, and drafts of organisations based in the
/// areas whose work in review the caller sees.
fn shown(visibility: &Visibility) -> Condition {
    let drafts = Expr::cust(format!("owner_organisation_id IN ({})", visibility.organisations_in_review_areas()));
    Condition::any().add(case_study::Column::Published.eq(true)).add(drafts)
}

/// `%`, `_` and `\` in a search are literal characters, not patterns.
fn escape_like(words: &str) -> String {
    words.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub async fn by_slug<C: ConnectionTrait>(
    db: &C,
    slug: &str,
    visibility: &Visibility,
) -> AppResult<Option<case_study::Model>> {
    Ok(case_study::Entity::find().filter(case_study::Column::Slug.eq(slug)).filter(shown(visibility)).one(db).await?)
}

pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    visibility: &Visibility,
) -> AppResult<Vec<case_study::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(case_study::Entity::find()
        .filter(case_study::Column::Id.is_in(ids.iter().copied()))
        .filter(shown(visibility))
        .all(db)
        .await?)
}

/// The case studies of each priority, as (priority id, case study) pairs.
pub async fn of_priorities<C: ConnectionTrait>(
    db: &C,
    priority_ids: &[i64],
    visibility: &Visibility,
) -> AppResult<Vec<(i64, case_study::Model)>> {
    let links =
        rows_where_in::<case_study_priority::Entity, _>(db, case_study_priority::Column::PriorityId, priority_ids)
            .await?;
    let ids: Vec<i64> = links.iter().map(|l| l.case_study_id).collect();
    let studies: HashMap<i64, case_study::Model> =
        by_ids(db, &ids, visibility).await?.into_iter().map(|c| (c.id, c)).collect();
    Ok(links.into_iter().filter_map(|l| studies.get(&l.case_study_id).map(|c| (l.priority_id, c.clone()))).collect())
}

/// The published case studies of a priority, by the areas they name (newest first): what
/// the picture shows beside each area's figure.
pub async fn published_by_area<C: ConnectionTrait>(
    db: &C,
    priority_id: i64,
) -> AppResult<HashMap<i64, Vec<case_study::Model>>> {
    let mut studies: Vec<case_study::Model> = of_priorities(db, &[priority_id], &Visibility::public())
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| c.published)
        .collect();
    studies.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(a.slug.cmp(&b.slug)));
    let ids: Vec<i64> = studies.iter().map(|c| c.id).collect();
    let links =
        rows_where_in::<case_study_geography::Entity, _>(db, case_study_geography::Column::CaseStudyId, &ids).await?;
    let mut out: HashMap<i64, Vec<case_study::Model>> = HashMap::new();
    for study in studies {
        for link in links.iter().filter(|l| l.case_study_id == study.id) {
            out.entry(link.geography_id).or_default().push(study.clone());
        }
    }
    Ok(out)
}

/// The priorities of each case study, as (case study id, priority) pairs.
pub async fn priorities_of<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<(i64, entity::priority::Model)>> {
    let links =
        rows_where_in::<case_study_priority::Entity, _>(db, case_study_priority::Column::CaseStudyId, ids).await?;
    let targets = priorities::by_ids(db, &links.iter().map(|l| l.priority_id).collect::<Vec<_>>()).await?;
    Ok(pair_up(links.into_iter().map(|l| (l.case_study_id, l.priority_id)), targets, |p| p.id))
}

/// The geographies of each case study, as (case study id, geography) pairs.
pub async fn geographies_of<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<(i64, geography::Model)>> {
    let links =
        rows_where_in::<case_study_geography::Entity, _>(db, case_study_geography::Column::CaseStudyId, ids).await?;
    let targets = geographies::by_ids(db, &links.iter().map(|l| l.geography_id).collect::<Vec<_>>()).await?;
    Ok(pair_up(links.into_iter().map(|l| (l.case_study_id, l.geography_id)), targets, |g| g.id))
}

/// The organisations of each case study, as (case study id, organisation) pairs.
pub async fn organisations_of<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> AppResult<Vec<(i64, entity::organisation::Model)>> {
    let links =
        rows_where_in::<case_study_organisation::Entity, _>(db, case_study_organisation::Column::CaseStudyId, ids)
            .await?;
    let targets = organisations::by_ids(db, &links.iter().map(|l| l.organisation_id).collect::<Vec<_>>()).await?;
    Ok(pair_up(links.into_iter().map(|l| (l.case_study_id, l.organisation_id)), targets, |o| o.id))
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn search_wildcards_are_taken_literally() {
        assert_eq!(escape_like("100%_a\\b"), "100\\%\\_a\\\\b");
    }
}
