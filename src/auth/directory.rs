//! Who is who, kept in memory: the organisations, the geography's tree with every
//! organisation's scope worked out once, and the revoked tokens. A token is authenticated
//! against it without SQL of its own: the request's one read of the database's versions
//! (`db::versions`, which kept answers need anyway) says whether the kept directory is still
//! the database's. A change to organisations, geographies or revocations, through any replica,
//! the command line or by hand, grows the directory version in its own transaction (triggers),
//! so the next request anywhere loads the directory afresh (five statements, once). The
//! catalogue's measures and the periods closed to submissions grow the same version, and the
//! directory keeps them too, for checking returns (`returns::Reference`).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use entity::{geography, organisation, revoked_token};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::{
    Principal, Scope,
    tokens::{TokenService, parse_roles},
};
use crate::{
    catalogue::geographies,
    error::{AppError, AppResult},
};

/// The directory as of one version of the database.
#[derive(Debug)]
pub struct Snapshot {
    /// The directory version it was loaded at (or later).
    pub version: i64,
    organisations: HashMap<String, organisation::Model>,
    /// Each organisation's area's scope, by the area's id.
    scopes: HashMap<i64, Scope>,
    revoked: HashSet<String>,
    /// Every area, by id and by ONS code: what a value's `geography` reads, without SQL.
    geographies: HashMap<i64, Arc<geography::Model>>,
    codes: HashMap<String, i64>,
    /// What returns are checked against (measures, areas, closed periods).
    reference: crate::returns::Reference,
}

impl Snapshot {
    async fn load<C: ConnectionTrait>(db: &C, version: i64) -> AppResult<Self> {
        let organisations: HashMap<String, organisation::Model> =
            organisation::Entity::find().all(db).await?.into_iter().map(|o| (o.slug.clone(), o)).collect();
        let all: Vec<geography::Model> = geography::Entity::find().all(db).await?;
        let revoked: HashSet<String> =
            revoked_token::Entity::find().all(db).await?.into_iter().map(|r| r.jti).collect();
        let scopes = organisations
            .values()
            .map(|o| o.geography_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|root| (root, scope_of(&all, root)))
            .collect();
        let codes = all.iter().map(|g| (g.code.clone(), g.id)).collect();
        let reference = crate::returns::Reference {
            geographies: Arc::new(all.iter().map(|g| (g.code.clone(), g.clone())).collect()),
            ..crate::returns::Reference::load_catalogue(db).await?
        };
        let geographies = all.into_iter().map(|g| (g.id, Arc::new(g))).collect();
        Ok(Self { version, organisations, scopes, revoked, geographies, codes, reference })
    }

    /// What returns are checked against, as of this version.
    pub fn reference(&self) -> crate::returns::Reference {
        self.reference.clone()
    }

    /// The area with this id.
    pub fn geography(&self, id: i64) -> Option<Arc<geography::Model>> {
        self.geographies.get(&id).cloned()
    }

    /// The area with this ONS code.
    pub fn geography_by_code(&self, code: &str) -> Option<Arc<geography::Model>> {
        self.codes.get(code).and_then(|id| self.geography(*id))
    }

    /// The principal a verified token's claims stand for, from this directory alone.
    fn principal(&self, claims: super::Claims) -> AppResult<Principal> {
        let roles = parse_roles(&claims.roles).map_err(|e| AppError::Unauthenticated(e.0))?;
        if claims.jti.trim().is_empty() {
            return Err(AppError::Unauthenticated("the token has no `jti` claim".into()));
        }
        if self.revoked.contains(&claims.jti) {
            return Err(AppError::Unauthenticated("the token has been revoked".into()));
        }
        let organisation = self.organisations.get(&claims.org).cloned().ok_or_else(|| {
            AppError::Unauthenticated(format!("the token names an unknown organisation '{}'", claims.org))
        })?;
        let scope = self
            .scopes
            .get(&organisation.geography_id)
            .cloned()
            .ok_or_else(|| AppError::Internal("BUG: an organisation's area has no scope".into()))?;
        Ok(Principal {
            subject: claims.sub,
            organisation,
            roles,
            scope,
            token_id: claims.jti,
            expires_at: Some(claims.exp),
        })
    }
}

/// The scope of an organisation based in `root`: the area and every area below it.
pub fn scope_of(all: &[geography::Model], root: i64) -> Scope {
    let london_wide = all.iter().any(|g| g.id == root && g.parent_id.is_none());
    Scope { root, geographies: geographies::subtree_ids(all, root).into_iter().collect(), london_wide }
}

/// The kept directory of a server process.
#[derive(Debug, Default)]
pub struct Directory {
    current: RwLock<Option<Arc<Snapshot>>>,
    loading: tokio::sync::Mutex<()>,
}

impl Directory {
    fn kept(&self) -> Option<Arc<Snapshot>> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The directory at `version` or later: the kept one, or loaded afresh (once, however many
    /// requests ask at the same moment).
    pub async fn at<C: ConnectionTrait>(&self, db: &C, version: i64) -> AppResult<Arc<Snapshot>> {
        if let Some(s) = self.kept().filter(|s| s.version >= version) {
            return Ok(s);
        }
        let _one_at_a_time = self.loading.lock().await;
        if let Some(s) = self.kept().filter(|s| s.version >= version) {
            return Ok(s);
        }
        let loaded = Arc::new(Snapshot::load(db, version).await?);
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(loaded.clone());
        Ok(loaded)
    }

    /// The directory as the database has it now: one statement (its versions) unless the
    /// caller read them already, and a load only if it changed.
    pub async fn now<C: ConnectionTrait>(&self, db: &C, known: Option<i64>) -> AppResult<Arc<Snapshot>> {
        let version = match known {
            Some(v) => v,
            None => crate::db::versions(db).await?.directory,
        };
        self.at(db, version).await
    }

    /// Whether the token `jti` is revoked now: one statement (the database's versions), and
    /// the directory loaded afresh only if it changed. What HTTP requests, socket operations and
    /// a socket's watch all ask.
    pub async fn revoked<C: ConnectionTrait>(&self, db: &C, jti: &str) -> AppResult<bool> {
        let version = crate::db::versions(db).await?.directory;
        Ok(self.at(db, version).await?.revoked.contains(jti))
    }

    /// The principal a bearer token stands for, at the database's directory `version`. A token
    /// that fails any check is an UNAUTHENTICATED error, never an anonymous request.
    pub async fn authenticate<C: ConnectionTrait>(
        &self,
        db: &C,
        version: i64,
        tokens: &TokenService,
        token: &str,
    ) -> AppResult<Principal> {
        let claims = tokens.verify(token).map_err(|e| AppError::Unauthenticated(e.0))?;
        self.at(db, version).await?.principal(claims)
    }
}
