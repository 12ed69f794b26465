//! Access rules on fields, declared with guards and checked in one place
//! (`Principal::require_any_role`): no token is UNAUTHENTICATED, a missing role FORBIDDEN.

use async_graphql::{Context, Guard, Result};

use super::{OrGql, request};
use crate::{auth::Principal, error::AppError, values::Role};

/// Allows callers holding at least one of the roles.
pub struct RoleGuard(pub &'static [Role]);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        actor(ctx)?.require_any_role(self.0).gql()
    }
}

/// The authenticated partner making the request, or UNAUTHENTICATED.
pub fn actor<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    request(ctx)
        .principal
        .as_ref()
        .ok_or_else(|| {
            AppError::Unauthenticated("this needs a partner token: send `Authorization: Bearer <token>`".into())
        })
        .gql()
}

/// The authenticated partner, acting with at least one role: reading work in review needs
/// one (a read-only token sees what anonymous callers see).
pub fn require_some_role<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    let principal = actor(ctx)?;
    principal.require_any_role(&[Role::Submitter, Role::Approver, Role::Admin]).gql()?;
    Ok(principal)
}
