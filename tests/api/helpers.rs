//! Spawning the application for a test, exactly as production starts it: a fresh database
//! (a new SQLite file, or a new PostgreSQL database when `DATABASE_URL` points at a server),
//! migrated and seeded by `Application::build`, on a free port.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

use london_vision::{auth::TokenService, config::Config, startup::Application, values::Role};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    pub config: Config,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("lv_test_{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), nanos)
}

/// A fresh, empty database URL of the kind the environment asks for.
pub async fn fresh_database() -> (String, PathBuf) {
    let name = unique_name();
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let admin = Database::connect(&url).await.expect("connect to the PostgreSQL server in DATABASE_URL");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
            admin.close().await.ok();
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), dir)
        }
        _ => (format!("sqlite://{}?mode=rwc", dir.join("test.db").display()), dir),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app with settings changed by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let (database_url, data_dir) = fresh_database().await;
    let mut config = Config::for_tests(database_url.clone(), data_dir);
    adjust(&mut config);
    let app = Application::build(&config).await.expect("the application builds");
    let address = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    TestApp { address, client: reqwest::Client::new(), database_url, config }
}

impl TestApp {
    /// POSTs a GraphQL query and returns the whole response body.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("a JSON body")
    }

    /// A token for `org` with `roles`, signed as `london-vision token` signs it.
    pub fn token(&self, org: &str, roles: &[Role]) -> String {
        self.token_for(org, &format!("tester@{org}"), roles)
    }

    /// A token for a named person or system of `org`.
    pub fn token_for(&self, org: &str, subject: &str, roles: &[Role]) -> String {
        let service = TokenService::from_config(&self.config).expect("the signing key loads");
        service.issue(org, subject, roles, 3600).expect("a token").0
    }

    /// POSTs a GraphQL query with a bearer token; returns the HTTP status and the body.
    pub async fn graphql_as(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// POSTs a query with a token that must succeed, and returns its `data`.
    pub async fn data_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_as(token, query, variables).await;
        assert!(status == 200 && body.get("errors").is_none(), "unexpected errors ({status}): {body:#}");
        body["data"].clone()
    }

    /// POSTs a query that must succeed, and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// The number of SQL statements the server has run so far, from `/metrics`.
    pub async fn statements_run(&self) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|l| l.strip_prefix("london_vision_sql_statements_total "))
            .and_then(|n| n.trim().parse().ok())
            .expect("the statement counter is exported")
    }

    /// A direct connection to the app's database, for arranging data no API writes yet.
    pub async fn database(&self) -> sea_orm::DatabaseConnection {
        Database::connect(&self.database_url).await.expect("connect to the test database")
    }
}

/// The codes of a response's top-level errors.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
