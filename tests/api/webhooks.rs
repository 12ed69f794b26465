//! Webhooks: registered by an ADMIN or the organisation's APPROVER, told of the returns the
//! organisation can see, signed with the hook's secret, retried after a failure, and logged.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use hmac::{Hmac, Mac};
use london_vision::values::Role;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{
    helpers::{TestApp, error_codes, spawn_app, spawn_app_with},
    returns::{SUBMIT, input, value},
};

const CREATE: &str = "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) {
    webhook { id url events organisation { slug } } secret userErrors { field code message } } }";

const DELIVERIES: &str = "query($id: ID!) { webhookDeliveries(webhook: $id) { totalCount nodes {
    id event status attempts responseStatus responseBody error deliveredAt nextAttemptAt body return { id } } } }";

/// One request the receiver got: its path, headers and body.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn at(&self, path: &str) -> Vec<Received> {
        self.got.lock().expect("lock").iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits until `path` has had `n` requests, or fails after 20 seconds.
    async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.at(path);
            if got.len() >= n {
                return got;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "{path} got {} of {n} deliveries", got.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A local endpoint: `/flaky` answers 500 the first time and 200 after; the others 200.
async fn receiver() -> (Receiver, String) {
    async fn take(
        State(r): State<Receiver>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, String) {
        let path = uri.path().to_owned();
        let mut got = r.got.lock().expect("lock");
        let before = got.iter().filter(|g| g.path == path).count();
        got.push(Received { path: path.clone(), headers, body });
        if path == "/flaky" && before == 0 {
            (StatusCode::INTERNAL_SERVER_ERROR, "not now".into())
        } else {
            (StatusCode::OK, "thanks".into())
        }
    }
    let r = Receiver::default();
    let app = Router::new().route("/{name}", post(take)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (r, address)
}

fn signed(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

async fn create(app: &TestApp, token: &str, org: &str, url: &str, events: &[&str]) -> Value {
    let vars = json!({ "input": { "organisation": org, "url": url, "events": events } });
    app.data_as(token, CREATE, vars).await["createWebhook"].clone()
}

async fn deliveries_when(app: &TestApp, token: &str, hook: &Value, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let list = app.data_as(token, DELIVERIES, json!({ "id": hook })).await["webhookDeliveries"].clone();
        if done(&list) {
            return list;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "deliveries never settled: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn approvers_hear_of_returns_above_them_signed_and_retried_and_submitters_of_decisions() {
    let app = spawn_app_with(|c| c.webhook_allow_private_addresses = true).await;
    let (receiver, base) = receiver().await;
    let ncl = app.token_for("north-central-london-ics", "approver@ncl", &[Role::Approver]);
    let camden_approver = app.token_for("camden", "approver@camden", &[Role::Approver]);
    let camden = app.token_for("camden", "analyst@camden", &[Role::Submitter]);
    let hackney = app.token_for("hackney", "approver@hackney", &[Role::Approver]);

    // Who may register: an APPROVER for its own organisation; a SUBMITTER not at all.
    let theirs = create(&app, &hackney, "camden", &format!("{base}/x"), &["RETURN_SUBMITTED"]).await;
    assert_eq!(theirs["userErrors"][0]["code"], "OUT_OF_SCOPE", "{theirs}");
    let (_, body) = app
        .graphql_as(
            &camden,
            CREATE,
            json!({ "input": { "organisation": "camden", "url": base, "events": ["RETURN_APPROVED"] } }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    for bad in [
        "ftp://example.org/x",
        "http://user:pw@example.org/",
        "not a url",
        "/relative",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:8080/",
    ] {
        let refused = create(&app, &ncl, "north-central-london-ics", bad, &["RETURN_SUBMITTED"]).await;
        assert_eq!(refused["userErrors"][0]["field"], json!(["url"]), "{bad}: {refused}");
    }

    let up = create(&app, &ncl, "north-central-london-ics", &format!("{base}/flaky"), &["RETURN_SUBMITTED"]).await;
    let (up_id, up_secret) = (up["webhook"]["id"].clone(), up["secret"].as_str().expect("secret").to_owned());
    assert_eq!(up_secret.len(), 64);
    let down =
        create(&app, &camden_approver, "camden", &format!("{base}/camden"), &["RETURN_APPROVED", "RETURN_REJECTED"])
            .await;
    let down_secret = down["secret"].as_str().expect("secret").to_owned();
    let elsewhere = create(&app, &hackney, "hackney", &format!("{base}/hackney"), &["RETURN_SUBMITTED"]).await;
    assert!(elsewhere["webhook"]["id"].is_string(), "{elsewhere}");

    // Camden submits: the ICS above it is told (its endpoint fails once and is retried).
    let sent = app
        .data_as(&camden, SUBMIT, input("camden", vec![value("smoking-prevalence", "E09000007", "2022", 11.5)]))
        .await;
    let return_id = sent["submitReturn"]["return"]["id"].clone();
    assert!(return_id.is_string(), "{sent}");
    let got = receiver.wait_for("/flaky", 2).await;
    assert_eq!(got[0].body, got[1].body, "a retry sends the same body");
    for g in &got {
        assert_eq!(g.headers["x-london-vision-event"], "RETURN_SUBMITTED");
        assert_eq!(g.headers["x-london-vision-signature-256"].to_str().expect("text"), signed(&up_secret, &g.body));
        assert_eq!(g.headers["content-type"], "application/json");
    }
    assert_eq!(got[0].headers["x-london-vision-delivery"], got[1].headers["x-london-vision-delivery"]);
    let told: Value = serde_json::from_str(&got[1].body).expect("json");
    assert_eq!((told["event"].clone(), told["return"]["id"].clone()), (json!("RETURN_SUBMITTED"), return_id.clone()));
    assert_eq!(
        (told["return"]["organisation"].clone(), told["return"]["accepted"].clone()),
        (json!("camden"), json!(1))
    );

    // The log: one delivery, two attempts, the endpoint's answer.
    let log = deliveries_when(&app, &ncl, &up_id, |l| l["nodes"][0]["status"] == "DELIVERED").await;
    let first = &log["nodes"][0];
    assert_eq!(log["totalCount"], 1);
    assert_eq!((first["attempts"].clone(), first["responseStatus"].clone()), (json!(2), json!(200)), "{first}");
    assert_eq!((first["responseBody"].clone(), first["nextAttemptAt"].clone()), (json!("thanks"), Value::Null));
    assert_eq!(first["body"].as_str(), Some(got[1].body.as_str()));
    assert_eq!(first["return"]["id"], return_id);

    // The ICS approves: Camden is told, signed with its own hook's secret.
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } } }";
    let decided = app.data_as(&ncl, approve, json!({ "id": return_id })).await;
    assert_eq!(decided["approveReturn"]["return"]["status"], "APPROVED", "{decided}");
    let got = receiver.wait_for("/camden", 1).await;
    assert_eq!(got[0].headers["x-london-vision-event"], "RETURN_APPROVED");
    assert_eq!(
        got[0].headers["x-london-vision-signature-256"].to_str().expect("text"),
        signed(&down_secret, &got[0].body)
    );

    // Hackney, beside Camden rather than above it, hears nothing and sees none of it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.at("/hackney").is_empty());
    let (_, body) = app.graphql_as(&hackney, DELIVERIES, json!({ "id": up_id })).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
    let listed = app.data_as(&hackney, "{ webhooks { url } }", json!({})).await;
    assert_eq!(listed["webhooks"], json!([{ "url": format!("{base}/hackney") }]));
    let node = app.data_as(&hackney, "query($id: ID!) { node(id: $id) { id } }", json!({ "id": up_id })).await;
    assert_eq!(node["node"], Value::Null);
    let admin = app.token("gla", &[Role::Admin]);
    let all = app.data_as(&admin, "{ webhooks { url } }", json!({})).await;
    assert_eq!(all["webhooks"].as_array().map(Vec::len), Some(3));

    // Deleting: only by its own; then it is gone, with its log, and audited.
    let delete = "mutation($id: ID!) { deleteWebhook(input: { id: $id }) { deletedWebhookId userErrors { code } } }";
    let refused = app.data_as(&hackney, delete, json!({ "id": up_id })).await;
    assert_eq!(refused["deleteWebhook"]["userErrors"][0]["code"], "NOT_FOUND");
    let deleted = app.data_as(&ncl, delete, json!({ "id": up_id })).await;
    assert_eq!(deleted["deleteWebhook"]["deletedWebhookId"], up_id);
    let (_, body) = app.graphql_as(&ncl, DELIVERIES, json!({ "id": up_id })).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);
    let trail = app.data_as(&admin, r#"{ auditEvents(entityType: "Webhook") { nodes { action } } }"#, json!({})).await;
    let actions: Vec<&str> =
        trail["auditEvents"]["nodes"].as_array().expect("list").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["createWebhook", "createWebhook", "createWebhook", "deleteWebhook"]);
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_given_up_on_and_never_holds_up_a_submission() {
    let app = spawn_app_with(|c| c.webhook_allow_private_addresses = true).await;
    // A port nothing listens on: bound, then closed.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("address");
    let gla = app.token_for("gla", "approver@gla", &[Role::Approver]);
    let hook = create(&app, &gla, "gla", &format!("http://{closed}/hook"), &["RETURN_SUBMITTED"]).await;
    let hook_id = hook["webhook"]["id"].clone();
    let submitter = app.token("gla", &[Role::Submitter]);
    let started = Instant::now();
    let sent = app
        .data_as(&submitter, SUBMIT, input("gla", vec![value("smoking-prevalence", "E09000012", "2022", 9.5)]))
        .await;
    assert!(sent["submitReturn"]["return"]["id"].is_string(), "{sent}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Tests retry after 0.2 s, 0.8 s and 3.2 s, four attempts in all.
    let log = deliveries_when(&app, &gla, &hook_id, |l| l["nodes"][0]["status"] == "FAILED").await;
    let failed = &log["nodes"][0];
    assert_eq!((failed["attempts"].clone(), failed["responseStatus"].clone()), (json!(4), Value::Null), "{failed}");
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("could not connect")), "{failed}");
    assert_eq!(failed["deliveredAt"], Value::Null);
}

#[tokio::test]
async fn by_default_no_name_or_address_leads_a_webhook_off_the_public_internet() {
    let app = spawn_app().await;
    let gla = app.token_for("gla", "approver@gla", &[Role::Approver]);
    for literal in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://LOCALHOST./hook",
        "http://2130706433/hook",
        "http://0x7f000001/hook",
        "http://017700000001/hook",
        "http://127.1/hook",
        "http://10.0.0.8/hook",
        "http://[::1]:9/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::169.254.169.254]/hook",
        "http://[::127.0.0.1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://[2002:a9fe:a9fe::1]/hook",
        "http://[fd00::1]/hook",
    ] {
        let refused = create(&app, &gla, "gla", literal, &["RETURN_SUBMITTED"]).await;
        assert_eq!(refused["userErrors"][0]["code"], "INVALID", "{literal}: {refused}");
        assert_eq!(refused["webhook"], Value::Null, "{literal}");
    }
    // A hook already registered (before the policy, or pointing at a name that moved) is
    // checked again before each attempt, and its log keeps no answer of the address.
    let (receiver, base) = receiver().await;
    let db = app.database().await;
    use sea_orm::ConnectionTrait;
    let gla_id: i64 = {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT id FROM organisations WHERE slug = 'gla'",
            ))
            .await
            .expect("query")
            .expect("gla");
        row.try_get_by_index(0).expect("id")
    };
    for url in [format!("{base}/direct"), base.replace("127.0.0.1", "localhost") + "/named"] {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            match db.get_database_backend() {
                sea_orm::DbBackend::Postgres => "INSERT INTO webhooks (organisation_id, url, secret, events, created_at, created_by) VALUES ($1, $2, 'x', 'RETURN_SUBMITTED', CURRENT_TIMESTAMP, 'test')",
                _ => "INSERT INTO webhooks (organisation_id, url, secret, events, created_at, created_by) VALUES (?, ?, 'x', 'RETURN_SUBMITTED', CURRENT_TIMESTAMP, 'test')",
            },
            [gla_id.into(), url.into()],
        ))
        .await
        .expect("insert a hook");
    }
    let listed = app.data_as(&gla, "{ webhooks { id url } }", json!({})).await;
    let hooks = listed["webhooks"].as_array().expect("list").clone();
    assert_eq!(hooks.len(), 2, "{listed}");
    let submitter = app.token("gla", &[Role::Submitter]);
    let sent = app
        .data_as(&submitter, SUBMIT, input("gla", vec![value("smoking-prevalence", "E09000012", "2022", 9.5)]))
        .await;
    assert!(sent["submitReturn"]["return"]["id"].is_string(), "{sent}");
    for hook in &hooks {
        let log =
            deliveries_when(&app, &gla, &hook["id"], |l| l["nodes"][0]["attempts"].as_i64().unwrap_or(0) >= 1).await;
        let first = &log["nodes"][0];
        assert!(
            first["error"].as_str().is_some_and(|e| e.contains("not sent") || e.contains("may not reach")),
            "{first}"
        );
        assert_eq!((first["responseStatus"].clone(), first["responseBody"].clone()), (Value::Null, Value::Null));
    }
    assert!(receiver.at("/direct").is_empty() && receiver.at("/named").is_empty(), "nothing reached the local server");
}

#[tokio::test]
async fn hostile_text_in_the_new_inputs_and_racing_registrations_get_coded_answers() {
    let app = spawn_app().await;
    let gla = app.token_for("gla", "approver@gla", &[Role::Approver]);
    let admin = app.token("gla", &[Role::Admin]);
    let big = "x".repeat(100_000);
    let nul = "a\u{0}b";
    let hostile = [
        (
            &gla,
            CREATE,
            json!({ "input": { "organisation": "gla", "url": format!("https://example.org/{big}"), "events": ["RETURN_SUBMITTED"] } }),
        ),
        (
            &gla,
            CREATE,
            json!({ "input": { "organisation": "gla", "url": "https://example.org/", "events": ["RETURN_SUBMITTED"], "description": big } }),
        ),
        (
            &gla,
            CREATE,
            json!({ "input": { "organisation": nul, "url": "https://example.org/", "events": ["RETURN_SUBMITTED"] } }),
        ),
        (
            &gla,
            CREATE,
            json!({ "input": { "organisation": "gla", "url": format!("https://example.org/{nul}"), "events": ["RETURN_SUBMITTED"] } }),
        ),
        (&gla, DELIVERIES, json!({ "id": big })),
        (&gla, DELIVERIES, json!({ "id": nul })),
        (
            &admin,
            "mutation($id: ID!) { deleteWebhook(input: { id: $id }) { userErrors { code } } }",
            json!({ "id": big }),
        ),
        (
            &admin,
            "mutation($i: ImportGeographiesInput!) { importGeographies(input: $i) { userErrors { code } } }",
            json!({ "i": { "geographies": [{ "code": "E05000001", "name": big, "parent": "E09000007" }] } }),
        ),
        (
            &admin,
            "mutation($i: ImportGeographiesInput!) { importGeographies(input: $i) { userErrors { code } } }",
            json!({ "i": { "geographies": [{ "code": nul, "name": "W", "parent": "E09000007" }] } }),
        ),
        (
            &admin,
            "query($b: String) { picture(measure: \"smoking-prevalence\") { neighbourhoods(borough: $b) { value } } }",
            json!({ "b": big }),
        ),
    ];
    for (token, query, vars) in hostile {
        let (status, body) = app.graphql_as(token, query, vars).await;
        let text = body.to_string();
        assert!(!text.contains("INTERNAL_SERVER_ERROR"), "{status}: {}", &text[..text.len().min(400)]);
        let refused = body.get("errors").is_some() || text.contains("userErrors\":[{");
        let empty = text.contains("\"neighbourhoods\":[]");
        assert!(refused || empty, "{status}: {}", &text[..text.len().min(400)]);
    }
    // Lists inside lists: neighbourhoods' case studies' geographies, refused by cost or answered.
    let nested = "{ picture(measure: \"smoking-prevalence\") { neighbourhoods { caseStudies { geographies { children { children { code } } } } } } }";
    let (status, body) = app.graphql_as(&admin, nested, json!({})).await;
    assert!(!body.to_string().contains("INTERNAL_SERVER_ERROR"), "{status}: {body}");

    // Twenty-five registrations at once: never more than twenty hooks, no failure.
    let runs: Vec<_> = (0..25)
        .map(|i| {
            let (client, url, token) = (app.client.clone(), format!("{}/graphql", app.address), gla.clone());
            tokio::spawn(async move {
                let vars = json!({ "input": { "organisation": "gla", "url": format!("https://example.org/{i}"), "events": ["RETURN_SUBMITTED"] } });
                let response = client.post(url).bearer_auth(token).json(&json!({ "query": CREATE, "variables": vars })).send().await.expect("sent");
                response.json::<Value>().await.expect("json")
            })
        })
        .collect();
    let mut made = 0;
    for run in runs {
        let body = run.await.expect("ran");
        assert!(body.get("errors").is_none(), "{body}");
        let done = &body["data"]["createWebhook"];
        if done["webhook"].is_object() {
            made += 1;
        } else {
            assert_eq!(done["userErrors"][0]["code"], "CONFLICT", "{done}");
        }
    }
    assert_eq!(made, 20);
    let listed = app.data_as(&gla, "{ webhooks { id } }", json!({})).await;
    assert_eq!(listed["webhooks"].as_array().map(Vec::len), Some(20));
}
