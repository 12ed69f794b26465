//! A second counter beside the data generation: `data_generation.directory` grows in the same
//! transaction as any change to who is who (organisations, geographies, revoked tokens). The
//! server keeps organisations, the geography's tree and the revoked tokens in memory and checks
//! this counter, in the statement every request already runs, before it trusts them: a token
//! is authenticated without SQL of its own, and a revocation or a move made through any
//! replica (or the command line, or by hand) holds from the next request on every replica.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose rows decide who a token stands for and where it may act.
const WATCHED: &[&str] = &["organisations", "geographies", "revoked_tokens"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match m.get_database_backend() {
            sea_orm_migration::sea_orm::DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE data_generation ADD COLUMN IF NOT EXISTS directory bigint NOT NULL DEFAULT 0",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION bump_directory_version() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN UPDATE data_generation SET directory = directory + 1 WHERE id = 1; RETURN NULL; END $$",
                )
                .await?;
                for table in WATCHED {
                    db.execute_unprepared(&format!(
                        "CREATE CONSTRAINT TRIGGER {table}_directory AFTER INSERT OR UPDATE OR DELETE ON {table} \
                         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_directory_version()"
                    ))
                    .await?;
                }
            }
            _ => {
                db.execute_unprepared("ALTER TABLE data_generation ADD COLUMN directory integer NOT NULL DEFAULT 0")
                    .await?;
                for table in WATCHED {
                    for (event, name) in [("INSERT", "insert"), ("UPDATE", "update"), ("DELETE", "delete")] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER IF NOT EXISTS {table}_directory_{name} AFTER {event} ON {table} \
                             BEGIN UPDATE data_generation SET directory = directory + 1 WHERE id = 1; END"
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
