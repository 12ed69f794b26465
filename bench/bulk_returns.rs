//! Throughput and memory of a bulk CSV return through `POST /returns.csv`.
//!
//! Starts the application on a fresh SQLite database (or `DATABASE_URL`), makes a CSV of
//! distinct (measure, area, period) values for the GLA (whose area is all of London), posts
//! it with a token, and reports rows per second and the process's peak resident memory.
//! Run: `cargo bench --bench bulk_returns -- 100000` (the row count; default 100000).

use std::{fmt::Write as _, time::Instant};

use london_vision::{
    auth::TokenService,
    config::Config,
    returns::due::latest_ended,
    startup::Application,
    values::{PeriodType, Role},
};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The `n`th earlier period of `t`, counting back from the latest ended one.
fn period(t: PeriodType, n: i32) -> String {
    let latest = latest_ended(t, chrono::NaiveDate::from_ymd_opt(2026, 1, 15).expect("date"));
    let year: i32 = latest.as_str()[..4].parse().expect("year");
    match t {
        PeriodType::CalendarYear => (year - n).to_string(),
        PeriodType::FinancialYear | PeriodType::AcademicYear => {
            format!("{}/{:02}", year - n, (year - n + 1).rem_euclid(100))
        }
        PeriodType::Quarter => format!("{}-Q{}", year - n / 4, 4 - n % 4),
        PeriodType::Month => format!("{}-{:02}", year - n / 12, 12 - n % 12),
        PeriodType::RollingThreeYear => format!("{}-{:02}", year - n, (year - n + 2).rem_euclid(100)),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("lv-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()));
    let config = Config::for_tests(url.clone(), dir.clone());
    let app = Application::build(&config).await?;
    let address = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    let token = TokenService::from_config(&config)?.issue("gla", "bench", &[Role::Submitter], 3600)?.0;

    // Every measure x area of London x as many periods as it takes.
    let client = reqwest::Client::new();
    let catalogue: serde_json::Value = client
        .post(format!("{address}/graphql"))
        .json(&serde_json::json!({ "query": "{ measures { nodes { slug periodType minValue maxValue } } geographies { nodes { code } } }" }))
        .send()
        .await?
        .json()
        .await?;
    let measures = catalogue["data"]["measures"]["nodes"].as_array().cloned().unwrap_or_default();
    let areas: Vec<String> = catalogue["data"]["geographies"]["nodes"]
        .as_array()
        .map(|a| a.iter().filter_map(|g| g["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let mut csv = String::from("measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note\n");
    let mut made = 0;
    'outer: for n in 0.. {
        for m in &measures {
            let t =
                PeriodType::parse(m["periodType"].as_str().unwrap_or_default()).map_err(|e| anyhow::anyhow!(e.0))?;
            let p = period(t, n);
            let value = m["minValue"].as_f64().unwrap_or(0.0) + 1.0;
            for code in &areas {
                writeln!(csv, "{},{code},{p},{value},,,,,", m["slug"].as_str().unwrap_or_default())?;
                made += 1;
                if made == rows {
                    break 'outer;
                }
            }
        }
    }
    let bytes = csv.len();
    let before = peak_rss_kib();
    let start = Instant::now();
    let response = client.post(format!("{address}/returns.csv")).bearer_auth(&token).body(csv).send().await?;
    let status = response.status();
    let summary: serde_json::Value = response.json().await?;
    let elapsed = start.elapsed();
    anyhow::ensure!(
        status.is_success(),
        "the return was refused: {}",
        serde_json::to_string(&summary["userErrors"][0])?
    );
    println!(
        "rows={rows} bytes={bytes} accepted={} status={status} seconds={:.2} rows_per_second={:.0} peak_rss_mib_before={:.0} peak_rss_mib_after={:.0} database={}",
        summary["accepted"],
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        before as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0,
        if url.starts_with("postgres") { "postgres" } else { "sqlite" },
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
