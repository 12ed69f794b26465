//! The GraphQL adapter: object types wrapping entity models, the query root, DataLoaders and
//! scalars. Resolvers read the request context, call a catalogue function and wrap the result.

mod audit;
mod case_study;
mod checks;
mod connection;
mod cost;
mod geography;
mod guards;
pub(crate) mod ids;
mod loaders;
mod measure;
mod mutation;
mod node;
mod organisation;
mod picture;
mod priority;
mod query;
mod returns;
mod scalars;
mod subscription;
mod text_guard;
mod tokens;
mod user_error;
mod viewer;
mod webhooks;

use std::{sync::Arc, time::Duration};

use async_graphql::{
    Context, ErrorExtensions, Schema, SchemaBuilder,
    dataloader::{DataLoader, HashMapCache},
};
use sea_orm::DatabaseConnection;

pub use self::{
    loaders::{Areas, Loaders},
    mutation::Mutation,
    query::Query,
    subscription::Subscription,
};
use crate::{auth::Principal, catalogue::Visibility, error::AppError};

/// The schema served at `/graphql`.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// What every resolver of one request may read.
pub struct RequestContext {
    pub db: DatabaseConnection,
    pub visibility: Visibility,
    /// The authenticated partner, or none for an anonymous request.
    pub principal: Option<Principal>,
}

/// The schema without its limits; the same one `london-vision schema` prints.
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation::default(), Subscription)
}

/// The schema as served, with its depth and cost limits from configuration. Its checks are
/// one extension (`checks`): async-graphql passes every field of an answer through each.
pub fn build_schema(max_depth: usize, max_complexity: usize, max_selections: usize) -> AppSchema {
    schema_builder()
        .extension(checks::RequestChecks::new(Some(max_complexity), max_selections))
        .limit_depth(max_depth)
        .finish()
}

/// The SDL of the public contract, as `schema.graphql` holds it.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// Attaches a request's context and its own DataLoader. The loader caches what it loaded for
/// the life of the request only, so a row asked for at two levels is read once and no
/// request ever sees another's data.
///
/// `batch_window` is how long the loader waits for more keys before it runs a batch. Keys
/// are asked for while the executor walks one level of the response, and on a
/// multi-threaded runtime the batch timer runs on another thread: the window must outlast
/// one walk over a page, or that level is read in two statements instead of one.
///
/// `areas` is the kept directory, and its version when the request has read it already: the
/// areas a request shows come from it rather than from SQL.
pub fn with_request_data(
    request: async_graphql::Request,
    db: &DatabaseConnection,
    principal: Option<Principal>,
    batch_window: Duration,
    areas: Areas,
) -> async_graphql::Request {
    let visibility = Visibility::of(principal.as_ref());
    let loaders = Loaders { db: db.clone(), visibility: visibility.clone(), areas };
    let loader: RequestLoader =
        DataLoader::with_cache(loaders, tokio::spawn, HashMapCache::default()).delay(batch_window);
    request.data(RequestContext { db: db.clone(), visibility, principal }).data(loader)
}

/// What the subscriptions of one WebSocket connection may read: its principal's context, a
/// DataLoader that batches but keeps nothing (a connection outlives the data it reads), and
/// the process's events.
/// The process's services an operation may need beside its caller, as every channel hands
/// them to the schema: events to announce, the rules of due returns, where webhooks may go,
/// the receipts' key, the token service.
#[derive(Clone)]
pub struct Services {
    pub events: crate::events::Events,
    pub due: crate::returns::due::DueRules,
    pub webhooks: crate::webhooks::Policy,
    pub receipts: std::sync::Arc<crate::receipts::ReceiptKeys>,
    pub tokens: std::sync::Arc<crate::auth::TokenService>,
    pub directory: std::sync::Arc<crate::auth::Directory>,
}

pub fn connection_data(
    db: &DatabaseConnection,
    principal: Option<Principal>,
    batch_window: Duration,
    services: Services,
    session: std::sync::Arc<crate::auth::session::Session>,
    slot: std::sync::Arc<crate::http::rate_limit::RateSlot>,
) -> async_graphql::Data {
    let visibility = Visibility::of(principal.as_ref());
    // A connection outlives any one directory version: each batch checks it afresh.
    let areas = Areas { directory: services.directory.clone(), version: None };
    let loaders = Loaders { db: db.clone(), visibility: visibility.clone(), areas };
    let loader: RequestLoader =
        DataLoader::with_cache(loaders, tokio::spawn, HashMapCache::default()).delay(batch_window);
    loader.enable_all_cache(false);
    let mut data = async_graphql::Data::default();
    data.insert(RequestContext { db: db.clone(), visibility, principal });
    data.insert(loader);
    data.insert(services.events);
    data.insert(services.due);
    data.insert(services.webhooks);
    data.insert(services.receipts);
    data.insert(services.tokens);
    data.insert(session);
    data.insert(slot);
    data
}

fn request<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// The DataLoader of one request, with its cache.
type RequestLoader = DataLoader<Loaders, HashMapCache>;

fn loader<'a>(ctx: &Context<'a>) -> &'a RequestLoader {
    ctx.data_unchecked::<RequestLoader>()
}

/// Converts the library's errors to GraphQL errors with their `extensions.code`.
trait OrGql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> OrGql<T> for Result<T, AppError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

/// A stored value that no longer parses is the server's fault, never the caller's.
impl<T> OrGql<T> for Result<T, crate::values::ParseError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| AppError::Internal(format!("a stored value does not parse: {e}"))).gql()
    }
}

impl<T> OrGql<T> for Result<T, Arc<AppError>> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.as_ref().extend())
    }
}
