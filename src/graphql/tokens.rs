//! Tokens managed through the API: `issuedTokens`, `issueToken`, `revokeToken` (ADMIN only).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use super::{
    OrGql,
    guards::{RoleGuard, actor},
    request,
    scalars::Timestamp,
    user_error::{self, UserError},
};
use crate::{
    auth::{TokenService, manage},
    values::Role,
};

const ADMIN: &[Role] = &[Role::Admin];

/// A token this server issued for a partner script (never its secret).
pub struct IssuedToken(pub manage::TokenView);

/// A token this server issued for a partner script (never its secret).
#[Object]
impl IssuedToken {
    /// The token's id (its `jti`): what `revokeToken` names.
    async fn id(&self) -> &str {
        &self.0.id
    }

    /// The slug of the organisation it acts for.
    async fn organisation(&self) -> &str {
        &self.0.organisation
    }

    /// Who it is for (its `sub`).
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// Its roles; empty for a token that only reads.
    async fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// When it was issued.
    async fn issued_at(&self) -> Timestamp {
        Timestamp(self.0.issued_at)
    }

    /// When it stops being accepted.
    async fn expires_at(&self) -> Timestamp {
        Timestamp(self.0.expires_at)
    }

    /// When it was revoked; null while it is not.
    async fn revoked_at(&self) -> Option<Timestamp> {
        self.0.revoked_at.map(Timestamp)
    }

    /// Why it was revoked.
    async fn revoke_reason(&self) -> Option<&str> {
        self.0.revoke_reason.as_deref()
    }
}

/// A token to issue.
#[derive(InputObject)]
pub struct IssueTokenInput {
    /// The organisation it acts for (its slug), within the administrator's area.
    pub organisation: String,
    /// Who it is for (its `sub`), e.g. `camden-returns-script`.
    pub subject: String,
    /// Its roles; none for a token that only reads.
    #[graphql(default)]
    pub roles: Vec<Role>,
    /// How long it lives: e.g. `90d`, `12h`, `30m` (at most a year).
    #[graphql(default_with = "\"90d\".to_owned()")]
    pub ttl: String,
}

/// The result of `issueToken`.
#[derive(SimpleObject)]
pub struct IssueTokenPayload {
    /// The token itself, to send as `Authorization: Bearer <token>`. Shown this once: the
    /// server keeps only its id.
    pub token: Option<String>,
    /// What was issued; null when nothing was.
    pub issued_token: Option<IssuedToken>,
    /// Why nothing was issued.
    pub user_errors: Vec<UserError>,
}

/// A token to revoke.
#[derive(InputObject)]
pub struct RevokeTokenInput {
    /// The token's id (`IssuedToken.id`, its `jti`).
    pub id: String,
    /// Why, for the record.
    pub reason: Option<String>,
}

/// The result of `revokeToken`.
#[derive(SimpleObject)]
pub struct RevokeTokenPayload {
    /// The token as revoked; null when nothing changed.
    pub issued_token: Option<IssuedToken>,
    /// Why nothing changed.
    pub user_errors: Vec<UserError>,
}

/// Token administration.
#[derive(Default)]
pub struct TokenMutation;

/// Token administration.
#[Object]
impl TokenMutation {
    /// Issues a token for a partner script of an organisation in the administrator's area;
    /// the token is in the payload this once. An ADMIN, for its own organisation or one inside
    /// its area; audited.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn issue_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `IssueTokenInput`.")] input: IssueTokenInput,
    ) -> Result<IssueTokenPayload> {
        let ttl = match crate::auth::tokens::parse_ttl(&input.ttl) {
            Ok(t) => t,
            Err(message) => {
                let e = crate::error::UserError::new(&["ttl"], crate::values::UserErrorCode::Invalid, message);
                return Ok(IssueTokenPayload {
                    token: None,
                    issued_token: None,
                    user_errors: user_error::all(vec![e]),
                });
            }
        };
        let tokens = ctx.data::<std::sync::Arc<TokenService>>()?;
        let outcome = manage::issue(
            &request(ctx).db,
            tokens,
            actor(ctx)?,
            &input.organisation,
            &input.subject,
            &input.roles,
            ttl,
        )
        .await
        .gql()?;
        Ok(match outcome {
            Ok((token, view)) => {
                IssueTokenPayload { token: Some(token), issued_token: Some(IssuedToken(view)), user_errors: Vec::new() }
            }
            Err(errors) => IssueTokenPayload { token: None, issued_token: None, user_errors: user_error::all(errors) },
        })
    }

    /// Revokes a token by its id: it is refused from now on. An ADMIN, for its own
    /// organisation or one inside its area; audited.
    #[graphql(guard = "RoleGuard(ADMIN)")]
    async fn revoke_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `RevokeTokenInput`.")] input: RevokeTokenInput,
    ) -> Result<RevokeTokenPayload> {
        let outcome = manage::revoke(&request(ctx).db, actor(ctx)?, &input.id, input.reason.as_deref()).await.gql()?;
        if let (Ok(view), Ok(events)) = (&outcome, ctx.data::<crate::events::Events>()) {
            // Live connections opened with it close now, on every replica.
            events.announce_revocation(&view.id).await;
        }
        Ok(match outcome {
            Ok(view) => RevokeTokenPayload { issued_token: Some(IssuedToken(view)), user_errors: Vec::new() },
            Err(errors) => RevokeTokenPayload { issued_token: None, user_errors: user_error::all(errors) },
        })
    }
}

/// `issuedTokens`, for the query root.
pub async fn list(
    ctx: &Context<'_>,
    organisation: Option<String>,
    subject: Option<String>,
    active: bool,
    first: Option<i32>,
) -> Result<Vec<IssuedToken>> {
    let limit = u64::try_from(first.unwrap_or(50)).unwrap_or(0).min(manage::MAX_LISTED);
    let found = manage::list(&request(ctx).db, actor(ctx)?, organisation.as_deref(), subject.as_deref(), active, limit)
        .await
        .gql()?;
    Ok(found.into_iter().map(IssuedToken).collect())
}
