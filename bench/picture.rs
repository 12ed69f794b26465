//! Latency of the pan-London picture under load: 32 clients at once asking for the picture of
//! a random measure (latest period: London, the ICSs and the boroughs with values,
//! intervals, comparisons, ranks, quintiles and trends) from a database of about a million
//! observations.
//!
//! Set-up, outside the timing: the application starts as production does (migrated and
//! seeded) on `DATABASE_URL` (a fresh PostgreSQL database is best; SQLite by default), and the
//! benchmark writes the observations straight into it: every measure, every area that
//! submits for it, up to 120 periods back from 2024 and six revisions each (the sixth still
//! in review), in multi-row inserts. Then each client sends `REQUESTS / CLIENTS` queries one
//! after another over HTTP; the program prints the latency percentiles and the throughput.
//!
//! Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/lv_bench_picture cargo bench --bench picture`
//! (the database must exist and be empty: `createdb -U postgres -h 127.0.0.1 lv_bench_picture`).

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use london_vision::{
    config::Config,
    startup::Application,
    values::{GeographyLevel, Period, PeriodType, ValueType},
};
use sea_orm::{ConnectionTrait, Database, DbBackend, EntityTrait, Statement, Value};

/// Clients at once and requests in all, unless `BENCH_CLIENTS` and `BENCH_REQUESTS` say otherwise.
const CLIENTS: usize = 32;
const REQUESTS: usize = 6_400;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
const PERIODS: usize = 120;
const REVISIONS: i32 = 6;
const ROWS_A_STATEMENT: usize = 2_000;

const QUERY: &str = r#"query($m: String!) { picture(measure: $m) { period aggregation
  london { value lowerCi upperCi source coverage { expected reported } trend { direction } }
  ics { geography { code } value lowerCi upperCi comparedToLondon rank trend { direction } }
  boroughs { geography { code name } value numerator denominator lowerCi upperCi
    comparedToLondon comparedToIcs rank quintile suppressed trend { direction assessment } }
} }"#;

/// The smallest picture query: only the period (the work of loading and computing, without
/// the answer's fields); `BENCH_QUERY=minimal` sends it instead of the full one.
const MINIMAL: &str = r#"query($m: String!) { picture(measure: $m) { period } }"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lv-picture-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()));
    let config = Config::for_tests(url.clone(), dir.clone());
    let app = Application::build(&config).await?;
    let address = format!("http://{}/graphql", app.local_addr());
    tokio::spawn(app.run_until_stopped());

    let db = Database::connect(&url).await?;
    let backend = db.get_database_backend();
    let loaded = Instant::now();
    let measures = entity::measure::Entity::find().all(&db).await?;
    let areas = entity::geography::Entity::find().all(&db).await?;
    let gla = entity::organisation::Entity::find()
        .all(&db)
        .await?
        .into_iter()
        .find(|o| o.slug == "gla")
        .ok_or_else(|| anyhow::anyhow!("the seed has the GLA"))?;
    let reviewed = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().ok_or_else(|| anyhow::anyhow!("a date"))?;
    let mut rows: u64 = 0;
    let existing = db
        .query_one_raw(Statement::from_string(backend, "SELECT count(*) AS n FROM observations"))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    // A database loaded by an earlier run is used as it is.
    for m in measures.iter().filter(|_| existing == 0) {
        let value_type = ValueType::parse(&m.value_type).map_err(|e| anyhow::anyhow!("{e}"))?;
        let period_type = PeriodType::parse(&m.period_type).map_err(|e| anyhow::anyhow!("{e}"))?;
        let last = london_vision::demo::periods(period_type).pop().ok_or_else(|| anyhow::anyhow!("periods"))?;
        let mut periods: Vec<Period> = vec![last];
        while periods.len() < PERIODS {
            match periods.last().and_then(|p| p.previous(period_type)) {
                Some(p) => periods.push(p),
                None => break,
            }
        }
        let submitting: Vec<&entity::geography::Model> = areas
            .iter()
            .filter(|g| g.level == GeographyLevel::Borough.as_str() || !value_type.additive())
            .filter(|g| g.level != GeographyLevel::Neighbourhood.as_str())
            .collect();
        for revision in 1..=REVISIONS {
            let status = if revision == REVISIONS { "SUBMITTED" } else { "APPROVED" };
            let insert = format!(
                "INSERT INTO returns (organisation_id, status, note, submitted_at, submitted_by, reviewed_at, reviewed_by) \
                 VALUES ({}, '{status}', 'benchmark', {}, 'bench', {}, {}) RETURNING id",
                gla.id,
                placeholder(backend, 1),
                if status == "APPROVED" { placeholder(backend, 2) } else { "NULL".into() },
                if status == "APPROVED" { "'bench-reviewer'" } else { "NULL" },
            );
            let mut values: Vec<Value> = vec![reviewed.into()];
            if status == "APPROVED" {
                values.push(reviewed.into());
            }
            let ret = db
                .query_one_raw(Statement::from_sql_and_values(backend, insert, values))
                .await?
                .ok_or_else(|| anyhow::anyhow!("a return id"))?;
            let return_id: i64 = ret.try_get("", "id")?;
            let mut batch: Vec<Vec<Value>> = Vec::new();
            for g in &submitting {
                let population = g.population.unwrap_or(250_000) as f64;
                for (t, p) in periods.iter().enumerate() {
                    let Some(bounds) = p.bounds(period_type) else { continue };
                    let denominator = (population / 80.0).round().max(50.0);
                    let numerator = ((0.2 + 0.001 * t as f64 + 0.0001 * f64::from(revision)) * denominator).round();
                    let value = numerator / denominator * 100.0;
                    batch.push(vec![
                        m.id.into(),
                        g.id.into(),
                        p.as_str().to_owned().into(),
                        bounds.start.into(),
                        bounds.end.into(),
                        revision.into(),
                        value.into(),
                        Some(numerator).into(),
                        Some(denominator).into(),
                        return_id.into(),
                        reviewed.into(),
                    ]);
                    if batch.len() == ROWS_A_STATEMENT {
                        rows += insert_observations(&db, backend, &mut batch).await?;
                    }
                }
            }
            rows += insert_observations(&db, backend, &mut batch).await?;
        }
    }
    if existing == 0 {
        // Written around the API: the table approvals keep is filled here.
        london_vision::picture::load::rebuild_current_values(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    if backend == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
    }
    println!("loaded {rows} observations in {:.1} s ({existing} there before)", loaded.elapsed().as_secs_f64());
    let (clients, requests) = (setting("BENCH_CLIENTS", CLIENTS), setting("BENCH_REQUESTS", REQUESTS));

    let query = if std::env::var("BENCH_QUERY").as_deref() == Ok("minimal") { MINIMAL } else { QUERY };
    let client = reqwest::Client::new();
    let slugs: Vec<String> = measures.iter().map(|m| m.slug.clone()).collect();
    // Warm up: each measure once.
    for s in &slugs {
        let body: serde_json::Value = client
            .post(&address)
            .json(&serde_json::json!({ "query": query, "variables": { "m": s } }))
            .send()
            .await?
            .json()
            .await?;
        if body.get("errors").is_some() {
            anyhow::bail!("the picture of {s} failed: {body}");
        }
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, address, slugs) = (client.clone(), address.clone(), slugs.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(requests / clients);
            for i in 0..requests / clients {
                let slug = &slugs[(c * 7 + i * 13) % slugs.len()];
                let sent = Instant::now();
                let response = client
                    .post(&address)
                    .json(&serde_json::json!({ "query": query, "variables": { "m": slug } }))
                    .send()
                    .await?;
                let ok = response.status().is_success();
                response.bytes().await?;
                latencies.push(sent.elapsed());
                if !ok {
                    anyhow::bail!("a picture request failed");
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed();
    all.sort();
    println!(
        "{} requests from {clients} clients in {:.2} s: {:.0} requests/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.95).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
    Ok(())
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres { format!("${n}") } else { "?".into() }
}

async fn insert_observations(
    db: &sea_orm::DatabaseConnection,
    backend: DbBackend,
    batch: &mut Vec<Vec<Value>>,
) -> anyhow::Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let mut sql = String::from(
        "INSERT INTO observations (measure_id, geography_id, period, period_start, period_end, revision, value, \
         numerator, denominator, return_id, submitted_at, submitted_by) VALUES ",
    );
    let mut values = Vec::with_capacity(batch.len() * 11);
    let mut n = 0;
    for (i, row) in batch.drain(..).enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for j in 0..row.len() {
            n += 1;
            if j > 0 {
                sql.push(',');
            }
            sql.push_str(&placeholder(backend, n));
        }
        sql.push_str(",'bench')");
        values.extend(row);
    }
    let done = db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(done.rows_affected())
}
