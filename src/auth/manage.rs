//! Tokens managed through the API by an ADMIN: listed (by organisation, subject, expiry),
//! issued (the secret shown once, never stored) and revoked, every action in the audit trail.

use chrono::{DateTime, Utc};
use entity::{issued_token, revoked_token};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde::Serialize;

use super::{Act, OrgRef, Principal, TokenService, principal::record_issued};
use crate::{
    audit::{self, EntityType},
    catalogue::organisations,
    error::{AppError, AppResult, UserError},
    values::{Lines, Role, UserErrorCode, describe_character, forbidden_character},
};

/// The most tokens one list shows.
pub const MAX_LISTED: u64 = 100;
/// The longest subject or reason.
const MAX_TEXT: usize = 200;
/// The longest life a token issued here may have: a year.
pub const MAX_TTL_SECONDS: i64 = 366 * 24 * 60 * 60;

/// A token this server issued, as an administrator sees it (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    pub organisation: String,
    pub subject: String,
    pub roles: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: Option<String>,
}

fn view(t: issued_token::Model, revoked: Option<revoked_token::Model>) -> TokenView {
    TokenView {
        id: t.jti,
        organisation: t.organisation,
        subject: t.subject,
        roles: t.roles.split(',').filter(|r| !r.is_empty()).map(str::to_owned).collect(),
        issued_at: t.issued_at,
        expires_at: t.expires_at,
        revoked_at: revoked.as_ref().map(|r| r.revoked_at),
        revoke_reason: revoked.and_then(|r| r.reason),
    }
}

/// Issued tokens, newest first, optionally of one organisation or subject, and only those
/// still in force (not expired, not revoked) when `active`.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Principal,
    organisation: Option<&str>,
    subject: Option<&str>,
    active: bool,
    limit: u64,
) -> AppResult<Vec<TokenView>> {
    let mut select = issued_token::Entity::find()
        .order_by_desc(issued_token::Column::IssuedAt)
        .order_by_desc(issued_token::Column::Jti)
        .limit(limit.min(MAX_LISTED));
    // Only the tokens of organisations the actor administers: what it may revoke.
    let reached: Vec<String> = entity::organisation::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter(|o| actor.may(Act::Administer(OrgRef::from(o))))
        .map(|o| o.slug)
        .collect();
    select = select.filter(issued_token::Column::Organisation.is_in(reached));
    if let Some(o) = organisation {
        select = select.filter(issued_token::Column::Organisation.eq(o));
    }
    if let Some(s) = subject {
        select = select.filter(issued_token::Column::Subject.eq(s));
    }
    if active {
        select = select.filter(issued_token::Column::ExpiresAt.gt(Utc::now())).filter(sea_orm::sea_query::Expr::cust(
            "NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = issued_tokens.jti)",
        ));
    }
    let found = select.all(db).await?;
    let mut revoked: std::collections::HashMap<String, revoked_token::Model> = revoked_token::Entity::find()
        .filter(revoked_token::Column::Jti.is_in(found.iter().map(|t| t.jti.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.jti.clone(), r))
        .collect();
    Ok(found
        .into_iter()
        .map(|t| {
            let r = revoked.remove(&t.jti);
            view(t, r)
        })
        .collect())
}

fn text_problem(field: &str, text: &str) -> Option<UserError> {
    if text.trim().is_empty() {
        return Some(UserError::new(&[field], UserErrorCode::Required, format!("`{field}` is empty")));
    }
    if let Some(c) = forbidden_character(text, Lines::One) {
        return Some(UserError::new(
            &[field],
            UserErrorCode::Invalid,
            format!("`{field}` holds the character {}, which is not allowed", describe_character(c)),
        ));
    }
    (text.chars().count() > MAX_TEXT).then(|| {
        UserError::new(&[field], UserErrorCode::TooLong, format!("`{field}` may have at most {MAX_TEXT} characters"))
    })
}

/// Issues a token for a partner script of an organisation within the administrator's area.
/// The token itself is returned once and never stored.
pub async fn issue(
    db: &DatabaseConnection,
    tokens: &TokenService,
    actor: &Principal,
    organisation: &str,
    subject: &str,
    roles: &[Role],
    ttl_seconds: i64,
) -> AppResult<Result<(String, TokenView), Vec<UserError>>> {
    actor.require_role(Role::Admin)?;
    let mut problems: Vec<UserError> = text_problem("subject", subject).into_iter().collect();
    if !(60..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
        problems.push(UserError::new(
            &["ttl"],
            UserErrorCode::OutOfRange,
            "a token lives from one minute to a year (e.g. `90d`)".to_owned(),
        ));
    }
    let org = organisations::by_slug(db, organisation).await?;
    match &org {
        None => problems.push(UserError::new(
            &["organisation"],
            UserErrorCode::NotFound,
            format!("no organisation has the slug '{organisation}'"),
        )),
        Some(o) => {
            if let Err(denied) = actor.authorise(Act::Administer(OrgRef::from(o))) {
                problems.extend(denied.user_error(&["organisation"])?);
            }
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let (token, claims) = tokens
        .issue(organisation, subject.trim(), roles, ttl_seconds)
        .map_err(|e| AppError::BadUserInput(e.to_string()))?;
    let tx = crate::db::begin_write(db).await?;
    record_issued(&tx, &claims).await?;
    let issued = issued_token::Entity::find_by_id(claims.jti.clone())
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::Internal("an issued token was not recorded".into()))?;
    let shown = view(issued, None);
    audit::record_key(&tx, actor, "issueToken", EntityType::IssuedToken, &shown.id, None, Some(&shown)).await?;
    tx.commit().await?;
    Ok(Ok((token, shown)))
}

/// Revokes a token this server issued, by its id; revoking one twice is a `CONFLICT`.
pub async fn revoke(
    db: &DatabaseConnection,
    actor: &Principal,
    id: &str,
    reason: Option<&str>,
) -> AppResult<Result<TokenView, Vec<UserError>>> {
    actor.require_role(Role::Admin)?;
    if let Some(problem) = reason.and_then(|r| text_problem("reason", r)) {
        return Ok(Err(vec![problem]));
    }
    let tx = db.begin().await?;
    let found = issued_token::Entity::find_by_id(id.to_owned()).one(&tx).await?;
    let revoked = revoked_token::Entity::find_by_id(id.to_owned()).one(&tx).await?;
    let Some(token) = found else {
        return Ok(Err(vec![UserError::new(&["id"], UserErrorCode::NotFound, format!("no token has the id '{id}'"))]));
    };
    let in_area = organisations::by_slug(&tx, &token.organisation)
        .await?
        .is_some_and(|o| actor.may(Act::Administer(OrgRef::from(&o))));
    if !in_area {
        return Ok(Err(vec![UserError::new(&["id"], UserErrorCode::NotFound, format!("no token has the id '{id}'"))]));
    }
    if revoked.is_some() {
        return Ok(Err(vec![UserError::new(
            &["id"],
            UserErrorCode::Conflict,
            format!("token '{id}' is already revoked"),
        )]));
    }
    let before = view(token.clone(), None);
    super::principal::revoke(&tx, id, reason.map(str::to_owned)).await?;
    let revoked = revoked_token::Entity::find_by_id(id.to_owned()).one(&tx).await?;
    let after = view(token, revoked);
    audit::record_key(&tx, actor, "revokeToken", EntityType::IssuedToken, id, Some(&before), Some(&after)).await?;
    tx.commit().await?;
    Ok(Ok(after))
}
