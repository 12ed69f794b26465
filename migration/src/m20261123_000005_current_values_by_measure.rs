//! An anonymous caller pages a measure's current approved values in id order: an index on
//! `current_values (measure_id, observation_id)` lets each page read only its own rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_current_values_by_measure")
                .table(CurrentValues::Table)
                .col(CurrentValues::MeasureId)
                .col(CurrentValues::ObservationId)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

#[derive(DeriveIden)]
enum CurrentValues {
    Table,
    MeasureId,
    ObservationId,
}
