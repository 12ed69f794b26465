//! Faults of the machine: a full disk under the embedded database. What the server answers
//! "accepted" is in the database after a crash and a restart; what it could not write is
//! answered 503 with `Retry-After`, never a false success or a server error; once space is
//! freed, writes go through again at once; a key acknowledged is replayed, never written twice.
//!
//! The disk is a small tmpfs this test mounts (the test runs as root, as CI does). Where no
//! tmpfs can be mounted it says so and checks nothing; the README says how to run it.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use london_vision::{auth::TokenService, config::Config, values::Role};
use serde_json::{Value, json};

use crate::returns::{SUBMIT, input, value};

/// A tmpfs mounted for the test, unmounted when it ends.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("lv_full_{}_{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

/// Fills the disk, then frees `leave` bytes: a database that can still begin, and soon not.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 16 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.flush();
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    file.set_len(len.saturating_sub(leave)).expect("truncate");
    path
}

/// A server process, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server binary on `dir`'s database, on a free port.
fn start(dir: &Path) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port();
    let child = Command::new(env!("CARGO_BIN_EXE_london-vision"))
        .arg("serve")
        .env("DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.join("lv.db").display()))
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", dir)
        .env("JWT_SECRET", SECRET)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the server starts");
    (Server(child), format!("http://127.0.0.1:{port}"))
}

const SECRET: &str = "a-test-secret-of-at-least-thirty-two-characters";

async fn wait_up(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

fn token() -> String {
    let mut config = Config::for_tests("sqlite::memory:", std::env::temp_dir());
    config.jwt_secret = Some(SECRET.to_owned().into());
    TokenService::from_config(&config)
        .expect("key")
        .issue("camden", "script@camden", &[Role::Submitter], 3600)
        .expect("token")
        .0
}

async fn send(client: &reqwest::Client, base: &str, token: &str, vars: &Value) -> (u16, Option<String>, Value) {
    let response = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": SUBMIT, "variables": vars }))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, retry_after, response.json().await.expect("a JSON body"))
}

/// A CSV return of 100 values with long notes: large enough to meet a full disk mid-write.
async fn send_csv(client: &reqwest::Client, base: &str, token: &str, i: usize) -> (u16, Value) {
    let mut body = String::from("measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note\n");
    for year in 2000..2100 {
        body.push_str(&format!(
            "smoking-prevalence,E09000007,{year},{},,,,,{}\n",
            10.0 + (i % 50) as f64 / 10.0,
            "n".repeat(2_000)
        ));
    }
    let response = client
        .post(format!("{base}/returns.csv?idempotencyKey=full-disk-csv-{i}"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

fn submission(i: usize) -> Value {
    let mut vars =
        input("camden", vec![value("school-readiness", "E09000007", "2022/23", 50.0 + (i % 40) as f64 / 4.0)]);
    vars["input"]["idempotencyKey"] = json!(format!("full-disk-{i}"));
    vars["input"]["note"] = json!("x".repeat(2_000));
    vars
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_never_loses_an_acknowledged_write_and_writing_resumes_when_space_is_freed() {
    let Some(disk) = SmallDisk::mount("24m") else {
        eprintln!("no tmpfs could be mounted here (the test needs root): the full-disk test checked nothing");
        return;
    };
    let client = reqwest::Client::new();
    let token = token();
    let (server, base) = start(&disk.0);
    wait_up(&client, &base).await;
    let filler = fill(&disk.0, 1024 * 1024);

    let mut acknowledged: Vec<(usize, Value)> = Vec::new();
    let mut csv_acknowledged: Vec<(Value, i64)> = Vec::new();
    let mut refused = 0;
    for i in 0..400 {
        if i % 3 == 0 {
            let (status, summary) = send_csv(&client, &base, &token, i).await;
            assert_ne!(status, 500, "a full disk is no server fault: {summary}");
            let accepted = summary["accepted"].as_i64().unwrap_or(0);
            if status == 200 {
                assert!(
                    !(accepted > 0 && summary["return"].is_null()),
                    "accepted {accepted} with no return: {summary}"
                );
                if accepted > 0 {
                    csv_acknowledged.push((summary["return"].clone(), accepted));
                }
            } else {
                assert_eq!(
                    (status, summary["errors"][0]["extensions"]["code"].as_str()),
                    (503, Some("SERVICE_UNAVAILABLE")),
                    "{summary}"
                );
            }
        }
        let (status, retry_after, body) = send(&client, &base, &token, &submission(i)).await;
        let payload = &body["data"]["submitReturn"];
        let accepted = payload["accepted"].as_i64().unwrap_or(0);
        let codes = crate::helpers::error_codes(&body);
        assert!(!codes.iter().any(|c| c == "INTERNAL_SERVER_ERROR"), "a full disk is no server fault: {body}");
        if status == 200 && codes.is_empty() {
            let id = payload["return"]["id"].clone();
            assert!(!(accepted > 0 && id.is_null()), "accepted {accepted} with no return: {body}");
            if accepted > 0 {
                acknowledged.push((i, id));
            }
        } else {
            assert_eq!((status, codes), (503, vec!["SERVICE_UNAVAILABLE".to_owned()]), "{body}");
            assert!(retry_after.is_some(), "a 503 says when to come back");
            refused += 1;
            if refused >= 12 {
                break;
            }
        }
    }
    assert!(refused >= 12, "the disk filled up ({} writes acknowledged)", acknowledged.len());
    assert!(acknowledged.len() >= 3, "some writes went through before the disk was full");

    // Space freed: the next write goes through within seconds, not a minute.
    std::fs::remove_file(&filler).expect("free the space");
    let freed = Instant::now();
    let after = loop {
        let (status, _, body) = send(&client, &base, &token, &submission(10_000)).await;
        if status == 200 && body.get("errors").is_none() {
            break body;
        }
        assert!(freed.elapsed() < Duration::from_secs(5), "writes still refused after the space was freed: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(after["data"]["submitReturn"]["return"]["id"].is_string(), "{after}");
    acknowledged.push((10_000, after["data"]["submitReturn"]["return"]["id"].clone()));

    // A crash, and a restart on the same disk: every acknowledged return is there.
    drop(server);
    let (server, base) = start(&disk.0);
    wait_up(&client, &base).await;
    let read = |id: Value| {
        let request = client
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": "query($id: ID!) { return(id: $id) { id observations { totalCount } } }", "variables": { "id": id } }));
        async move { request.send().await.expect("sent").json::<Value>().await.expect("json") }
    };
    for (i, id) in &acknowledged {
        let body = read(id.clone()).await;
        assert_eq!(body["data"]["return"]["id"], *id, "acknowledged write {i} is in the database: {body}");
        assert_eq!(body["data"]["return"]["observations"]["totalCount"], 1, "{body}");
        // Sent again with its key, it is replayed, never written afresh.
        let (status, _, again) = send(&client, &base, &token, &submission(*i)).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["data"]["submitReturn"]["replayed"], true, "key {i} replayed: {again}");
        assert_eq!(again["data"]["submitReturn"]["return"]["id"], *id);
    }
    for (id, accepted) in &csv_acknowledged {
        let body = read(id.clone()).await;
        assert_eq!(body["data"]["return"]["observations"]["totalCount"], *accepted, "acknowledged CSV return: {body}");
    }
    eprintln!(
        "full disk: {} values and {} CSV returns acknowledged, {refused} writes refused, all found after a restart",
        acknowledged.len(),
        csv_acknowledged.len()
    );
    drop(server);
}

/// The server's connections to the test's own database, ended as a restart of PostgreSQL
/// ends them (SQLSTATE 57P01), every few milliseconds until `stop`.
async fn keep_ending_connections(database_url: String, stop: tokio::sync::watch::Receiver<bool>) -> usize {
    use sea_orm::ConnectionTrait as _;
    let name = database_url.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_owned();
    let admin_url = format!("{}/postgres", database_url.rsplit_once('/').map_or("", |(b, _)| b));
    let admin = sea_orm::Database::connect(&admin_url).await.expect("connect to the server");
    let mut ended = 0;
    while !*stop.borrow() {
        let sql = format!(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        );
        if let Ok(Some(row)) =
            admin.query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql)).await
        {
            ended += usize::try_from(row.try_get::<i64>("", "n").unwrap_or(0)).unwrap_or(0);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ended
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_write_is_503_and_the_retry_with_the_same_key_writes_once() {
    let app = crate::helpers::spawn_app().await;
    if !app.database_url.starts_with("postgres") {
        eprintln!("the lost-connection test runs on PostgreSQL (DATABASE_URL)");
        return;
    }
    let gla = app.token("gla", &[Role::Submitter]);
    let areas: Vec<String> =
        app.data("{ geographies(first: 100) { nodes { code level } } }", json!({})).await["geographies"]["nodes"]
            .as_array()
            .expect("areas")
            .iter()
            .filter(|g| g["level"] != "NEIGHBOURHOOD")
            .filter_map(|g| g["code"].as_str().map(str::to_owned))
            .collect();
    let mut body = String::from("measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note\n");
    let mut rows = 0;
    for measure in ["smoking-prevalence", "hiv-testing-coverage"] {
        for code in &areas {
            for year in 1950..2100 {
                body.push_str(&format!("{measure},{code},{year},12.5,,,,,\n"));
                rows += 1;
            }
        }
    }
    let post = || {
        app.client
            .post(format!("{}/returns.csv?idempotencyKey=lost-connection-1", app.address))
            .bearer_auth(&gla)
            .header("content-type", "text/csv")
            .body(body.clone())
            .send()
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ender = tokio::spawn(keep_ending_connections(app.database_url.clone(), stop_rx));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let response = post().await.expect("sent");
    let _ = stop_tx.send(true);
    let ended = ender.await.expect("ender");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let first: Value = response.json().await.expect("json");
    assert!(ended > 0, "connections were ended");
    assert_eq!(
        (status, first["errors"][0]["extensions"]["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE")),
        "a lost connection is a 503 to retry: {first}"
    );
    assert!(retry_after.is_some(), "with Retry-After");

    // The retry with the same key writes the return once; another replays it.
    let started = Instant::now();
    let written = loop {
        let response = post().await.expect("sent");
        let status = response.status().as_u16();
        let summary: Value = response.json().await.expect("json");
        if status == 200 {
            break summary;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the retry never went through: {summary}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(written["accepted"], rows, "{}", written["userErrors"]);
    let again: Value = post().await.expect("sent").json().await.expect("json");
    assert_eq!((again["replayed"].clone(), again["return"].clone()), (json!(true), written["return"].clone()));
    let count = app
        .data_as(
            &gla,
            r#"{ measure(slug: "smoking-prevalence") { observations(first: 1) { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(count["measure"]["observations"]["totalCount"], rows / 2, "each value written once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_reached_is_answered_503_within_seconds_and_readyz_at_once() {
    use sea_orm::ConnectionTrait as _;
    let app = crate::helpers::spawn_app_with(|c| c.response_cache_bytes = 0).await;
    if !app.database_url.starts_with("postgres") {
        eprintln!("the unreachable-database test runs on PostgreSQL (DATABASE_URL)");
        return;
    }
    let name = app.database_url.rsplit('/').next().unwrap_or_default().to_owned();
    let admin_url = format!("{}/postgres", app.database_url.rsplit_once('/').map_or("", |(b, _)| b));
    let admin = sea_orm::Database::connect(&admin_url).await.expect("connect to the server");
    let run = |sql: String| {
        let admin = admin.clone();
        async move { admin.execute_unprepared(&sql).await.expect("admin statement") }
    };
    // As if the server were down: no new connection is let in, and those open are ended.
    run(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    run(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")).await;
    let started = Instant::now();
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.expect("sent");
    assert_eq!(ready.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(2), "readyz took {:?}", started.elapsed());
    let started = Instant::now();
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ priorities { totalCount } }" }))
        .send()
        .await
        .expect("sent");
    let waited = started.elapsed();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let body: Value = response.json().await.expect("json");
    run(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    assert_eq!((status, crate::helpers::error_codes(&body)), (503, vec!["SERVICE_UNAVAILABLE".to_owned()]), "{body}");
    assert!(retry_after.is_some(), "with Retry-After");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("cannot be reached")), "{body}");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}, not a 10 s pool wait");
    // Back up: served again.
    let mut served = false;
    for _ in 0..50 {
        if app.graphql("{ priorities { totalCount } }", json!({})).await.get("errors").is_none() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "served again once the database is back");
}
