//! PostgreSQL's bulk path for writing a return: a batch's current values looked up, and its
//! new revisions inserted, each in one statement whose rows arrive as arrays
//! (`UNNEST($1::bigint[], ...)`), rather than one parameter per cell. The arrays travel in
//! PostgreSQL's binary form (no text to build, quote or parse); no caller text is ever part
//! of the SQL. SQLite keeps the multi-row `INSERT` (see `write`).

use entity::observation;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, FromQueryResult, Statement, Value};

use super::ValidRow;

/// Rows looked up and written at a time on PostgreSQL. Few large statements rather than many:
/// besides the round trips, the driver (sqlx 0.9.0) leaves Nagle's algorithm on, so the tail
/// of each message longer than a TCP segment can wait for the server's delayed ACK (up to
/// 40 ms on Linux; counted in `nstat`'s `TcpExtDelayedACKs`). 10,000 rows keep a batch's
/// memory to a few MiB (bench/RESULTS.md).
pub(super) const BATCH: usize = 10_000;

/// Bits of a row's `absent` mask: which optional figures the row does not have.
const NO_NUMERATOR: i32 = 1;
const NO_DENOMINATOR: i32 = 2;
const NO_LOWER_CI: i32 = 4;
const NO_UPPER_CI: i32 = 8;
const NO_NOTE: i32 = 16;
const NO_REPLACED: i32 = 32;

/// The optional figures of a batch as arrays without NULLs (the driver's binary arrays carry
/// none): an absent figure is written as 0 (or empty text) and its bit set in `absent`, and
/// the statement reads it back as NULL.
#[derive(Debug, Default, PartialEq)]
struct Optional {
    numerator: Vec<f64>,
    denominator: Vec<f64>,
    lower_ci: Vec<f64>,
    upper_ci: Vec<f64>,
    note: Vec<String>,
    replaced: Vec<f64>,
    absent: Vec<i32>,
}

impl Optional {
    fn of(rows: &[(&ValidRow, i32, Option<f64>)]) -> Self {
        let mut out = Self::default();
        for (row, _, was) in rows {
            let mut absent = 0;
            for (figure, list, bit) in [
                (row.numerator, &mut out.numerator, NO_NUMERATOR),
                (row.denominator, &mut out.denominator, NO_DENOMINATOR),
                (row.lower_ci, &mut out.lower_ci, NO_LOWER_CI),
                (row.upper_ci, &mut out.upper_ci, NO_UPPER_CI),
                (*was, &mut out.replaced, NO_REPLACED),
            ] {
                list.push(figure.unwrap_or_default());
                if figure.is_none() {
                    absent |= bit;
                }
            }
            out.note.push(row.note.clone().unwrap_or_default());
            if row.note.is_none() {
                absent |= NO_NOTE;
            }
            out.absent.push(absent);
        }
        out
    }
}

/// Of the (measure, period) pairs of `keys`, those with any value already: a short statement
/// (a batch names few pairs), by the index on (measure, period, area), so that a batch of new
/// periods skips the lookup of its keys one by one.
async fn pairs_with_values(
    tx: &DatabaseTransaction,
    keys: &[(i64, i64, &str)],
) -> Result<std::collections::HashSet<(i64, String)>, DbErr> {
    let pairs: std::collections::BTreeSet<(i64, &str)> = keys.iter().map(|k| (k.0, k.2)).collect();
    let sql = "SELECT k.m, k.p FROM UNNEST($1::bigint[], $2::text[]) AS k(m, p) \
         WHERE EXISTS (SELECT 1 FROM observations o WHERE o.measure_id = k.m AND o.period = k.p)";
    let values: Vec<Value> = vec![
        pairs.iter().map(|p| p.0).collect::<Vec<i64>>().into(),
        pairs.iter().map(|p| p.1.to_owned()).collect::<Vec<String>>().into(),
    ];
    let rows = tx.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    rows.iter().map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?))).collect()
}

/// What a new revision of one (measure, area, period) needs to know of the ones before it.
pub(super) struct Latest {
    pub key: (i64, i64, String),
    /// The highest revision number used.
    pub max_revision: i32,
    /// The highest revision carried by a return approved or in review (the current figures),
    /// with that return's status.
    pub live: Option<(observation::Model, String)>,
}

/// For each (measure, area, period) of `keys` that has values: its highest revision number
/// and its current figures. Two index probes a key (the highest revision by the unique index,
/// and the newest revision whose return is approved or in review, walking the same index
/// backwards), however many revisions a value has had: a value corrected or resubmitted
/// thousands of times costs what a new one does. Keys of pairs without values (new periods)
/// are not looked up at all.
pub(super) async fn latest(tx: &DatabaseTransaction, keys: &[(i64, i64, &str)]) -> Result<Vec<Latest>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let known = pairs_with_values(tx, keys).await?;
    let keys: Vec<&(i64, i64, &str)> = keys.iter().filter(|k| known.contains(&(k.0, k.2.to_owned()))).collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT k.m AS key_measure, k.g AS key_area, k.p AS key_period, \
           (SELECT max(x.revision) FROM observations x \
             WHERE x.measure_id = k.m AND x.geography_id = k.g AND x.period = k.p) AS max_revision, \
           live.* \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) AS k(m, g, p) \
         LEFT JOIN LATERAL (SELECT o.*, r.status AS return_status FROM observations o \
             JOIN returns r ON r.id = o.return_id \
             WHERE o.measure_id = k.m AND o.geography_id = k.g AND o.period = k.p \
               AND r.status IN ('{approved}', '{submitted}') \
             ORDER BY o.revision DESC LIMIT 1) AS live ON true",
        approved = crate::values::ReturnStatus::Approved.as_str(),
        submitted = crate::values::ReturnStatus::Submitted.as_str(),
    );
    let values: Vec<sea_orm::Value> = vec![
        Value::from(keys.iter().map(|k| k.0).collect::<Vec<i64>>()),
        Value::from(keys.iter().map(|k| k.1).collect::<Vec<i64>>()),
        Value::from(keys.iter().map(|k| k.2.to_owned()).collect::<Vec<String>>()),
    ];
    let rows = tx.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    rows.iter()
        .map(|row| {
            let live = match row.try_get::<Option<i64>>("", "id")? {
                Some(_) => {
                    Some((observation::Model::from_query_result(row, "")?, row.try_get::<String>("", "return_status")?))
                }
                None => None,
            };
            Ok(Latest {
                key: (row.try_get("", "key_measure")?, row.try_get("", "key_area")?, row.try_get("", "key_period")?),
                max_revision: row.try_get::<Option<i32>>("", "max_revision")?.unwrap_or_default(),
                live,
            })
        })
        .collect()
}

/// Inserts the new revisions `rows` of one return: each with its revision number and the
/// current value it replaces (if any).
pub(super) async fn insert(
    tx: &DatabaseTransaction,
    rows: &[(&ValidRow, i32, Option<f64>)],
    return_id: i64,
    submitted_at: chrono::DateTime<chrono::Utc>,
    submitted_by: &str,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO observations (measure_id, geography_id, period, period_start, period_end, revision, \
           value, numerator, denominator, lower_ci, upper_ci, note, source_row, replaced_value, return_id, \
           submitted_at, submitted_by) \
         SELECT m, g, p, ps, pe, rev, v, CASE WHEN a & {NO_NUMERATOR} = 0 THEN n END, \
           CASE WHEN a & {NO_DENOMINATOR} = 0 THEN d END, CASE WHEN a & {NO_LOWER_CI} = 0 THEN lo END, \
           CASE WHEN a & {NO_UPPER_CI} = 0 THEN hi END, CASE WHEN a & {NO_NOTE} = 0 THEN note END, r, \
           CASE WHEN a & {NO_REPLACED} = 0 THEN was END, $16, $17, $18 \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::date[], $5::date[], $6::int[], $7::float8[], \
           $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::int[], $14::float8[], \
           $15::int[]) AS t(m, g, p, ps, pe, rev, v, n, d, lo, hi, note, r, was, a)"
    );
    let optional = Optional::of(rows);
    let values: Vec<Value> = vec![
        rows.iter().map(|(r, ..)| r.measure_id).collect::<Vec<i64>>().into(),
        rows.iter().map(|(r, ..)| r.geography_id).collect::<Vec<i64>>().into(),
        rows.iter().map(|(r, ..)| r.period.clone()).collect::<Vec<String>>().into(),
        rows.iter().map(|(r, ..)| r.period_start).collect::<Vec<chrono::NaiveDate>>().into(),
        rows.iter().map(|(r, ..)| r.period_end).collect::<Vec<chrono::NaiveDate>>().into(),
        rows.iter().map(|(_, rev, _)| *rev).collect::<Vec<i32>>().into(),
        rows.iter().map(|(r, ..)| r.value).collect::<Vec<f64>>().into(),
        optional.numerator.into(),
        optional.denominator.into(),
        optional.lower_ci.into(),
        optional.upper_ci.into(),
        optional.note.into(),
        rows.iter().map(|(r, ..)| r.row).collect::<Vec<i32>>().into(),
        optional.replaced.into(),
        optional.absent.into(),
        return_id.into(),
        submitted_at.into(),
        submitted_by.to_owned().into(),
    ];
    tx.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn row(numerator: Option<f64>, note: Option<&str>, upper: Option<f64>) -> ValidRow {
        let day = NaiveDate::from_ymd_opt(2024, 3, 31).expect("a date");
        ValidRow {
            row: 2,
            measure_id: 1,
            measure: "m".into(),
            geography_id: 2,
            geography: "E09000007".into(),
            period: "2024".into(),
            period_start: day,
            period_end: day,
            value: 1.5,
            numerator,
            denominator: None,
            lower_ci: Some(-0.25),
            upper_ci: upper,
            note: note.map(str::to_owned),
        }
    }

    #[test]
    fn absent_figures_are_written_as_zero_with_their_bit_set_and_present_ones_as_they_are() {
        let a = row(Some(12.0), Some(r#"a "quoted" \ note"#), None);
        let b = row(None, None, Some(0.0));
        let got = Optional::of(&[(&a, 1, None), (&b, 2, Some(7.25))]);
        assert_eq!(
            got,
            Optional {
                numerator: vec![12.0, 0.0],
                denominator: vec![0.0, 0.0],
                lower_ci: vec![-0.25, -0.25],
                upper_ci: vec![0.0, 0.0],
                note: vec![r#"a "quoted" \ note"#.to_owned(), String::new()],
                replaced: vec![0.0, 7.25],
                absent: vec![NO_DENOMINATOR | NO_UPPER_CI | NO_REPLACED, NO_NUMERATOR | NO_DENOMINATOR | NO_NOTE],
            }
        );
        // Each bit names one figure: no two share one.
        let bits = [NO_NUMERATOR, NO_DENOMINATOR, NO_LOWER_CI, NO_UPPER_CI, NO_NOTE, NO_REPLACED];
        assert_eq!(bits.iter().fold(0, |all, b| all | b), 63);
    }
}
