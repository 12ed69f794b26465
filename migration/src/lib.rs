//! Forward-only schema migrations. A landed migration is never edited: every change to the
//! schema is a new file, so a database created on any day reaches the same shape.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_london_vision;
mod m20261123_000001_issued_tokens;
mod m20261123_000002_picture;
mod m20261123_000003_current_values;
mod m20261123_000004_observations_by_measure;
mod m20261123_000005_current_values_by_measure;
mod m20261201_000001_data_generation;
mod m20261201_000002_observation_rows;
mod m20261201_000003_webhooks;
mod m20261201_000004_public_hidden;
mod m20261204_000001_directory_version;
mod m20261204_000002_reference_version;

/// The list of migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_london_vision::Migration),
            Box::new(m20261123_000001_issued_tokens::Migration),
            Box::new(m20261123_000002_picture::Migration),
            Box::new(m20261123_000003_current_values::Migration),
            Box::new(m20261123_000004_observations_by_measure::Migration),
            Box::new(m20261123_000005_current_values_by_measure::Migration),
            Box::new(m20261201_000001_data_generation::Migration),
            Box::new(m20261201_000002_observation_rows::Migration),
            Box::new(m20261201_000003_webhooks::Migration),
            Box::new(m20261201_000004_public_hidden::Migration),
            Box::new(m20261204_000001_directory_version::Migration),
            Box::new(m20261204_000002_reference_version::Migration),
        ]
    }
}
