//! The one extension every request passes through. async-graphql runs each field of an
//! answer through every extension installed, so the request's checks live in one:
//!
//! - **Parsing**, with the parsed form of recent query texts kept (a bounded, least recently
//!   used cache shared by all requests), since partners send the same few queries again and
//!   again; a malformed query is `BAD_USER_INPUT`.
//! - **Text**: control characters refused in every string the request carries (`text_guard`).
//! - **Size**: the field selections of the document once every fragment is expanded, counted
//!   as soon as it is parsed (each fragment once, so the count itself is cheap) and refused
//!   over the limit with `QUERY_TOO_COMPLEX`, before validation walks them: nested spreads
//!   (`fragment A { ...B ...B }`, `fragment B { ...C ...C }`, ...) double at each level.
//! - **Cost**: counted before the query runs (never less than its expanded selections) and
//!   refused over the limit with `QUERY_TOO_COMPLEX`; reported on every answer (`cost`);
//!   spent from the caller's allowance (`http::rate_limit`), `RATE_LIMITED` when it is spent.
//!   A refused query is charged what it claimed too, so refusals are no free way to load the
//!   server.
//! - **Standing** on a WebSocket connection (`auth::session`): before each operation the
//!   token is checked again (expired or revoked: `UNAUTHENTICATED`, and the connection ends),
//!   and a connection holds at most its number of operations at once.
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

use std::collections::HashMap;

use async_graphql::{
    Positioned, Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextRequest,
        NextResolve, NextSubscribe, NextValidation, ResolveInfo,
    },
    futures_util::stream::{self, BoxStream, StreamExt as _},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use lru::LruCache;

use super::text_guard;
use crate::{auth::session::Session, error::code};

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
    max_selections: usize,
    parsed: Arc<ParsedCache>,
}

impl RequestChecks {
    pub fn new(limit: Option<usize>, max_selections: usize) -> Self {
        let size = NonZeroUsize::new(PARSED_QUERIES).unwrap_or(NonZeroUsize::MIN);
        Self { limit, max_selections, parsed: Arc::new(Mutex::new(LruCache::new(size))) }
    }
}

/// The field selections of every operation of `doc` with its fragments expanded: what
/// validation and execution would walk. Each fragment is counted once and remembered, so the
/// count takes time in proportion to the text, however much it expands; a fragment that spreads
/// itself counts nothing here (validation refuses it).
pub fn expanded_selections(doc: &ExecutableDocument) -> usize {
    fn set(doc: &ExecutableDocument, s: &SelectionSet, memo: &mut HashMap<String, Option<usize>>) -> usize {
        s.items.iter().fold(0usize, |n, item| n.saturating_add(selection(doc, item, memo)))
    }
    fn selection(
        doc: &ExecutableDocument,
        item: &Positioned<Selection>,
        memo: &mut HashMap<String, Option<usize>>,
    ) -> usize {
        match &item.node {
            Selection::Field(f) => 1usize.saturating_add(set(doc, &f.node.selection_set.node, memo)),
            Selection::InlineFragment(i) => set(doc, &i.node.selection_set.node, memo),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match memo.get(name) {
                    Some(Some(n)) => *n,
                    // Being counted: a cycle.
                    Some(None) => 0,
                    None => {
                        let Some(fragment) = doc.fragments.get(name) else { return 0 };
                        memo.insert(name.to_owned(), None);
                        let n = set(doc, &fragment.node.selection_set.node, memo);
                        memo.insert(name.to_owned(), Some(n));
                        n
                    }
                }
            }
        }
    }
    let mut memo = HashMap::new();
    doc.operations.iter().fold(0usize, |n, (_, op)| n.saturating_add(set(doc, &op.node.selection_set.node, &mut memo)))
}

impl ExtensionFactory for RequestChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Checks {
            limit: self.limit,
            max_selections: self.max_selections,
            parsed: self.parsed.clone(),
            cost: AtomicUsize::new(usize::MAX),
            selections: AtomicUsize::new(0),
            nulled: Mutex::default(),
        })
    }
}

struct Checks {
    limit: Option<usize>,
    max_selections: usize,
    parsed: Arc<ParsedCache>,
    /// The cost of this request's query, once counted (`usize::MAX` until then).
    cost: AtomicUsize,
    /// The field selections of this request's query with its fragments expanded.
    selections: AtomicUsize,
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

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let Some(session) = ctx.data_opt::<Arc<Session>>().cloned() else { return next.run(ctx, stream) };
        let Some(place) = session.begin_operation() else {
            let mut err = ServerError::new(
                format!(
                    "this connection holds {} subscriptions already: complete one first, or open another connection",
                    session.max_operations
                ),
                None,
            );
            err.extensions.get_or_insert_with(Default::default).set("code", code::RATE_LIMITED);
            return stream::once(async move { Response::from_errors(vec![err]) }).boxed();
        };
        // The operation ends with the connection's standing; its place is given back when it
        // is dropped (completed by the client, or finished).
        next.run(ctx, stream)
            .take_until(async move { session.until_ended().await })
            .map(move |response| {
                let _held = &place;
                response
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let (Some(session), Some(r)) = (ctx.data_opt::<Arc<Session>>(), ctx.data_opt::<super::RequestContext>())
            && let Err(e) = session.check(&r.db).await
        {
            let mut err = ServerError::new(e.to_string(), None);
            err.extensions.get_or_insert_with(Default::default).set("code", e.code());
            return Err(err);
        }
        next.run(ctx, request).await
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
        let doc = match self.cached(query) {
            Some(doc) => ExecutableDocument::clone(&doc),
            None => {
                let doc = next.run(ctx, query, variables).await.map_err(|e| with_code(e, code::BAD_USER_INPUT))?;
                text_guard::check_document(&doc)?;
                self.keep(query, &doc);
                doc
            }
        };
        let selections = expanded_selections(&doc);
        self.selections.store(selections, Ordering::Relaxed);
        if selections > self.max_selections {
            // Charged what it claims, at most the costliest query allowed, before it is refused.
            let claimed = self.limit.map_or(selections, |l| selections.min(l));
            self.cost.store(selections, Ordering::Relaxed);
            if let Some(slot) = ctx.data_opt::<Arc<crate::http::rate_limit::RateSlot>>() {
                slot.spend(claimed as u64);
            }
            let mut err = ServerError::new(
                format!(
                    "the query holds {selections} field selections once its fragments are expanded, and the limit \
                     is {}: select fewer fields, or spread each fragment fewer times",
                    self.max_selections
                ),
                None,
            );
            let ext = err.extensions.get_or_insert_with(Default::default);
            ext.set("code", code::QUERY_TOO_COMPLEX);
            ext.set("cost", self.report(selections));
            return Err(err);
        }
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
        // Never less than the fields it would run, whatever the schema's cost model says.
        let complexity = result.complexity.max(self.selections.load(Ordering::Relaxed));
        let mut result = result;
        result.complexity = complexity;
        self.cost.store(result.complexity, Ordering::Relaxed);
        let over_limit = self.limit.is_some_and(|limit| result.complexity > limit);
        // The caller's allowance is spent on what it asked for, before anything runs; a query
        // over the limit is charged too, as much as the costliest query allowed (so refusals
        // are never free, and one mistake does not spend an hour's allowance), and refused
        // for its cost below.
        let charged = self.limit.map_or(result.complexity, |limit| result.complexity.min(limit));
        if let Some(slot) = ctx.data_opt::<Arc<crate::http::rate_limit::RateSlot>>()
            && !slot.spend(charged as u64)
            && !over_limit
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
