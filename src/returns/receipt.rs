//! What a return's receipt says, read from the return as written.

use entity::{organisation, return_};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Statement};

use crate::{
    error::AppResult,
    receipts::{CanonicalValue, Digester, ISSUER, ReceiptClaims},
};

/// Values read at a time.
const PAGE: u64 = 10_000;

#[derive(FromQueryResult)]
struct Row {
    measure: String,
    geography: String,
    period: String,
    revision: i32,
    value: f64,
    numerator: Option<f64>,
    denominator: Option<f64>,
    lower_ci: Option<f64>,
    upper_ci: Option<f64>,
    note: Option<String>,
}

/// The claims of a return's receipt: its organisation, id, submitter, time, and the count
/// and digest of the values it wrote.
pub async fn claims<C: ConnectionTrait>(db: &C, ret: &return_::Model) -> AppResult<ReceiptClaims> {
    let org = organisation::Entity::find_by_id(ret.organisation_id).one(db).await?;
    let backend = db.get_database_backend();
    let p = if backend == DbBackend::Postgres { "$1" } else { "?" };
    // In byte order (the `C` collation on PostgreSQL, SQLite's own), as `digest` sorts, and
    // read a page at a time: a return of 400,000 values is never held whole.
    let c = if backend == DbBackend::Postgres { " COLLATE \"C\"" } else { "" };
    let mut digester = Digester::default();
    let mut offset: u64 = 0;
    loop {
        let rows = Row::find_by_statement(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT m.slug AS measure, g.code AS geography, o.period, o.revision, o.value, o.numerator, \
                 o.denominator, o.lower_ci, o.upper_ci, o.note FROM observations o \
                 JOIN measures m ON m.id = o.measure_id JOIN geographies g ON g.id = o.geography_id \
                 WHERE o.return_id = {p} ORDER BY m.slug{c}, g.code{c}, o.period{c} LIMIT {PAGE} OFFSET {offset}"
            ),
            [ret.id.into()],
        ))
        .all(db)
        .await?;
        let n = rows.len() as u64;
        for r in rows {
            digester.push(&CanonicalValue {
                measure: r.measure,
                geography: r.geography,
                period: r.period,
                revision: r.revision,
                value: r.value,
                numerator: r.numerator,
                denominator: r.denominator,
                lower_ci: r.lower_ci,
                upper_ci: r.upper_ci,
                note: r.note,
            });
        }
        if n < PAGE {
            break;
        }
        offset += n;
    }
    let count = digester.count();
    Ok(ReceiptClaims {
        iss: ISSUER.into(),
        sub: org.map(|o| o.slug).unwrap_or_default(),
        return_id: crate::values::global_id::encode(crate::values::global_id::NodeType::Return, ret.id),
        rid: ret.id,
        iat: ret.submitted_at.timestamp(),
        submitted_by: ret.submitted_by.clone(),
        values: count,
        digest: digester.finish(),
    })
}
