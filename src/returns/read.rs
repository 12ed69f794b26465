//! Reading returns back: the list and look-ups, limited to what the caller may see.

use std::collections::HashMap;

use entity::{observation, return_};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait as _, QueryFilter, sea_query::Expr};

use crate::{
    catalogue::{
        Visibility,
        page::{self, Page, PageArgs},
    },
    error::AppResult,
    values::ReturnStatus,
};

/// Filters of the `returns` list.
#[derive(Debug, Default, Clone)]
pub struct ReturnFilter {
    pub organisation: Option<i64>,
    pub status: Option<ReturnStatus>,
    /// Only the returns this reviewer may decide now.
    pub reviewable_by: Option<Reviewer>,
}

/// Who would decide returns: an APPROVER's token subject and the areas it covers.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub subject: String,
    pub areas: Vec<i64>,
}

/// SQL: the returns `reviewer` may decide now, as `review` would allow: still `SUBMITTED`,
/// submitted by someone else, and every value in the reviewer's areas.
fn reviewable(reviewer: &Reviewer) -> sea_orm::sea_query::SimpleExpr {
    if reviewer.areas.is_empty() {
        // No area: nothing to decide.
        return Expr::cust("1 = 0");
    }
    let areas = reviewer.areas.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    // The areas are ids from the database; the subject is a bound value.
    Expr::col(return_::Column::Status)
        .eq(ReturnStatus::Submitted.as_str())
        .and(Expr::col(return_::Column::SubmittedBy).ne(reviewer.subject.clone()))
        .and(Expr::cust(format!(
            "NOT EXISTS (SELECT 1 FROM observations o WHERE o.return_id = returns.id \
             AND o.geography_id NOT IN ({areas}))"
        )))
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
    if let Some(reviewer) = &filter.reviewable_by {
        select = select.filter(reviewable(reviewer));
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

/// The values each of some returns carried: the same page of each, fetched together.
pub async fn observations_of(
    db: &DatabaseConnection,
    return_ids: &[i64],
    args: PageArgs,
) -> AppResult<HashMap<i64, Page<observation::Model>>> {
    page::fetch_many(
        db,
        observation::Entity::find(),
        page::Parents {
            column: observation::Column::ReturnId,
            ids: return_ids,
            of: |o: &observation::Model| o.return_id,
        },
        observation::Column::Id,
        |o| o.id,
        args,
    )
    .await
}
