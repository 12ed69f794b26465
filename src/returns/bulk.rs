//! PostgreSQL's bulk path for writing a return: a batch's current values looked up, and its
//! new revisions inserted, each in one statement whose rows arrive as arrays
//! (`UNNEST($1::bigint[], ...)`), rather than one parameter per cell. Every array is sent as
//! one text parameter in PostgreSQL's array syntax, each element quoted, so no caller text is
//! ever part of the SQL. SQLite keeps the multi-row `INSERT` (see `write`).

use std::fmt::Write as _;

use entity::observation;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, FromQueryResult, Statement};

use super::ValidRow;

/// Rows looked up and written at a time on PostgreSQL.
pub(super) const BATCH: usize = 5_000;

/// An array literal in PostgreSQL's syntax: each element written by `write`, `None` as `NULL`.
fn array<T>(items: impl Iterator<Item = Option<T>>, write: impl Fn(&mut String, T)) -> String {
    let mut out = String::from("{");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            None => out.push_str("NULL"),
            Some(v) => write(&mut out, v),
        }
    }
    out.push('}');
    out
}

/// An array literal of text elements: each element double-quoted, with `\` and `"` escaped.
fn text_array<'a>(items: impl Iterator<Item = Option<&'a str>>) -> String {
    array(items, |out, text| {
        out.push('"');
        for c in text.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    })
}

/// An array literal of numbers (written as Rust writes them, which PostgreSQL reads back
/// exactly: the shortest form that round-trips).
fn number_array<T: std::fmt::Display>(items: impl Iterator<Item = Option<T>>) -> String {
    array(items, |out, n| {
        let _ = write!(out, "{n}");
    })
}

/// Every revision of each (measure, area, period) of `keys`, oldest first, with the status
/// of the return that carried it: one statement, by the unique index.
pub(super) async fn revisions(
    tx: &DatabaseTransaction,
    keys: &[(i64, i64, &str)],
) -> Result<Vec<(observation::Model, String)>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = "SELECT o.*, r.status AS return_status \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) AS k(m, g, p) \
         JOIN observations o ON o.measure_id = k.m AND o.geography_id = k.g AND o.period = k.p \
         JOIN returns r ON r.id = o.return_id \
         ORDER BY o.revision";
    let values: Vec<sea_orm::Value> = vec![
        number_array(keys.iter().map(|k| Some(k.0))).into(),
        number_array(keys.iter().map(|k| Some(k.1))).into(),
        text_array(keys.iter().map(|k| Some(k.2))).into(),
    ];
    let rows = tx.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    rows.iter()
        .map(|row| Ok((observation::Model::from_query_result(row, "")?, row.try_get::<String>("", "return_status")?)))
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
    let sql = "INSERT INTO observations (measure_id, geography_id, period, period_start, period_end, revision, \
           value, numerator, denominator, lower_ci, upper_ci, note, source_row, replaced_value, return_id, \
           submitted_at, submitted_by) \
         SELECT m, g, p, ps, pe, rev, v, n, d, lo, hi, note, r, was, $15, $16, $17 \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::date[], $5::date[], $6::int[], $7::float8[], \
           $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::int[], $14::float8[]) \
           AS t(m, g, p, ps, pe, rev, v, n, d, lo, hi, note, r, was)";
    let values: Vec<sea_orm::Value> = vec![
        number_array(rows.iter().map(|(r, ..)| Some(r.measure_id))).into(),
        number_array(rows.iter().map(|(r, ..)| Some(r.geography_id))).into(),
        text_array(rows.iter().map(|(r, ..)| Some(r.period.as_str()))).into(),
        number_array(rows.iter().map(|(r, ..)| Some(r.period_start))).into(),
        number_array(rows.iter().map(|(r, ..)| Some(r.period_end))).into(),
        number_array(rows.iter().map(|(_, rev, _)| Some(*rev))).into(),
        number_array(rows.iter().map(|(r, ..)| Some(r.value))).into(),
        number_array(rows.iter().map(|(r, ..)| r.numerator)).into(),
        number_array(rows.iter().map(|(r, ..)| r.denominator)).into(),
        number_array(rows.iter().map(|(r, ..)| r.lower_ci)).into(),
        number_array(rows.iter().map(|(r, ..)| r.upper_ci)).into(),
        text_array(rows.iter().map(|(r, ..)| r.note.as_deref())).into(),
        number_array(rows.iter().map(|(r, ..)| Some(r.row))).into(),
        number_array(rows.iter().map(|(.., was)| *was)).into(),
        return_id.into(),
        submitted_at.into(),
        submitted_by.to_owned().into(),
    ];
    tx.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{number_array, text_array};

    #[test]
    fn arrays_quote_every_text_and_write_numbers_that_read_back_exactly() {
        let texts = [Some("plain"), Some(r#"a "quoted" \ note, {with} braces"#), None, Some(""), Some("NULL")];
        assert_eq!(text_array(texts.into_iter()), r#"{"plain","a \"quoted\" \\ note, {with} braces",NULL,"","NULL"}"#);
        assert_eq!(
            number_array([Some(0.1_f64), None, Some(1e-7), Some(12_345_678.5)].into_iter()),
            "{0.1,NULL,0.0000001,12345678.5}"
        );
        assert_eq!(number_array::<i64>(std::iter::empty()), "{}");
    }
}
