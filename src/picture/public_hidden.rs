//! The public's hidden figures, kept with the current values.
//!
//! Which figures the disclosure rule hides (see `suppress`) depends on the viewer only
//! through the viewer's own areas. A viewer with none (anonymous callers, and partners
//! outside the area) sees the same answer as everyone else in that position, so it is worked
//! out once, when the values change, and kept in `current_values.public_hidden`: a page of
//! values then reads the few hidden ones by a partial index instead of every area's figures
//! of every period it shows. Viewers with areas of their own are worked out as before.
//!
//! The flags of a (measure, period) are worked out from all its current values together
//! (secondary suppression looks across the areas), so every change of a value or of a
//! measure's rule sets the flags it touches to NULL ("not known") and works out again every
//! (measure, period) that holds a NULL, in the same transaction. On PostgreSQL the changes
//! to one measure are serialised on an advisory lock, taken before its current values are
//! written, so each works out the flags from every value committed before it. A reader that
//! finds a NULL works that (measure, period) out from the values, as for a viewer with areas.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use entity::measure;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement, Value};

use super::{
    build::{self, Figure},
    load,
};
use crate::error::AppResult;

/// (measure, period) pairs worked out at a time.
const CHUNK: usize = 200;

/// Takes the measures' locks until the transaction ends (see `db::advisory_locks`).
pub async fn hold<C: ConnectionTrait>(db: &C, measure_ids: &BTreeSet<i64>) -> Result<(), DbErr> {
    crate::db::advisory_locks(db, crate::db::LockSpace::PublicHidden, measure_ids, false).await
}

/// Every measure with a disclosure rule.
pub async fn ruled_measures<C: ConnectionTrait>(db: &C) -> Result<BTreeSet<i64>, DbErr> {
    measure::Entity::find()
        .filter(measure::Column::SuppressUpTo.is_not_null())
        .all(db)
        .await
        .map(|ms| ms.into_iter().map(|m| m.id).collect())
}

/// The measures with a disclosure rule that a return carries values of.
pub async fn ruled_in_return<C: ConnectionTrait>(db: &C, return_id: i64) -> Result<BTreeSet<i64>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT DISTINCT o.measure_id FROM observations o JOIN measures m ON m.id = o.measure_id \
         WHERE o.return_id = {} AND m.suppress_up_to IS NOT NULL",
        placeholder(backend, 1)
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [return_id.into()])).await?;
    rows.iter().map(|r| r.try_get_by_index::<i64>(0)).collect()
}

/// Forgets the flags of one measure (its rule changed), and works them out again.
pub async fn refresh_measure<C: ConnectionTrait>(db: &C, measure_id: i64) -> AppResult<()> {
    hold(db, &BTreeSet::from([measure_id])).await?;
    let backend = db.get_database_backend();
    // NULL for a measure with a rule (worked out below), false for one without.
    let sql = format!(
        "UPDATE current_values SET public_hidden = \
           (SELECT CASE WHEN m.suppress_up_to IS NULL THEN false END FROM measures m WHERE m.id = {p}) \
         WHERE measure_id = {p}",
        p = placeholder(backend, 1)
    );
    // SQLite numbers each `?`: the id is given twice.
    let values: Vec<Value> = match backend {
        DbBackend::Postgres => vec![measure_id.into()],
        _ => vec![measure_id.into(), measure_id.into()],
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    fill(db, Some(&BTreeSet::from([measure_id]))).await
}

/// Works out the flags of every (measure, period) holding a NULL, of the measures `only`
/// (or of every measure with a rule). The caller holds the measures' locks (see `hold`), or
/// knows nobody writes meanwhile.
pub async fn fill<C: ConnectionTrait>(db: &C, only: Option<&BTreeSet<i64>>) -> AppResult<()> {
    let mut ruled = measure::Entity::find().filter(measure::Column::SuppressUpTo.is_not_null());
    if let Some(ids) = only {
        if ids.is_empty() {
            return Ok(());
        }
        ruled = ruled.filter(measure::Column::Id.is_in(ids.iter().copied()));
    }
    let measures: BTreeMap<i64, measure::Model> = ruled.all(db).await?.into_iter().map(|m| (m.id, m)).collect();
    if measures.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let ids = measures.keys().map(i64::to_string).collect::<Vec<_>>().join(", ");
    // The measures' ids are numbers from this database, written in as such.
    let unknown = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT DISTINCT measure_id, period FROM current_values \
                 WHERE public_hidden IS NULL AND measure_id IN ({ids})"
            ),
        ))
        .await?;
    let pairs: Vec<(i64, String)> =
        unknown.iter().map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?))).collect::<Result<_, DbErr>>()?;
    if pairs.is_empty() {
        return Ok(());
    }
    let (tree, _) = load::tree(db).await?;
    let rules: HashMap<i64, build::MeasureRules> =
        measures.values().map(|m| Ok((m.id, load::rules(m)?))).collect::<AppResult<_>>()?;
    for chunk in pairs.chunks(CHUNK) {
        let mut values = Vec::new();
        let list = tuples(backend, &mut values, chunk.iter().map(|(m, p)| vec![(*m).into(), p.clone().into()]));
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT measure_id, period, geography_id, value, numerator, denominator, lower_ci, upper_ci \
                     FROM current_values WHERE (measure_id, period) IN (VALUES {list})"
                ),
                values.clone(),
            ))
            .await?;
        let mut figures: HashMap<(i64, String), HashMap<i64, Figure>> = HashMap::new();
        for r in &rows {
            let key: (i64, String) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
            let (lower, upper): (Option<f64>, Option<f64>) = (r.try_get_by_index(6)?, r.try_get_by_index(7)?);
            let figure = Figure {
                value: r.try_get_by_index(3)?,
                numerator: r.try_get_by_index(4)?,
                denominator: r.try_get_by_index(5)?,
                interval: lower.zip(upper),
            };
            figures.entry(key).or_default().insert(r.try_get_by_index(2)?, figure);
        }
        let mut hidden: Vec<(i64, &str, i64)> = Vec::new();
        for (m, p) in chunk {
            let (Some(rules), Some(found)) = (rules.get(m), figures.get(&(*m, p.clone()))) else { continue };
            let computed = build::compute(rules, &tree, found);
            // Only the values kept here are flagged; areas added up from them have no row.
            for id in build::hidden(rules, &tree, &computed, &|_| false) {
                if found.contains_key(&id) {
                    hidden.push((*m, p.as_str(), id));
                }
            }
        }
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("UPDATE current_values SET public_hidden = false WHERE (measure_id, period) IN (VALUES {list})"),
            values,
        ))
        .await?;
        for part in hidden.chunks(CHUNK) {
            let mut values = Vec::new();
            let list = tuples(
                backend,
                &mut values,
                part.iter().map(|(m, p, g)| vec![(*m).into(), (*p).to_owned().into(), (*g).into()]),
            );
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE current_values SET public_hidden = true WHERE (measure_id, period, geography_id) IN (VALUES {list})"
                ),
                values,
            ))
            .await?;
        }
    }
    Ok(())
}

/// What the kept flags say of the (measure, period) pairs `wanted`: the hidden areas of each
/// pair whose flags are all known, and the pairs holding a flag not yet worked out. One
/// statement, reading only hidden and unknown rows.
pub async fn read<C: ConnectionTrait>(
    db: &C,
    wanted: &BTreeSet<(i64, String)>,
) -> AppResult<(HashMap<(i64, String), BTreeSet<i64>>, BTreeSet<(i64, String)>)> {
    let mut hidden: HashMap<(i64, String), BTreeSet<i64>> =
        wanted.iter().map(|k| (k.clone(), BTreeSet::new())).collect();
    let mut unknown = BTreeSet::new();
    if wanted.is_empty() {
        return Ok((hidden, unknown));
    }
    let backend = db.get_database_backend();
    let measures: BTreeSet<i64> = wanted.iter().map(|(m, _)| *m).collect();
    let periods: BTreeSet<&str> = wanted.iter().map(|(_, p)| p.as_str()).collect();
    let mut values: Vec<Value> = Vec::new();
    let ids = measures.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let period_list = periods
        .iter()
        .map(|p| {
            values.push((*p).to_owned().into());
            placeholder(backend, values.len())
        })
        .collect::<Vec<_>>()
        .join(", ");
    // The measures' ids are numbers from this database; the periods are parameters.
    let sql = format!(
        "SELECT measure_id, period, geography_id, public_hidden FROM current_values \
         WHERE measure_id IN ({ids}) AND period IN ({period_list}) AND public_hidden IS NOT FALSE"
    );
    for r in db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await? {
        let key: (i64, String) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
        let Some(set) = hidden.get_mut(&key) else { continue };
        match r.try_get_by_index::<Option<bool>>(3)? {
            Some(true) => {
                set.insert(r.try_get_by_index(2)?);
            }
            Some(false) => {}
            None => {
                unknown.insert(key);
            }
        }
    }
    for key in &unknown {
        hidden.remove(key);
    }
    Ok((hidden, unknown))
}

/// The `n`th (from 1) parameter's placeholder.
fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// Rows for a `VALUES` list, `(a, b), (c, d)`, as placeholders, their values pushed to
/// `values` (SQLite compares row values only with a subquery's rows, so `IN (VALUES ...)`).
fn tuples(backend: DbBackend, values: &mut Vec<Value>, rows: impl Iterator<Item = Vec<Value>>) -> String {
    let mut out = Vec::new();
    for row in rows {
        let mut cells = Vec::with_capacity(row.len());
        for v in row {
            values.push(v);
            cells.push(placeholder(backend, values.len()));
        }
        out.push(format!("({})", cells.join(", ")));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_values_number_their_placeholders_after_those_before() {
        let mut values: Vec<Value> = vec![1_i64.into()];
        let rows = [vec![Value::from(2_i64), "2023".into()], vec![3_i64.into(), "2024".into()]];
        assert_eq!(tuples(DbBackend::Postgres, &mut values, rows.clone().into_iter()), "($2, $3), ($4, $5)");
        assert_eq!(values.len(), 5);
        let mut values = Vec::new();
        assert_eq!(tuples(DbBackend::Sqlite, &mut values, rows.into_iter()), "(?, ?), (?, ?)");
    }
}
