//! The shape every change to the catalogue has, in one place: begin a write transaction
//! (immediate on SQLite), check the input whole and find the record (or refuse it with
//! `NOT_FOUND`), write the change with its audit event, and commit, or roll back with the user
//! errors and nothing written. Roles are checked by the caller's guard; areas by each resource.

use sea_orm::{DatabaseConnection, DatabaseTransaction};

use crate::{
    error::{AppResult, Outcome, UserError},
    values::UserErrorCode,
};

/// Begins the write transaction of a change.
pub async fn begin(db: &DatabaseConnection) -> AppResult<DatabaseTransaction> {
    Ok(crate::db::begin_write(db).await?)
}

/// A change to an optional field: `None` leaves it, `Some(None)` clears it.
pub type Change<T> = Option<Option<T>>;

/// A change refused for one reason, with nothing written.
pub fn refused<T>(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> AppResult<Outcome<T>> {
    Ok(Err(vec![UserError::new(field, code, message)]))
}

/// Commits when the write was done, rolls back when it was refused.
pub async fn finish<T>(tx: DatabaseTransaction, outcome: Outcome<T>) -> AppResult<Outcome<T>> {
    match &outcome {
        Ok(_) => tx.commit().await?,
        Err(_) => tx.rollback().await?,
    }
    Ok(outcome)
}
