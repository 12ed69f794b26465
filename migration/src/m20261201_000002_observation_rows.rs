//! A value keeps the row of its return that carried it and the value it replaced, so that a
//! return's outcome can be read back, page by page, long after it was written (by an index
//! on (return, id) in place of the one on return alone).
//!
//! On PostgreSQL the foreign keys from `observations` to `measures`, `geographies` and
//! `returns` are replaced by a guard on the referenced side: a statement that deletes a
//! measure, area or return still referred to by a value is refused. Nothing in the service
//! deletes them, and the per-row key checks were half the cost of writing a large return
//! (measured in `bench/RESULTS.md`: 100,000 rows inserted in 4.2-5.0 s with them, 1.7-2.4 s
//! without). Every id written is resolved from the catalogue in the same pass that writes it.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (referenced table, column of `observations` that refers to it).
const REFERENCED: &[(&str, &str)] =
    &[("measures", "measure_id"), ("geographies", "geography_id"), ("returns", "return_id")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Observations::Table)
                .add_column(ColumnDef::new(Observations::SourceRow).integer().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Observations::Table)
                .add_column(ColumnDef::new(Observations::ReplacedValue).double().null())
                .to_owned(),
        )
        .await?;
        // A return's values are paged in id order (`Return.changes`, `Return.observations`):
        // an index on (return, id) starts each page at its cursor.
        m.create_index(
            Index::create()
                .name("ix_observations_return_id")
                .table(Observations::Table)
                .col(Observations::ReturnId)
                .col(Observations::Id)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name("ix_observations_return").table(Observations::Table).to_owned()).await?;
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE OR REPLACE FUNCTION refuse_delete_of_observed() RETURNS trigger LANGUAGE plpgsql AS $$ \
             DECLARE referred boolean; \
             BEGIN \
               EXECUTE format('SELECT EXISTS (SELECT 1 FROM observations o JOIN deleted_rows d ON o.%I = d.id)', TG_ARGV[0]) \
                 INTO referred; \
               IF referred THEN \
                 RAISE EXCEPTION 'values still refer to a deleted row of %', TG_TABLE_NAME \
                   USING ERRCODE = 'foreign_key_violation'; \
               END IF; \
               RETURN NULL; \
             END $$",
        )
        .await?;
        for (table, column) in REFERENCED {
            db.execute_unprepared(&format!(
                "ALTER TABLE observations DROP CONSTRAINT IF EXISTS observations_{column}_fkey"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_observed AFTER DELETE ON {table} REFERENCING OLD TABLE AS deleted_rows \
                 FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete_of_observed('{column}')"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}

#[derive(DeriveIden)]
enum Observations {
    Table,
    SourceRow,
    ReplacedValue,
    ReturnId,
    Id,
}
