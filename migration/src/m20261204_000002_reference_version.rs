//! The catalogue's measures and the periods closed to submissions grow the directory version
//! too (`data_generation.directory`, in the same transaction as the change), so that the
//! server keeps them beside the directory and checks a return against them without reading
//! them each time.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose rows decide how a return is checked.
const WATCHED: &[&str] = &["measures", "period_locks"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for table in WATCHED {
            match m.get_database_backend() {
                sea_orm_migration::sea_orm::DbBackend::Postgres => {
                    // The function is the one the directory's own tables use.
                    db.execute_unprepared(&format!(
                        "CREATE CONSTRAINT TRIGGER {table}_directory AFTER INSERT OR UPDATE OR DELETE ON {table} \
                         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_directory_version()"
                    ))
                    .await?;
                }
                _ => {
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
