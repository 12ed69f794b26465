//! The one extension every request passes through. async-graphql runs each field of an
//! answer through every extension installed, so the request's checks live in one:
//!
//! - **Parsing**, with the parsed form of recent query texts kept (a bounded, least recently
//!   used cache shared by all requests), since partners send the same few queries again and
//!   again; a malformed query is `BAD_USER_INPUT`.
//! - **Text**: control characters refused in every string the request carries (`text_guard`).
//! - **Cost**: counted before the query runs and refused over the limit with
//!   `QUERY_TOO_COMPLEX`; reported on every answer (`cost`); spent from the caller's
//!   allowance (`http::rate_limit`), `RATE_LIMITED` when it is spent.
//! - **Codes**: every error leaves with the contract's `extensions.code`.
//! - **Nulls where fields failed**: a nullable field whose resolver fails answers `null`
//!   beside its error, as the GraphQL specification asks (async-graphql alone would leave the
//!   field out of `data`, which normalised caches such as Apollo Client's cannot use).

use std::{
    num::NonZeroUsize,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_graphql::{
    Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest, NextResolve,
        NextValidation, ResolveInfo,
    },
    parser::types::ExecutableDocument,
};
use lru::LruCache;

use super::text_guard;
use crate::error::code;

/// How many distinct query texts keep their parsed form.
pub const PARSED_QUERIES: usize = 512;
/// The longest query text whose parsed form is kept: a cache of the queries partners send
/// over and over, not of anything a caller cares to write.
const CACHED_QUERY_BYTES: usize = 16 * 1024;

type ParsedCache = Mutex<LruCache<Arc<str>, Arc<ExecutableDocument>>>;

/// Installs the checks with a cost `limit` (none: count and report only, for the schema
/// printed by `london-vision schema`).
pub struct RequestChecks {
    limit: Option<usize>,
    parsed: Arc<ParsedCache>,
}

impl RequestChecks {
    pub fn new(limit: Option<usize>) -> Self {
        let size = NonZeroUsize::new(PARSED_QUERIES).unwrap_or(NonZeroUsize::MIN);
        Self { limit, parsed: Arc::new(Mutex::new(LruCache::new(size))) }
    }
}

impl ExtensionFactory for RequestChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Checks {
            limit: self.limit,
            parsed: self.parsed.clone(),
            cost: AtomicUsize::new(usize::MAX),
            nulled: Mutex::default(),
        })
    }
}

struct Checks {
    limit: Option<usize>,
    parsed: Arc<ParsedCache>,
    /// The cost of this request's query, once counted (`usize::MAX` until then).
    cost: AtomicUsize,
    /// The errors of nullable fields answered with `null`, to be reported with the answer.
    nulled: Mutex<Vec<ServerError>>,
}

fn with_code(mut err: ServerError, code: &'static str) -> ServerError {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    err
}

fn is_limit(err: &ServerError) -> bool {
    err.message.starts_with("Query is too complex") || err.message.starts_with("Query is nested too deep")
}

impl Checks {
    fn report(&self, cost: usize) -> Value {
        let mut fields = async_graphql::indexmap::IndexMap::new();
        fields.insert(async_graphql::Name::new("requestedQueryCost"), Value::from(cost));
        if let Some(limit) = self.limit {
            fields.insert(async_graphql::Name::new("maximumAvailable"), Value::from(limit));
        }
        Value::Object(fields)
    }

    fn cached(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.parsed.lock().ok()?.get(query).cloned()
    }

    fn keep(&self, query: &str, doc: &ExecutableDocument) {
        if query.len() <= CACHED_QUERY_BYTES
            && let Ok(mut cache) = self.parsed.lock()
        {
            cache.put(Arc::from(query), Arc::new(doc.clone()));
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Checks {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let cost = self.cost.load(Ordering::Relaxed);
        if cost != usize::MAX {
            response.extensions.insert("cost".into(), self.report(cost));
        }
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // A kept document passed the checks of its own text when it was first parsed; the
        // variables are new each time.
        text_guard::check_variables(variables)?;
        if let Some(doc) = self.cached(query) {
            return Ok(ExecutableDocument::clone(&doc));
        }
        let doc = next.run(ctx, query, variables).await.map_err(|e| with_code(e, code::BAD_USER_INPUT))?;
        text_guard::check_document(&doc)?;
        self.keep(query, &doc);
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let c = if is_limit(&e) { code::QUERY_TOO_COMPLEX } else { code::BAD_USER_INPUT };
                    with_code(e, c)
                })
                .collect::<Vec<_>>()
        })?;
        self.cost.store(result.complexity, Ordering::Relaxed);
        let over_limit = self.limit.is_some_and(|limit| result.complexity > limit);
        // The caller's allowance is spent on what it asked for, before anything runs.
        if !over_limit
            && let Some(slot) = ctx.data_opt::<Arc<crate::http::rate_limit::RateSlot>>()
            && !slot.spend(result.complexity as u64)
        {
            let mut err = ServerError::new(
                format!(
                    "this query costs {} and the caller's allowance is spent: try again after `Retry-After` \
                     seconds, or send cheaper queries",
                    result.complexity
                ),
                None,
            );
            err.extensions.get_or_insert_with(Default::default).set("code", code::RATE_LIMITED);
            return Err(vec![err]);
        }
        if let Some(limit) = self.limit
            && result.complexity > limit
        {
            let mut err = ServerError::new(
                format!(
                    "the query costs {} and the limit is {limit}: ask for smaller pages (`first`), fewer nested \
                     lists or fewer aliases",
                    result.complexity
                ),
                None,
            );
            let ext = err.extensions.get_or_insert_with(Default::default);
            ext.set("code", code::QUERY_TOO_COMPLEX);
            ext.set("cost", self.report(result.complexity));
            return Err(vec![err]);
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let nulled = std::mem::take(&mut *self.nulled.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        response.errors.extend(nulled);
        for e in &mut response.errors {
            if e.extensions.as_ref().is_some_and(|ext| ext.get("code").is_some()) {
                continue;
            }
            // Argument values that fail their type's parsing are the caller's to fix.
            let c = if e.message.starts_with("Failed to parse")
                || e.message.starts_with("Invalid value")
                || e.message.starts_with("Expected input type")
            {
                code::BAD_USER_INPUT
            } else {
                code::INTERNAL_SERVER_ERROR
            };
            *e = with_code(std::mem::replace(e, ServerError::new(String::new(), None)), c);
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        match next.run(ctx, info).await {
            Err(e) if nullable => {
                self.nulled.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(e);
                Ok(Some(Value::Null))
            }
            other => other,
        }
    }
}
