//! Memory and answers under hostile queries: the six-level `children`/`parent` fan-out that
//! once answered 9.3 MB and took the server from 20 MB to 280 MB, the same with aliases, and
//! the case-study loop, each sent by many anonymous clients at once.
//!
//! Starts the application as production does on a fresh SQLite database (or `DATABASE_URL`),
//! sends each query `ROUNDS` times from 16 clients at once, and reports how each was answered
//! (its code and cost), the largest answer in bytes, and the process's peak resident memory
//! (`VmHWM`) before and after. Client and server share the process.
//! Run: `cargo bench --bench hostile_queries`.

use london_vision::{config::Config, startup::Application};
use serde_json::{Value, json};

const ROUNDS: usize = 50;
const CLIENTS: usize = 16;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lv-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()));
    let config = Config::for_tests(url, dir.clone());
    let app = Application::build(&config).await?;
    let address = format!("http://{}/graphql", app.local_addr());
    tokio::spawn(app.run_until_stopped());

    let fan_out = r#"{ geography(code: "E54000029") { children { parent { children { parent { children {
        parent { children { code name population } } } } } } } } }"#;
    let aliases: String = (0..50)
        .map(|i| format!(r#"a{i}: geography(code: "E12000007") {{ children {{ children {{ organisations {{ members {{ slug }} }} }} }} }} "#))
        .collect();
    let looped = r#"{ priorities { nodes { caseStudies(first: 100) { priorities { caseStudies(first: 100) {
        priorities { caseStudies(first: 100) { title body } } } } } } } }"#;
    let shapes = [
        ("six-level fan-out", fan_out.to_owned()),
        ("50 aliases", format!("{{ {aliases} }}")),
        ("case-study loop", looped.to_owned()),
    ];

    println!("| query | answered | cost / limit | largest answer (bytes) | peak RSS before → after (MiB) |");
    println!("|---|---|---:|---:|---:|");
    let client = reqwest::Client::new();
    for (name, query) in shapes {
        let before = peak_rss_kib();
        let mut largest = 0usize;
        let mut first: Option<Value> = None;
        for _ in 0..ROUNDS {
            let sends = (0..CLIENTS).map(|_| {
                let client = client.clone();
                let (address, query) = (address.clone(), query.clone());
                async move { client.post(address).json(&json!({ "query": query })).send().await?.bytes().await }
            });
            for body in async_graphql::futures_util::future::join_all(sends).await {
                let body = body?;
                largest = largest.max(body.len());
                if first.is_none() {
                    first = Some(serde_json::from_slice(&body)?);
                }
            }
        }
        let first = first.unwrap_or(Value::Null);
        let code = first["errors"][0]["extensions"]["code"].as_str().unwrap_or("answered").to_owned();
        let cost = &first["extensions"]["cost"];
        println!(
            "| {name} | {code} | {} / {} | {largest} | {} → {} |",
            cost["requestedQueryCost"],
            cost["maximumAvailable"],
            before / 1024,
            peak_rss_kib() / 1024
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
