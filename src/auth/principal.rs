//! The principal a request acts as: who, for which organisation, with which roles, and over
//! which area. Access rules are checked here, in one place.

use std::collections::HashSet;

use chrono::Utc;
use entity::{issued_token, organisation, revoked_token};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::{
    catalogue::{geographies, organisations},
    error::{AppError, AppResult},
    values::Role,
};

/// The geographies a principal may act on: its organisation's area and every area inside it
/// (a borough council: its borough; an ICS: itself and its boroughs; a pan-London body: all
/// of London).
#[derive(Debug, Clone)]
pub struct Scope {
    pub root: i64,
    pub geographies: HashSet<i64>,
    /// Whether the area is the top of the hierarchy (London): the principal acts for all of it.
    pub london_wide: bool,
}

impl Scope {
    pub fn contains(&self, geography_id: i64) -> bool {
        self.geographies.contains(&geography_id)
    }
}

/// An authenticated partner.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's subject.
    pub subject: String,
    pub organisation: organisation::Model,
    pub roles: Vec<Role>,
    pub scope: Scope,
    /// The token's id.
    pub token_id: String,
    /// When the token expires (seconds since the epoch); none for the operator's commands.
    pub expires_at: Option<i64>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// FORBIDDEN unless the principal holds `role`.
    pub fn require_role(&self, role: Role) -> AppResult<()> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this needs the {role} role; the token for {} has {}",
                self.organisation.slug,
                if self.roles.is_empty() {
                    "none".to_owned()
                } else {
                    self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
                }
            )))
        }
    }

    /// FORBIDDEN unless the principal holds one of `roles`.
    pub fn require_any_role(&self, roles: &[Role]) -> AppResult<()> {
        if roles.iter().any(|r| self.has_role(*r)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(AppError::Forbidden(format!("this needs one of the roles {}", names.join(", "))))
        }
    }
}

impl Principal {
    /// A principal acting for the organisation `slug`, with its scope; none if there is no
    /// such organisation. Used for tokens, and for the operator's `import` command.
    pub async fn for_organisation<C: ConnectionTrait>(
        db: &C,
        slug: &str,
        subject: String,
        roles: Vec<Role>,
        token_id: String,
    ) -> AppResult<Option<Self>> {
        let Some(organisation) = organisations::by_slug(db, slug).await? else { return Ok(None) };
        let all = geographies::all(db).await?;
        let scope = super::directory::scope_of(&all, organisation.geography_id);
        Ok(Some(Self { subject, organisation, roles, scope, token_id, expires_at: None }))
    }
}

pub async fn is_revoked<C: ConnectionTrait>(db: &C, jti: &str) -> AppResult<bool> {
    Ok(revoked_token::Entity::find_by_id(jti.to_owned()).one(db).await?.is_some())
}

/// Refuses the token `jti` from now on. Revoking it twice is not an error.
pub async fn revoke<C: ConnectionTrait>(db: &C, jti: &str, reason: Option<String>) -> AppResult<bool> {
    if is_revoked(db, jti).await? {
        return Ok(false);
    }
    let row = revoked_token::ActiveModel { jti: Set(jti.to_owned()), revoked_at: Set(Utc::now()), reason: Set(reason) };
    revoked_token::Entity::insert(row).exec_without_returning(db).await?;
    Ok(true)
}

/// Records a token this server signed (never its secret), so that revoking a mistyped id is
/// caught and tokens can be listed.
pub async fn record_issued<C: ConnectionTrait>(db: &C, claims: &super::tokens::Claims) -> AppResult<()> {
    let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap_or_else(Utc::now);
    let row = issued_token::ActiveModel {
        jti: Set(claims.jti.clone()),
        organisation: Set(claims.org.clone()),
        subject: Set(claims.sub.clone()),
        roles: Set(claims.roles.join(",")),
        issued_at: Set(at(claims.iat.unwrap_or_else(|| Utc::now().timestamp()))),
        expires_at: Set(at(claims.exp)),
    };
    issued_token::Entity::insert(row).exec_without_returning(db).await?;
    Ok(())
}

/// Whether this server issued the token `jti`.
pub async fn was_issued<C: ConnectionTrait>(db: &C, jti: &str) -> AppResult<bool> {
    Ok(issued_token::Entity::find_by_id(jti.to_owned()).one(db).await?.is_some())
}
