//! `current_values.public_hidden`: whether the disclosure rule hides the value from a viewer
//! with no areas of its own (the public, and partners outside the area), kept as values are
//! approved so that a page of values need not read every area's figures to know. NULL means
//! not yet worked out (the service works those out at start and reads them as unknown until
//! then); values of measures without a disclosure rule are never hidden. A partial index
//! holds only the hidden and the unknown, so reading them is a few rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(CurrentValues::Table)
                .add_column(ColumnDef::new(CurrentValues::PublicHidden).boolean().null())
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared(
            "UPDATE current_values SET public_hidden = false \
             WHERE measure_id IN (SELECT id FROM measures WHERE suppress_up_to IS NULL)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_current_values_public_hidden ON current_values (measure_id, period, geography_id) \
             WHERE public_hidden IS NOT FALSE",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

#[derive(DeriveIden)]
enum CurrentValues {
    Table,
    PublicHidden,
}
