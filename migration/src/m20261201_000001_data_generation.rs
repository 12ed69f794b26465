//! A counter of published-data changes: `data_generation.generation` grows in the same
//! transaction as any change that an anonymous reader could see (a return written, approved
//! or rejected; the catalogue, geographies, organisations, case studies, series breaks or
//! locks edited). The server keys its cache of anonymous answers on it, so a cached answer
//! is served only while the data it was built from is still what the database holds, on
//! every replica.
//!
//! Values and current values change only together with their return's row, so those two
//! large tables carry no trigger of their own. On PostgreSQL the count is taken by a
//! deferred constraint trigger: the counter's row is locked only while a transaction
//! commits, so writers do not queue behind each other's bulk inserts.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose changes an anonymous reader can see (beside values, which follow
/// their return).
const WATCHED: &[&str] = &[
    "returns",
    "measures",
    "priorities",
    "commitments",
    "geographies",
    "organisations",
    "organisation_members",
    "case_studies",
    "case_study_geographies",
    "case_study_organisations",
    "case_study_priorities",
    "series_breaks",
    "period_locks",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS data_generation (id integer PRIMARY KEY, generation bigint NOT NULL)",
        )
        .await?;
        db.execute_unprepared("INSERT INTO data_generation (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
            .await?;
        match m.get_database_backend() {
            sea_orm_migration::sea_orm::DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION bump_data_generation() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN UPDATE data_generation SET generation = generation + 1 WHERE id = 1; RETURN NULL; END $$",
                )
                .await?;
                for table in WATCHED {
                    db.execute_unprepared(&format!(
                        "CREATE CONSTRAINT TRIGGER {table}_data_generation AFTER INSERT OR UPDATE OR DELETE ON {table} \
                         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_data_generation()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in WATCHED {
                    for (event, name) in [("INSERT", "insert"), ("UPDATE", "update"), ("DELETE", "delete")] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER IF NOT EXISTS {table}_data_generation_{name} AFTER {event} ON {table} \
                             BEGIN UPDATE data_generation SET generation = generation + 1 WHERE id = 1; END"
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the London Vision schema is forward-only".into()))
    }
}
