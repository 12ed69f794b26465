//! Limits every caller meets, whatever it sends: nested fragments counted as they expand,
//! refused queries charged, one body limit, exports that spreadsheets cannot be tricked by.

use std::time::Instant;

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::{
    helpers::{error_codes, spawn_app, spawn_app_with},
    returns::{SUBMIT, input},
};

/// `fragment F0 on Query { ...F1 ...F1 }` ... `fragment Fn on Query { __typename }`: a short
/// text whose fields double with each level.
fn doubling(levels: usize) -> String {
    let mut text = String::from("{ ...F0 }\n");
    for i in 0..levels {
        text.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i + 1, i + 1));
    }
    text.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    text
}

#[tokio::test]
async fn nested_fragment_spreads_are_counted_as_they_expand_and_refused_before_they_run() {
    let app = spawn_app().await;
    // Eight levels: 256 fields, within the limits, and it costs what it runs.
    let small = app.graphql(&doubling(8), json!({})).await;
    assert!(small.get("errors").is_none(), "{small}");
    assert_eq!(small["extensions"]["cost"]["requestedQueryCost"], 256, "{small}");
    // Twenty-two levels: four million fields from under a kilobyte, refused at once.
    let bomb = doubling(22);
    assert!(bomb.len() < 1_200);
    let started = Instant::now();
    let response = app.client.post(format!("{}/graphql", app.address)).json(&json!({ "query": bomb })).send().await;
    let response = response.expect("sent");
    let remaining = response.headers().get("x-ratelimit-remaining").cloned();
    let body: Value = response.json().await.expect("json");
    assert!(started.elapsed().as_millis() < 3_000, "refused without walking it: {:?}", started.elapsed());
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("4194304")), "{body}");
    assert!(remaining.is_some(), "a refused query says where the caller stands");
}

#[tokio::test]
async fn a_query_refused_for_its_cost_is_charged_and_says_so() {
    let app = spawn_app_with(|c| c.rate_limit_anonymous_points_per_hour = 50_000).await;
    let fan_out = r#"{ geography(code: "E54000029") { children { parent { children { parent { children {
        parent { children { code name } } } } } } } } }"#;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response =
            app.client.post(format!("{}/graphql", app.address)).json(&json!({ "query": fan_out })).send().await;
        let response = response.expect("sent");
        let remaining: Option<u64> =
            response.headers().get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        statuses.push((response.status().as_u16(), remaining));
    }
    // Each refusal costs as much as the costliest query allowed (20,000 of 50,000): the third is
    // over the allowance.
    assert_eq!(statuses[0].0, 200, "{statuses:?}");
    assert!(statuses[0].1.is_some_and(|r| (29_900..=30_100).contains(&r)), "charged 20,000: {statuses:?}");
    assert!(statuses[1].1.is_some_and(|r| r <= 10_000), "{statuses:?}");
    assert_eq!(statuses[2].0, 429, "{statuses:?}");
}

#[tokio::test]
async fn max_body_bytes_is_the_one_limit_on_a_graphql_body() {
    let padded = format!("{{ priorities {{ totalCount }} }}{}", " ".repeat(2_300_000));
    let roomy = spawn_app_with(|c| c.max_body_bytes = 64 * 1024 * 1024).await;
    let response =
        roomy.client.post(format!("{}/graphql", roomy.address)).json(&json!({ "query": padded })).send().await;
    let response = response.expect("sent");
    assert_eq!(response.status(), 200, "a 2.3 MB body under a 64 MiB limit");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["priorities"]["totalCount"], 10);
    let strict = spawn_app().await;
    let response =
        strict.client.post(format!("{}/graphql", strict.address)).json(&json!({ "query": padded })).send().await;
    assert_eq!(response.expect("sent").status(), 413, "over the 2 MiB default");
}

#[tokio::test]
async fn exports_escape_formulas_in_every_text_cell_and_keep_a_token_s_answers_private() {
    let app = spawn_app().await;
    let admin = app.token("gla", &[Role::Admin]);
    let import =
        "mutation($i: ImportGeographiesInput!) { importGeographies(input: $i) { created userErrors { code } } }";
    let name = "=HYPERLINK(\"https://evil.example\",\"x\")";
    let vars = json!({ "i": { "geographies": [{ "code": "E05013660", "name": name, "parent": "E09000007" }] } });
    let imported = app.data_as(&admin, import, vars).await;
    assert_eq!(imported["importGeographies"]["created"], 1, "{imported}");
    let camden = app.token("camden", &[Role::Submitter]);
    let value = json!({ "measure": "smoking-prevalence", "geography": "E05013660", "period": "2022", "value": 10.0,
        "lowerCi": 8.0, "upperCi": 12.0, "note": "@SUM(A1:A2)" });
    let sent = app.data_as(&camden, SUBMIT, input("camden", vec![value.clone()])).await;
    assert_eq!(sent["submitReturn"]["accepted"], 1, "{sent}");

    let export = app
        .client
        .get(format!("{}/observations.csv?measure=smoking-prevalence", app.address))
        .bearer_auth(&camden)
        .send()
        .await
        .expect("sent");
    assert_eq!(export.headers()["cache-control"], "private, no-store");
    assert!(export.headers()["vary"].to_str().is_ok_and(|v| v.contains("Authorization")));
    let text = export.text().await.expect("text");
    let row = text.lines().find(|l| l.contains("E05013660")).expect("the ward's row");
    assert!(row.contains("'=HYPERLINK("), "the name is escaped: {row}");
    assert!(row.contains("'@SUM("), "the note is escaped: {row}");
    assert!(!text.lines().any(|l| l.split(',').any(|cell| cell.starts_with('='))), "{text}");

    let public =
        app.client.get(format!("{}/picture.csv?measure=smoking-prevalence", app.address)).send().await.expect("sent");
    assert!(public.headers()["cache-control"].to_str().is_ok_and(|v| v.starts_with("public")));
    assert!(public.headers()["vary"].to_str().is_ok_and(|v| v.contains("Authorization")));
}
