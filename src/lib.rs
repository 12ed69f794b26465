//! The London Vision partner API: the London health and care partnership's ten priorities,
//! their commitments and outcome measures, served over GraphQL to boroughs, ICSs and
//! front-end developers.

/// The pan-London catalogue: queries and rules, no GraphQL types.
pub mod catalogue;
/// Typed configuration from the environment.
pub mod config;
/// Database connection, migration and statement counting.
pub mod db;
/// The library's error type and its public codes.
pub mod error;
/// Pan-London analytics as pure functions (trajectories, later the picture).
pub mod picture;
/// Parsed value types: periods, slugs, ONS codes and the contract's enumerations.
pub mod values;
