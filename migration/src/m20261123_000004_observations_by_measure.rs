//! Paging a measure's values walks them in id order: an index on (measure, id) lets a page
//! start at its cursor instead of reading the table's whole primary key.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_observations_measure_id")
                .table(Observations::Table)
                .col(Observations::MeasureId)
                .col(Observations::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

#[derive(DeriveIden)]
enum Observations {
    Table,
    MeasureId,
    Id,
}
