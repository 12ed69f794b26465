//! GraphQL over HTTP as its specification and the common clients have it: media types, status
//! codes, request errors without `data`, `null` where a field failed, automatic persisted
//! queries, HTTP caching of published answers, and CORS.

use serde_json::{Value, json};

use crate::{
    helpers::{error_codes, spawn_app},
    picture::{approved, ratio},
};

const PRIORITY: &str = "{ priority(slug: \"air-quality\") { number } }";

#[tokio::test]
async fn the_answer_is_in_the_media_type_the_client_accepts() {
    let app = spawn_app().await;
    let post = |accept: Option<&'static str>| {
        let mut r = app.client.post(format!("{}/graphql", app.address)).json(&json!({ "query": PRIORITY }));
        if let Some(a) = accept {
            r = r.header("accept", a);
        }
        r.send()
    };
    for (accept, wanted) in [
        (None, "application/json"),
        (Some("application/json"), "application/json"),
        (Some("application/graphql-response+json"), "application/graphql-response+json"),
        (Some("application/graphql-response+json, application/json;q=0.9"), "application/graphql-response+json"),
        (Some("*/*"), "application/json"),
    ] {
        let response = post(accept).await.expect("sent");
        assert_eq!(response.status(), 200, "{accept:?}");
        let ct = response.headers()["content-type"].to_str().expect("ascii").to_owned();
        assert_eq!(ct, format!("{wanted}; charset=utf-8"), "{accept:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["data"]["priority"]["number"], 4);
    }
    let refused = post(Some("text/csv")).await.expect("sent");
    assert_eq!(refused.status(), 406);
}

#[tokio::test]
async fn a_query_that_cannot_run_has_no_data_and_its_status_follows_the_media_type() {
    let app = spawn_app().await;
    for query in ["{ priorities {", "{ noSuchField }"] {
        for (accept, status) in [("application/json", 200), ("application/graphql-response+json", 400)] {
            let response = app
                .client
                .post(format!("{}/graphql", app.address))
                .header("accept", accept)
                .json(&json!({ "query": query }))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), status, "{query} as {accept}");
            let body: Value = response.json().await.expect("json");
            assert!(body.get("data").is_none(), "a request error has no data: {body}");
            assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        }
    }
}

#[tokio::test]
async fn malformed_requests_are_400_with_a_coded_json_error() {
    let app = spawn_app().await;
    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut r = app.client.post(format!("{}/graphql", app.address)).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    for (body, content_type, status) in [
        ("{\"query\": ", Some("application/json"), 400),
        ("[{\"query\": \"{ priorities { totalCount } }\"}]", Some("application/json"), 400),
        ("{\"query\": 7}", Some("application/json"), 400),
        ("{\"query\": \"{ __typename }\", \"variables\": \"x\"}", Some("application/json"), 400),
        ("{\"query\": \"{ __typename }\", \"extensions\": 1}", Some("application/json"), 400),
        ("{\"variables\": {}}", Some("application/json"), 400),
        ("{\"query\": \"{ __typename }\"}", None, 415),
        ("query={__typename}", Some("application/x-www-form-urlencoded"), 415),
        ("{\"query\": \"{ __typename }\"}", Some("application/json; charset=latin1"), 415),
    ] {
        let response = raw(body, content_type).await.expect("sent");
        assert_eq!(response.status(), status, "{body} as {content_type:?}");
        assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("application/json"));
        let answer: Value = response.json().await.expect("a JSON answer");
        assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{answer}");
        assert!(answer.get("data").is_none());
    }
    // The same request, well formed, runs; with a charset too.
    let ok = raw("{\"query\": \"{ __typename }\"}", Some("application/json; charset=utf-8")).await.expect("sent");
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_nullable_field_that_fails_is_null_beside_its_error() {
    let app = spawn_app().await;
    // An anonymous caller may not read returns: that field fails, its sibling does not.
    let body = app
        .graphql("{ return(id: \"UmV0dXJuOjE=\") { id } priority(slug: \"air-quality\") { number } }", json!({}))
        .await;
    let data = body["data"].as_object().expect("data");
    assert!(data.contains_key("return"), "the failed field is present: {body}");
    assert_eq!(data["return"], Value::Null);
    assert_eq!(data["priority"]["number"], 4);
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["path"], json!(["return"]));
}

#[tokio::test]
async fn get_requests_take_variables_and_refuse_what_is_malformed() {
    let app = spawn_app().await;
    let get = |pairs: Vec<(&'static str, &'static str)>| {
        app.client.get(format!("{}/graphql", app.address)).query(&pairs).send()
    };
    let ok = get(vec![
        ("query", "query P($s: String!) { priority(slug: $s) { number } }"),
        ("variables", "{\"s\": \"air-quality\"}"),
    ])
    .await
    .expect("sent");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.expect("json")["data"]["priority"]["number"], 4);
    for pairs in [
        vec![("query", "{ __typename }"), ("variables", "{")],
        vec![("query", "{ __typename }"), ("variables", "[]")],
        vec![("query", "{ __typename }"), ("query", "{ __typename }")],
        vec![("operationName", "A")],
    ] {
        let response = get(pairs.clone()).await.expect("sent");
        assert_eq!(response.status(), 400, "{pairs:?}");
        assert_eq!(error_codes(&response.json::<Value>().await.expect("json")), ["BAD_USER_INPUT"]);
    }
}

/// The lower-case hex SHA-256 of a query, as Apollo's persisted-query link computes it.
fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn persisted_queries_follow_apollos_protocol_by_post_and_get() {
    let app = spawn_app().await;
    let hash = sha256_hex(PRIORITY);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    // The hash alone, first: not found, in the form Apollo's link retries on.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "extensions": ext }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(error_codes(&body), ["PERSISTED_QUERY_NOT_FOUND"]);
    // With the wrong text for the hash: refused, and nothing kept.
    let wrong = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ __typename }", "extensions": ext }))
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 400);
    // With its text: runs, and is kept.
    let body = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": PRIORITY, "extensions": ext }))
        .send()
        .await
        .expect("sent")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(body["data"]["priority"]["number"], 4);
    // Then the hash alone runs it, by GET as Apollo sends hashed queries.
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("extensions", ext.to_string())])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.expect("json")["data"]["priority"]["number"], 4);
}

#[tokio::test]
async fn anonymous_get_answers_are_cacheable_with_an_entity_tag_and_revalidate() {
    let app = spawn_app().await;
    let get = |etag: Option<String>| {
        let mut r = app.client.get(format!("{}/graphql", app.address)).query(&[("query", PRIORITY)]);
        if let Some(tag) = etag {
            r = r.header("if-none-match", tag);
        }
        r.send()
    };
    let first = get(None).await.expect("sent");
    assert_eq!(first.status(), 200);
    let h = first.headers().clone();
    let cache_control = h["cache-control"].to_str().expect("ascii");
    assert!(cache_control.starts_with("public, max-age="), "{cache_control}");
    let vary = h["vary"].to_str().expect("ascii").to_ascii_lowercase();
    assert!(vary.contains("authorization"), "{vary}");
    let etag = h["etag"].to_str().expect("ascii").to_owned();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "a strong tag: {etag}");
    let body = first.bytes().await.expect("body");
    // The same answer again has the same tag; naming it gets 304 with no body.
    let second = get(None).await.expect("sent");
    assert_eq!(second.headers()["etag"].to_str().expect("ascii"), etag);
    assert_eq!(second.bytes().await.expect("body"), body);
    let revalidated = get(Some(etag.clone())).await.expect("sent");
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"].to_str().expect("ascii"), etag);
    assert!(revalidated.bytes().await.expect("body").is_empty());
    let other = get(Some("\"not-this\"".into())).await.expect("sent");
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn what_a_token_can_see_is_never_kept_by_a_shared_cache() {
    let app = spawn_app().await;
    let token = app.token("camden", &[london_vision::values::Role::Submitter]);
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .query(&[("query", PRIORITY)])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    // The caller's own browser may keep it and ask again with its tag; no proxy may.
    assert_eq!(response.headers()["cache-control"], "private, no-cache");
    assert!(response.headers()["vary"].to_str().is_ok_and(|v| v.contains("Authorization")));
    // What is about the caller itself is kept by nobody.
    let me = app
        .client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .query(&[("query", "{ viewer { subject } }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(me.headers()["cache-control"], "private, no-store");
    assert!(me.headers().get("etag").is_none());
}

#[tokio::test]
async fn browsers_may_send_any_header_and_read_the_request_id() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
        .header("origin", "https://dashboard.example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, authorization, apollographql-client-name")
        .send()
        .await
        .expect("sent");
    assert!(preflight.status().is_success());
    let h = preflight.headers();
    let allowed = h["access-control-allow-headers"].to_str().expect("ascii").to_ascii_lowercase();
    assert!(allowed.contains("apollographql-client-name"), "{allowed}");
    assert!(h.get("access-control-max-age").is_some());
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", "https://dashboard.example.org")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    let exposed = response.headers()["access-control-expose-headers"].to_str().expect("ascii").to_ascii_lowercase();
    assert!(exposed.contains("x-request-id") && exposed.contains("retry-after"), "{exposed}");
}

#[tokio::test]
async fn an_approval_is_seen_by_the_next_anonymous_request_and_changes_the_entity_tag() {
    let app = spawn_app().await;
    let query = "{ measure(slug: \"hiv-testing-coverage\") { observations { totalCount nodes { value } } } }";
    let get = || app.client.get(format!("{}/graphql", app.address)).query(&[("query", query)]).send();
    let before = get().await.expect("sent");
    let tag = before.headers()["etag"].to_str().expect("ascii").to_owned();
    let body: Value = before.json().await.expect("json");
    assert_eq!(body["data"]["measure"]["observations"]["totalCount"], 0);
    // Kept now: a second request is served the same answer.
    assert_eq!(get().await.expect("sent").headers()["etag"].to_str().expect("ascii"), tag);
    approved(&app, vec![ratio("hiv-testing-coverage", "E09000007", "2023", 450.0, 600.0, 100.0)]).await;
    let after = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", query)])
        .header("if-none-match", &tag)
        .send()
        .await
        .expect("sent");
    assert_eq!(after.status(), 200, "the old tag no longer matches");
    assert_ne!(after.headers()["etag"].to_str().expect("ascii"), tag);
    let body: Value = after.json().await.expect("json");
    assert_eq!(body["data"]["measure"]["observations"]["totalCount"], 1, "{body}");
    assert_eq!(body["data"]["measure"]["observations"]["nodes"][0]["value"], 75.0);
    // The same by POST, which is kept as well.
    let posted = app.data(query, json!({})).await;
    assert_eq!(posted["measure"]["observations"]["totalCount"], 1);
}

#[tokio::test]
async fn each_caller_spends_an_allowance_of_query_cost_and_is_told_when_to_come_back() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.rate_limit_anonymous_points_per_hour = 1_000;
        c.rate_limit_points_per_hour = 1_000;
    })
    .await;
    let query = "{ priorities { nodes { slug title } } }";
    let send = |token: Option<String>| {
        let mut r = app.client.post(format!("{}/graphql", app.address)).json(&json!({ "query": query }));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let first = send(None).await.expect("sent");
    assert_eq!(first.status(), 200);
    let limit: u64 = first.headers()["x-ratelimit-limit"].to_str().expect("ascii").parse().expect("number");
    let remaining: u64 = first.headers()["x-ratelimit-remaining"].to_str().expect("ascii").parse().expect("number");
    let body: Value = first.json().await.expect("json");
    let cost = body["extensions"]["cost"]["requestedQueryCost"].as_u64().expect("cost");
    assert_eq!(limit, 1_000);
    assert_eq!(remaining, 1_000 - cost, "the query's cost was spent");
    // Kept answers are spent too, until the allowance runs out.
    let mut refused = None;
    for _ in 0..(1_000 / cost + 1) {
        let r = send(None).await.expect("sent");
        if r.status() == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
    }
    let refused = refused.expect("the allowance ran out");
    let retry: u64 = refused.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=3_600).contains(&retry), "{retry}");
    assert!(refused.headers().get("x-ratelimit-reset").is_some());
    let body: Value = refused.json().await.expect("json");
    assert_eq!(error_codes(&body), ["RATE_LIMITED"]);
    assert!(body.get("data").is_none());
    // A signed-in principal has its own allowance.
    let token = app.token("camden", &[london_vision::values::Role::Submitter]);
    assert_eq!(send(Some(token)).await.expect("sent").status(), 200);
}

#[tokio::test]
async fn cors_origins_headers_and_max_age_come_from_configuration() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.cors_allowed_origins = vec!["https://dashboard.london.example".into()];
        c.cors_allowed_headers = vec!["content-type".into(), "authorization".into()];
        c.cors_max_age_seconds = 600;
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://dashboard.london.example").await.expect("sent");
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://dashboard.london.example");
    assert_eq!(allowed.headers()["access-control-max-age"], "600");
    let allowed_headers =
        allowed.headers()["access-control-allow-headers"].to_str().expect("ascii").to_ascii_lowercase();
    assert!(allowed_headers.contains("authorization") && !allowed_headers.contains("apollo"), "{allowed_headers}");
    let other = preflight("https://elsewhere.example").await.expect("sent");
    assert!(other.headers().get("access-control-allow-origin").is_none(), "another origin is not allowed");
}
