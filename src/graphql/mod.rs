//! The GraphQL adapter: object types wrapping entity models, the query root, DataLoaders and
//! scalars. Resolvers read the request context, call a catalogue function and wrap the result.

mod case_study;
mod connection;
mod error_codes;
mod geography;
mod ids;
mod loaders;
mod measure;
mod node;
mod organisation;
mod priority;
mod query;
mod scalars;

use std::sync::Arc;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, ErrorExtensions, Schema, SchemaBuilder, dataloader::DataLoader,
};
use sea_orm::DatabaseConnection;

pub use self::{loaders::Loaders, query::Query};
use crate::{catalogue::Visibility, error::AppError};

/// The schema served at `/graphql`.
pub type AppSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// What every resolver of one request may read.
pub struct RequestContext {
    pub db: DatabaseConnection,
    pub visibility: Visibility,
}

/// The schema with its limits; the same one `london-vision schema` prints.
pub fn schema_builder() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query, EmptyMutation, EmptySubscription).extension(error_codes::ErrorCodes)
}

/// The schema as served, with depth and complexity limits from configuration.
pub fn build_schema(max_depth: usize, max_complexity: usize) -> AppSchema {
    schema_builder().limit_depth(max_depth).limit_complexity(max_complexity).finish()
}

/// The SDL of the public contract, as `schema.graphql` holds it.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// Attaches a request's context and its own DataLoader (a loader's cache lives for one request).
pub fn with_request_data(request: async_graphql::Request, db: &DatabaseConnection, visibility: Visibility) -> async_graphql::Request {
    let loaders = Loaders { db: db.clone(), visibility };
    request
        .data(RequestContext { db: db.clone(), visibility })
        .data(DataLoader::new(loaders, tokio::spawn))
}

fn request<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

fn loader<'a>(ctx: &Context<'a>) -> &'a DataLoader<Loaders> {
    ctx.data_unchecked::<DataLoader<Loaders>>()
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

impl<T> OrGql<T> for Result<T, Arc<AppError>> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.as_ref().extend())
    }
}
