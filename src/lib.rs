//! The London Vision partner API: the London health and care partnership's ten priorities,
//! their commitments and outcome measures, served over GraphQL to boroughs, ICSs and
//! front-end developers.

/// The audit trail of every change.
pub mod audit;
/// Partner identity: tokens, principals, scope.
pub mod auth;
/// The pan-London catalogue: queries and rules, no GraphQL types.
pub mod catalogue;
/// The command line: serve, migrate, seed, schema.
pub mod cli;
/// Typed configuration from the environment.
pub mod config;
/// Database connection, migration and statement counting.
pub mod db;

pub mod demo;
/// The library's error type and its public codes.
pub mod error;
/// What happened to returns, told to live subscriptions on every server process.
pub mod events;
/// The GraphQL adapter: object types, query root, DataLoaders, scalars.
pub mod graphql;
/// The HTTP surface: router, GraphiQL, health and metrics.
pub mod http;
/// Pan-London analytics as pure functions (trajectories, later the picture).
pub mod picture;
/// Signed receipts of returns: EdDSA compact JWS and the server's key set.
pub mod receipts;
/// The submission pipeline for returns: check, then write whole or not at all.
pub mod returns;
/// Building and running the application.
pub mod startup;
/// Logging set-up.
pub mod telemetry;
/// Parsed value types: periods, slugs, ONS codes and the contract's enumerations.
pub mod values;
/// Webhooks: organisations told of their returns' progress, by signed, retried deliveries.
pub mod webhooks;
