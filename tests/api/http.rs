//! GraphQL over HTTP, GraphiQL, health, limits and error codes.

use serde_json::{Value, json};

use crate::helpers::{error_codes, spawn_app, spawn_app_with};

#[tokio::test]
async fn queries_can_be_sent_with_get() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "{ priority(slug: \"air-quality\") { number } }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["priority"]["number"], 4);
}

#[tokio::test]
async fn a_mutation_sent_with_get_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "mutation { anything }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn a_browser_opening_graphql_gets_graphiql() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
    let csp = response.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = response.text().await.expect("text");
    assert!(page.contains("graphiql.min.js"), "a GraphiQL page");
    assert!(!page.contains("https://") && !page.contains("http://"), "nothing from a CDN: {page}");
    // Every file the page loads is served by the server itself.
    for path in page.split("src=\"").skip(1).chain(page.split("href=\"").skip(1)) {
        let path = path.split('"').next().expect("a path");
        if path.starts_with("data:") {
            continue;
        }
        let file = app.client.get(format!("{}{path}", app.address)).send().await.expect("sent");
        assert_eq!(file.status(), 200, "{path}");
        let kind = file.headers()["content-type"].to_str().expect("ascii").to_owned();
        assert!(kind.starts_with("text/javascript") || kind.starts_with("text/css"), "{path}: {kind}");
        assert!(file.headers().get("etag").is_some());
    }
    let start = app.client.get(format!("{}/graphiql/start.js", app.address)).send().await.expect("sent");
    let start = start.text().await.expect("text");
    assert!(
        start.contains("'/graphql'") && start.contains("'/ws'"),
        "queries to /graphql, subscriptions to /graphql/ws"
    );
    let missing = app.client.get(format!("{}/graphiql/nothing.js", app.address)).send().await.expect("sent");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn healthz_reports_a_reachable_database() {
    let app = spawn_app().await;
    let response = app.client.get(format!("{}/healthz", app.address)).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, json!({ "status": "ok", "database": "ok" }));
}

#[tokio::test]
async fn malformed_and_invalid_queries_are_bad_user_input() {
    let app = spawn_app().await;
    for query in [
        "{ priorities {",
        "{ noSuchField }",
        r#"{ measure(slug: "suicide-rate") { observations(period: "2020/23") { totalCount } } }"#,
    ] {
        let body = app.graphql(query, json!({})).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{query}: {body}");
    }
}

#[tokio::test]
async fn queries_beyond_the_configured_depth_or_complexity_are_refused() {
    let app = spawn_app_with(|c| {
        c.max_depth = 6;
        c.max_complexity = 500;
    })
    .await;
    let deep = "{ priorities { nodes { commitments { priority { commitments { priority { slug } } } } } } }";
    let body = app.graphql(deep, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    // 100 geographies x 100 organisations' members would be 10,000 rows.
    let wide = "{ geographies(first: 100) { nodes { code organisations { slug members { slug } } } } }";
    let body = app.graphql(wide, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    let small = "{ geographies(first: 5) { nodes { code } } }";
    assert!(app.graphql(small, json!({})).await.get("errors").is_none());
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.client.get(format!("{}/healthz", app.address)).send().await.expect("sent");
    assert!(response.headers().get("x-request-id").is_some());
}

#[tokio::test]
async fn every_way_in_answers_errors_as_json_with_a_code() {
    let app = spawn_app_with(|c| c.max_body_bytes = 4_096).await;
    let huge = format!("{{\"query\": \"{{ __typename }}\", \"variables\": {{\"x\": \"{}\"}}}}", "a".repeat(10_000));
    let cases = [
        (
            app.client.post(format!("{}/graphql", app.address)).header("content-type", "application/json").body(huge),
            413,
            "BAD_USER_INPUT",
        ),
        (app.client.get(format!("{}/no/such/place", app.address)), 404, "NOT_FOUND"),
        (app.client.put(format!("{}/graphql", app.address)).body("{}"), 405, "BAD_USER_INPUT"),
        (app.client.delete(format!("{}/healthz", app.address)), 405, "BAD_USER_INPUT"),
        (app.client.get(format!("{}/graphiql/missing.js", app.address)), 404, "NOT_FOUND"),
        (
            app.client
                .post(format!("{}/graphql", app.address))
                .bearer_auth("not-a-token")
                .json(&json!({"query": "{ __typename }"})),
            401,
            "UNAUTHENTICATED",
        ),
        (
            app.client
                .post(format!("{}/graphql", app.address))
                .header("authorization", "Basic abc")
                .json(&json!({"query": "{ __typename }"})),
            401,
            "UNAUTHENTICATED",
        ),
        (
            app.client.post(format!("{}/returns.csv", app.address)).body("measure,geography,period,value\n"),
            401,
            "UNAUTHENTICATED",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), status);
        let ct = response.headers()["content-type"].to_str().expect("ascii").to_owned();
        assert!(ct.starts_with("application/json"), "{status}: {ct}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(error_codes(&body), [code], "{status}: {body}");
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn readyz_says_the_schema_is_current_and_metrics_count_operations_and_codes() {
    let app = spawn_app().await;
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.expect("sent");
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.expect("json"),
        json!({ "status": "ok", "database": "ok", "migrations": "current" })
    );
    app.graphql("query AirQuality { priority(slug: \"air-quality\") { number } }", json!({})).await;
    app.graphql("{ return(id: \"UmV0dXJuOjE=\") { id } }", json!({})).await;
    let text =
        app.client.get(format!("{}/metrics", app.address)).send().await.expect("sent").text().await.expect("text");
    for wanted in [
        "london_vision_graphql_requests_total{kind=\"query\",operation=\"AirQuality\"} 1",
        "london_vision_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1",
        "london_vision_graphql_request_duration_seconds_bucket{kind=\"query\",operation=\"AirQuality\"",
        "london_vision_graphql_query_cost_count{kind=\"query\"} 2",
        "london_vision_db_pool_connections{state=\"idle\"}",
        "london_vision_sql_statements_total",
    ] {
        assert!(text.contains(wanted), "{wanted} missing from\n{text}");
    }
}

/// TLS to PostgreSQL with `sslmode=require` in the URL (on a PostgreSQL server with TLS, as
/// managed databases are): the server's connections are encrypted.
#[tokio::test]
async fn the_server_talks_to_postgresql_over_tls_when_the_url_requires_it() {
    if !std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        return;
    }
    let app = spawn_app_with(|c| c.database_url.push_str("?sslmode=require")).await;
    assert_eq!(app.data("{ priority(slug: \"air-quality\") { number } }", json!({})).await["priority"]["number"], 4);
    let url = app.database_url.trim_end_matches("?sslmode=require").to_owned();
    let db = sea_orm::Database::connect(&url).await.expect("connect");
    use sea_orm::ConnectionTrait as _;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FILTER (WHERE s.ssl) AS tls, count(*) AS all FROM pg_stat_ssl s \
             JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()",
        ))
        .await
        .expect("query")
        .expect("a row");
    let tls: i64 = row.try_get("", "tls").expect("tls");
    let all: i64 = row.try_get("", "all").expect("all");
    assert!(all > 0 && tls == all, "{tls} of {all} connections use TLS");
}

#[tokio::test]
async fn a_null_where_a_value_is_required_is_the_callers_to_fix() {
    let app = spawn_app().await;
    let body = app.graphql("query($s: String) { priority(slug: $s) { number } }", json!({ "s": null })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
}

#[tokio::test]
async fn a_boroughs_scripts_share_kept_answers_and_never_see_anothers() {
    use london_vision::values::Role;
    let app = spawn_app().await;
    let camden_a = app.token_for("camden", "a@camden", &[Role::Submitter]);
    let camden_b = app.token_for("camden", "b@camden", &[Role::Submitter]);
    let hackney = app.token_for("hackney", "a@hackney", &[Role::Submitter]);
    // Camden's value in review: Camden sees it, Hackney does not.
    let sent = app
        .data_as(
            &camden_a,
            crate::returns::SUBMIT,
            crate::returns::input(
                "camden",
                vec![crate::returns::value("school-readiness", "E09000007", "2022/23", 66.0)],
            ),
        )
        .await;
    assert_eq!(sent["submitReturn"]["accepted"], 1, "{sent}");
    let query = r#"{ measure(slug: "school-readiness") { observations(geography: "E09000007") { totalCount nodes { value status } } } }"#;
    let get = |token: &str| {
        app.client
            .get(format!("{}/graphql", app.address))
            .query(&[("query", query)])
            .bearer_auth(token.to_owned())
            .send()
    };
    let first = get(&camden_a).await.expect("sent");
    assert_eq!(first.headers()["cache-control"], "private, no-cache");
    let etag = first.headers()["etag"].clone();
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["data"]["measure"]["observations"]["totalCount"], 1, "{first}");
    // Another Camden script gets the kept answer: one statement (the versions), the same body.
    let before = app.statements_run().await;
    let second = get(&camden_b).await.expect("sent");
    assert_eq!(app.statements_run().await - before, 1, "served from the kept answers");
    assert_eq!(second.headers()["etag"], etag);
    assert_eq!(second.json::<Value>().await.expect("json"), first);
    // A browser asking again with the tag is told nothing changed.
    let again = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", query)])
        .bearer_auth(&camden_b)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), 304);
    // Hackney never gets Camden's answer.
    let theirs: Value = get(&hackney).await.expect("sent").json().await.expect("json");
    assert_eq!(theirs["data"]["measure"]["observations"]["totalCount"], 0, "{theirs}");
    // Answers about the very caller are never shared.
    for (token, subject) in [(&camden_a, "a@camden"), (&camden_b, "b@camden")] {
        let me = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(token)
            .json(&json!({ "query": "{ viewer { subject } }" }))
            .send()
            .await
            .expect("sent");
        assert_eq!(me.headers()["cache-control"], "private, no-store");
        assert_eq!(me.json::<Value>().await.expect("json")["data"]["viewer"]["subject"], subject);
    }
    // A change to the data is seen at once: the kept answer is gone.
    let approver = app.token("north-central-london-ics", &[Role::Approver]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } } }";
    app.data_as(&approver, approve, json!({ "id": sent["submitReturn"]["return"]["id"] })).await;
    let after: Value = get(&camden_b).await.expect("sent").json().await.expect("json");
    assert_eq!(after["data"]["measure"]["observations"]["nodes"][0]["status"], "APPROVED", "{after}");
}
