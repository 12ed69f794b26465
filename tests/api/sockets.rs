//! The WebSocket is held to what HTTP is held to: the token is checked again before every
//! operation and the connection closes when it expires (4401) or is revoked (4403); the
//! socket spends the same allowance under the same cost and size limits; a connection holds
//! at most so many subscriptions, a principal at most so many connections.

use std::time::Duration;

use async_graphql::futures_util::{SinkExt as _, StreamExt as _};
use london_vision::{auth::TokenService, values::Role};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{TestApp, spawn_app, spawn_app_with},
    subscriptions::{Socket, connect, next, subscribe},
};

/// Reads until the server closes the connection; its close code, or none within `wait`.
async fn closed_with(socket: &mut Socket, wait: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => return Some(0),
            Err(_) => return None,
        }
    }
}

/// A token issued through the API (so that it can be revoked there) and its id.
async fn issued(app: &TestApp, org: &str, roles: &[&str]) -> (String, String) {
    let admin = app.token("gla", &[Role::Admin]);
    let body = app
        .data_as(
            &admin,
            "mutation($i: IssueTokenInput!) { issueToken(input: $i) { token issuedToken { id } } }",
            json!({ "i": { "organisation": org, "subject": format!("script@{org}"), "roles": roles } }),
        )
        .await;
    (
        body["issueToken"]["token"].as_str().expect("token").to_owned(),
        body["issueToken"]["issuedToken"]["id"].as_str().expect("id").to_owned(),
    )
}

#[tokio::test]
async fn a_revoked_token_closes_its_socket_at_once_and_runs_nothing_more() {
    let app = spawn_app().await;
    let (token, id) = issued(&app, "camden", &["SUBMITTER"]).await;
    let mut socket = connect(&app.address, Some(&token)).await.expect("connected");
    subscribe(&mut socket, "q1", "{ viewer { subject } }").await;
    let answer = next(&mut socket, Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(answer["payload"]["data"]["viewer"]["subject"], "script@camden", "{answer}");
    // A live subscription to values in review, then the token is revoked.
    subscribe(&mut socket, "s1", "subscription { observationsChanged { value } }").await;
    let admin = app.token("gla", &[Role::Admin]);
    let revoked = app
        .data_as(
            &admin,
            "mutation($id: String!) { revokeToken(input: { id: $id }) { issuedToken { revokedAt } } }",
            json!({ "id": id }),
        )
        .await;
    assert!(revoked["revokeToken"]["issuedToken"]["revokedAt"].is_string(), "{revoked}");
    assert_eq!(closed_with(&mut socket, Duration::from_secs(3)).await, Some(4403), "closed as revoked");
    // A new connection with it is refused, and nothing was written meanwhile.
    assert!(connect(&app.address, Some(&token)).await.is_err());
}

#[tokio::test]
async fn every_operation_checks_the_token_again_even_before_the_connection_hears_of_a_revocation() {
    let app = spawn_app().await;
    let (token, id) = issued(&app, "camden", &["SUBMITTER"]).await;
    let mut socket = connect(&app.address, Some(&token)).await.expect("connected");
    // Revoked straight in the database, as the command line does on another machine: this
    // process is not told; the next operation finds it.
    let db = app.database().await;
    london_vision::auth::revoke(&db, &id, Some("left".into())).await.expect("revoked");
    let submit = r#"mutation { submitReturn(input: { organisation: "camden", values: [{ measure: "school-readiness",
        geography: "E09000007", period: "2022/23", value: 61 }] }) { accepted } }"#;
    socket
        .send(Message::text(json!({ "id": "m1", "type": "subscribe", "payload": { "query": submit } }).to_string()))
        .await
        .expect("sent");
    let answer = next(&mut socket, Duration::from_secs(5)).await;
    let refused = answer.as_ref().map(|a| a.to_string()).unwrap_or_default();
    assert!(refused.contains("UNAUTHENTICATED") || answer.is_none(), "refused: {refused}");
    assert_eq!(closed_with(&mut socket, Duration::from_secs(3)).await, Some(4403));
    let camden = app.token("camden", &[Role::Submitter]);
    let seen = app
        .data_as(
            &camden,
            r#"{ measure(slug: "school-readiness") { observations(geography: "E09000007") { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(seen["measure"]["observations"]["totalCount"], 0, "nothing was written with the revoked token");
}

#[tokio::test]
async fn an_expired_token_closes_its_socket_with_4401() {
    let app = spawn_app().await;
    let service = TokenService::from_config(&app.config).expect("key");
    let (token, _) = service.issue("camden", "short@camden", &[Role::Submitter], 2).expect("a token");
    let mut socket = connect(&app.address, Some(&token)).await.expect("connected");
    subscribe(&mut socket, "s1", "subscription { observationsChanged { value } }").await;
    assert_eq!(closed_with(&mut socket, Duration::from_secs(6)).await, Some(4401), "closed as expired");
}

#[tokio::test]
async fn the_socket_spends_the_same_allowance_and_keeps_the_same_limits() {
    let app = spawn_app_with(|c| {
        c.rate_limit_anonymous_points_per_hour = 600;
        c.ws_max_subscriptions = 3;
        c.ws_max_connections_per_principal = 2;
        c.max_body_bytes = 64 * 1024;
    })
    .await;
    // The allowance spent over HTTP is spent on the socket too.
    let query = "{ priorities(first: 10) { nodes { slug measures { slug } } } }";
    let mut spent = false;
    for _ in 0..10 {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("sent");
        if response.status() == 429 {
            spent = true;
            break;
        }
    }
    assert!(spent, "the HTTP allowance ran out");
    {
        let mut socket = connect(&app.address, None).await.expect("connected");
        subscribe(&mut socket, "q", query).await;
        let answer = next(&mut socket, Duration::from_secs(5)).await.expect("an answer");
        assert!(answer.to_string().contains("RATE_LIMITED"), "spent on the socket too: {answer}");
    }
    // The closed connection gives its place back (the server notices shortly).
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Three subscriptions at once on one connection, not four.
    let camden = app.token("camden", &[Role::Submitter]);
    let mut socket = connect(&app.address, Some(&camden)).await.expect("connected");
    for i in 0..3 {
        subscribe(
            &mut socket,
            &format!("s{i}"),
            "subscription { pictureChanged(measure: \"school-readiness\") { period } }",
        )
        .await;
    }
    subscribe(&mut socket, "s3", "subscription { pictureChanged(measure: \"school-readiness\") { period } }").await;
    let refused = next(&mut socket, Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(refused["id"], "s3", "{refused}");
    assert!(refused.to_string().contains("subscriptions already"), "{refused}");

    // Two connections for one caller, not three.
    let _first = connect(&app.address, None).await.expect("a first connection");
    let _second = connect(&app.address, None).await.expect("a second connection");
    assert!(connect(&app.address, None).await.is_err(), "a third is refused");

    // A message over MAX_BODY_BYTES closes the connection, as HTTP answers 413.
    let huge = format!("{{ priorities {{ totalCount }} }}{}", " ".repeat(128 * 1024));
    let _ = socket
        .send(Message::text(json!({ "id": "big", "type": "subscribe", "payload": { "query": huge } }).to_string()))
        .await;
    let code = closed_with(&mut socket, Duration::from_secs(5)).await;
    assert!(matches!(code, Some(1009 | 0)), "the connection closed as too big: {code:?}");
    let http =
        app.client.post(format!("{}/graphql", app.address)).json(&json!({ "query": huge })).send().await.expect("sent");
    assert_eq!(http.status(), 413);
}

#[tokio::test]
async fn a_subscriber_whose_connection_ended_hears_nothing_more() {
    let app = spawn_app().await;
    let (token, id) = issued(&app, "north-central-london-ics", &["APPROVER"]).await;
    let mut socket = connect(&app.address, Some(&token)).await.expect("connected");
    subscribe(&mut socket, "s", "subscription { returnStatusChanged { id status } }").await;
    let camden = app.token("camden", &[Role::Submitter]);
    let vars =
        crate::returns::input("camden", vec![crate::returns::value("school-readiness", "E09000007", "2022/23", 62.0)]);
    app.data_as(&camden, crate::returns::SUBMIT, vars.clone()).await;
    let heard: Option<Value> = next(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(
        heard.as_ref().map(|h| h["payload"]["data"]["returnStatusChanged"]["status"].clone()),
        Some(json!("SUBMITTED"))
    );
    let admin = app.token("gla", &[Role::Admin]);
    app.data_as(
        &admin,
        "mutation($id: String!) { revokeToken(input: { id: $id }) { issuedToken { id } } }",
        json!({ "id": id }),
    )
    .await;
    let mut vars = vars;
    vars["input"]["values"][0]["value"] = json!(63.0);
    app.data_as(&camden, crate::returns::SUBMIT, vars).await;
    // Nothing about the second return reaches the revoked subscriber: only the close.
    let mut after = Vec::new();
    while let Some(m) = next(&mut socket, Duration::from_secs(1)).await {
        after.push(m);
    }
    assert!(
        after.iter().all(|m| m["payload"]["data"]["returnStatusChanged"].is_null()),
        "a revoked subscriber heard: {after:?}"
    );
}

#[tokio::test]
async fn every_operation_runs_over_the_socket_as_over_http_with_the_same_rule() {
    let app = spawn_app().await;
    let run = |token: String, query: &'static str| {
        let address = app.address.clone();
        async move {
            let mut socket = connect(&address, Some(&token)).await.expect("connected");
            socket
                .send(Message::text(
                    json!({ "id": "op", "type": "subscribe", "payload": { "query": query } }).to_string(),
                ))
                .await
                .expect("sent");
            next(&mut socket, Duration::from_secs(5)).await.expect("an answer")
        }
    };
    let admin = app.token("camden", &[Role::Admin]);
    let approver = app.token("camden", &[Role::Approver]);
    let submitter = app.token("camden", &[Role::Submitter]);
    let cases = [
        (
            admin.clone(),
            "mutation { issueToken(input: { organisation: \"camden\", subject: \"ws@camden\" }) { issuedToken { id } userErrors { code } } }",
        ),
        (
            approver.clone(),
            "mutation { createWebhook(input: { organisation: \"camden\", url: \"https://81.2.69.160/hook\", events: [RETURN_SUBMITTED] }) { webhook { id } userErrors { code } } }",
        ),
        (
            submitter.clone(),
            "mutation { submitReturn(input: { organisation: \"camden\", values: [{ measure: \"school-readiness\", geography: \"E09000007\", period: \"2022/23\", value: 64 }] }) { accepted return { receipt } userErrors { code } } }",
        ),
        (submitter.clone(), "{ viewer { dueReturns(measure: \"school-readiness\") { period } } }"),
    ];
    for (token, query) in cases {
        let answer = run(token, query).await;
        let text = answer.to_string();
        assert!(!text.contains("INTERNAL_SERVER_ERROR") && !text.contains("\"errors\""), "{query}: {answer}");
        let payload =
            answer["payload"]["data"].as_object().and_then(|d| d.values().next()).cloned().unwrap_or_default();
        assert!(payload["userErrors"].as_array().is_none_or(Vec::is_empty), "{query}: {answer}");
    }
    // The same rule as over HTTP: Camden's ADMIN cannot widen its area on the socket either.
    let widened = run(
        admin,
        "mutation { updateOrganisation(input: { slug: \"camden\", geography: \"E12000007\" }) { userErrors { code } } }",
    )
    .await;
    assert_eq!(widened["payload"]["data"]["updateOrganisation"]["userErrors"][0]["code"], "OUT_OF_SCOPE", "{widened}");
}
