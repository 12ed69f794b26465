//! Trust: hostile queries are refused by their cost before they run, writers racing each
//! other never get a server error, decisions happen once, values in review stay in their
//! area, and bad text is a user error.

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, error_codes, spawn_app},
    returns::{SUBMIT, input, submit, value},
};

fn cost_of(body: &Value) -> (u64, u64) {
    let cost = &body["extensions"]["cost"];
    (cost["requestedQueryCost"].as_u64().expect("a cost"), cost["maximumAvailable"].as_u64().expect("a limit"))
}

#[tokio::test]
async fn a_fan_out_through_plain_lists_is_refused_with_its_cost_before_it_runs() {
    let app = spawn_app().await;
    let fan_out = r#"{ geography(code: "E54000029") { children { parent { children { parent { children {
        parent { children { code name } } } } } } } } }"#;
    let before = app.statements_run().await;
    let body = app.graphql(fan_out, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"]);
    assert_eq!(body["data"], Value::Null);
    let err = &body["errors"][0];
    let (cost, limit) = (
        err["extensions"]["cost"]["requestedQueryCost"].as_u64(),
        err["extensions"]["cost"]["maximumAvailable"].as_u64(),
    );
    assert!(cost.expect("cost") > 20_000 && limit == Some(20_000), "{err}");
    assert!(err["message"].as_str().expect("message").contains("20000"), "the message names the limit: {err}");
    // Only the read of the data generation (whether a kept answer may be served) ran.
    assert_eq!(app.statements_run().await, before + 1, "nothing ran");

    // The case-study loop and aliases count in full, fragments too.
    let looped = r#"{ priorities { nodes { caseStudies { priorities { caseStudies { priorities { slug } } } } } } }"#;
    assert_eq!(error_codes(&app.graphql(looped, json!({})).await), ["QUERY_TOO_COMPLEX"]);
    let one = r#"fragment F on Geography { children { organisations { slug } } }"#;
    let single = app.graphql(&format!(r#"{{ a: geography(code: "E12000007") {{ ...F }} }} {one}"#), json!({})).await;
    assert!(single.get("errors").is_none(), "{single}");
    let (single_cost, _) = cost_of(&single);
    let aliases: String = (0..40).map(|i| format!(r#"a{i}: geography(code: "E12000007") {{ ...F }} "#)).collect();
    let many = app.graphql(&format!("{{ {aliases} }} {one}"), json!({})).await;
    assert_eq!(error_codes(&many), ["QUERY_TOO_COMPLEX"], "aliases add up");
    let counted = many["errors"][0]["extensions"]["cost"]["requestedQueryCost"].as_u64().expect("cost");
    assert_eq!(counted, 40 * single_cost, "forty aliases cost forty times one");
}

#[tokio::test]
async fn every_answer_reports_its_cost_so_clients_can_budget() {
    let app = spawn_app().await;
    let body = app.graphql(r#"{ priorities(first: 2) { nodes { slug measures { slug } } } }"#, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    // priorities: 2 x (nodes 1 + slug 1 + measures (20 x slug 1 + 1)) + 1 for the page.
    assert_eq!(cost_of(&body), (2 * (1 + 1 + 21) + 1, 20_000));
    let history = app
        .graphql(
            r#"{ measure(slug: "suicide-rate") { observations(first: 5) { nodes {
        history(first: 3) { value } } } } }"#,
            json!({}),
        )
        .await;
    assert!(history.get("errors").is_none(), "{history}");
    // measure 1 + observations (5 x (nodes 1 + history (3 x value 1 + 1)) + 1).
    assert_eq!(cost_of(&history).0, 1 + (5 * (1 + (3 + 1)) + 1));
    let camden = app.token("camden", &[Role::Submitter]);
    submit(&app, &camden, input("camden", vec![value("suicide-rate", "E09000007", "2020-22", 8.1)])).await;
    let (_, too_long) = app
        .graphql_as(
            &camden,
            r#"{ measure(slug: "suicide-rate") { observations(first: 1) { nodes {
            history(first: 101) { value } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&too_long), ["BAD_USER_INPUT"], "{too_long}");
}

#[tokio::test]
async fn an_empty_or_short_signing_key_stops_start_up() {
    for content in ["", "short-key\n"] {
        let app_dir = std::env::temp_dir().join(format!("lv_key_{}_{}", std::process::id(), content.len()));
        std::fs::create_dir_all(&app_dir).expect("dir");
        std::fs::write(app_dir.join("jwt-secret"), content).expect("write");
        let url = format!("sqlite://{}?mode=rwc", app_dir.join("lv.db").display());
        let config = london_vision::config::Config::for_tests(url, app_dir.clone());
        let err = match london_vision::startup::Application::build(&config).await {
            Ok(_) => panic!("a key of {} bytes must stop start-up", content.len()),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("at least 32"), "the message says why: {err}");
        let _ = std::fs::remove_dir_all(&app_dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_raced_against_reject_decides_once() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    for round in 0..4 {
        let period = format!("{}/{:02}", 2010 + round, 11 + round);
        let payload =
            submit(&app, &camden, input("camden", vec![value("school-readiness", "E09000007", &period, 60.0)])).await;
        let id = payload["return"]["id"].clone();
        let one = app.token_for("north-central-london-ics", "one@ncl", &[Role::Approver]);
        let two = app.token_for("north-central-london-ics", "two@ncl", &[Role::Approver]);
        let q = |m: &str| {
            format!(
                "mutation($id: ID!) {{ {m}(input: {{ id: $id }}) {{ return {{ status }} userErrors {{ code }} }} }}"
            )
        };
        let (approve, reject) = (q("approveReturn"), q("rejectReturn"));
        let (a, b) = tokio::join!(
            app.graphql_as(&one, &approve, json!({ "id": id })),
            app.graphql_as(&two, &reject, json!({ "id": id }))
        );
        let results = [&a.1["data"]["approveReturn"], &b.1["data"]["rejectReturn"]];
        assert!(a.0 == 200 && b.0 == 200, "{a:?} {b:?}");
        let won: Vec<_> = results.iter().filter(|r| r["userErrors"] == json!([])).collect();
        let lost: Vec<_> = results.iter().filter(|r| r["userErrors"] == json!([{ "code": "CONFLICT" }])).collect();
        assert_eq!((won.len(), lost.len()), (1, 1), "one decision lands, the other is told: {results:?}");
        let admin = app.token("gla", &[Role::Admin]);
        let events = app
            .data_as(
                &admin,
                "query($id: ID!) { auditEvents(entityType: \"Return\", entityId: $id) { totalCount } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(events["auditEvents"]["totalCount"], 2, "submitted, then decided once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_mixed_writers_at_once_get_no_server_error_and_every_acknowledged_write_lands() {
    let app = spawn_app().await;
    let boroughs =
        [("camden", "E09000007"), ("hackney", "E09000012"), ("islington", "E09000019"), ("croydon", "E09000008")];
    let admin = app.token("gla", &[Role::Admin]);
    let mut tasks = Vec::new();
    for i in 0..16usize {
        let (org, code) = boroughs[i % 4];
        let token = app.token(org, &[Role::Submitter]);
        let (address, client, admin) = (app.address.clone(), app.client.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let post = |token: &str, query: String, vars: Value| {
                client.post(format!("{address}/graphql")).bearer_auth(token.to_owned()).json(&json!({ "query": query, "variables": vars })).send()
            };
            let response = match i % 4 {
                // Returns for the same values, racing for revision numbers.
                0 | 1 => post(&token, SUBMIT.to_owned(), input(org, vec![value("school-readiness", code, "2022/23", 60.0 + i as f64)])).await,
                2 => {
                    let q = "mutation($i: CreateCaseStudyInput!) { createCaseStudy(input: $i) { caseStudy { slug } userErrors { code } } }";
                    let vars = json!({ "i": { "slug": format!("race-{i}"), "title": "A race", "summary": "s", "body": "b", "priorities": ["tobacco-control"], "geographies": [code] } });
                    post(&token, q.to_owned(), vars).await
                }
                _ => {
                    let q = "mutation($i: LockPeriodInput!) { lockPeriod(input: $i) { userErrors { code } } }";
                    post(&admin, q.to_owned(), json!({ "i": { "measure": "smoking-prevalence", "period": format!("{}", 2000 + i) } })).await
                }
            }
            .expect("sent");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            (i, status, body)
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        let (i, status, body) = t.await.expect("task");
        assert!(!error_codes(&body).contains(&"INTERNAL_SERVER_ERROR".to_owned()), "writer {i}: {body}");
        if status == 503 {
            assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"]);
            continue;
        }
        assert_eq!(status, 200, "writer {i}: {body}");
        if i % 4 < 2 && body["data"]["submitReturn"]["accepted"] == 1 {
            acknowledged.push(body["data"]["submitReturn"]["changes"][0]["newValue"].as_f64().expect("value"));
        }
    }
    let mut in_history = Vec::new();
    for (org, code) in boroughs {
        let token = app.token(org, &[Role::Submitter]);
        let data = app
            .data_as(&token, r#"query($g: String) { measure(slug: "school-readiness") { observations(geography: $g) { nodes { history(first: 100) { value } } } } }"#, json!({ "g": code }))
            .await;
        for node in data["measure"]["observations"]["nodes"].as_array().expect("list") {
            in_history
                .extend(node["history"].as_array().expect("history").iter().map(|h| h["value"].as_f64().expect("v")));
        }
    }
    acknowledged.sort_by(f64::total_cmp);
    in_history.sort_by(f64::total_cmp);
    assert_eq!(acknowledged, in_history, "every acknowledged value is in history, and nothing else");
    assert_eq!(acknowledged.len(), 8);
}

#[tokio::test]
async fn a_value_resent_while_its_first_return_is_in_review_survives_that_returns_rejection() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let first =
        submit(&app, &camden, input("camden", vec![value("school-readiness", "E09000007", "2022/23", 67.2)])).await;
    let again =
        submit(&app, &camden, input("camden", vec![value("school-readiness", "E09000007", "2022/23", 67.2)])).await;
    assert_eq!((again["accepted"].clone(), again["unchanged"].clone()), (json!(1), json!(0)));
    let ncl = app.token_for("north-central-london-ics", "reviewer@ncl", &[Role::Approver]);
    let decide = |m: &str| format!("mutation($id: ID!) {{ {m}(input: {{ id: $id }}) {{ userErrors {{ code }} }} }}");
    app.data_as(&ncl, &decide("rejectReturn"), json!({ "id": first["return"]["id"] })).await;
    app.data_as(&ncl, &decide("approveReturn"), json!({ "id": again["return"]["id"] })).await;
    let public = app
        .data(r#"{ measure(slug: "school-readiness") { observations(geography: "E09000007") { nodes { value status } } } }"#, json!({}))
        .await;
    assert_eq!(public["measure"]["observations"]["nodes"], json!([{ "value": 67.2, "status": "APPROVED" }]));
}

/// Every path a value or return in review could leak by.
async fn what_is_seen(app: &TestApp, token: &str, return_id: &Value, observation_id: &Value) -> Value {
    let q = r#"query($r: ID!, $o: ID!) {
        measure(slug: "school-readiness") { observations(geography: "E09000007") { totalCount
            nodes { history { value } } } }
        returns { totalCount }
        return(id: $r) { id }
        node(id: $r) { id }
        nodes(ids: [$r, $o]) { id }
        viewer { dueReturns(measure: "school-readiness") { geography { code } } }
    }"#;
    app.data_as(token, q, json!({ "r": return_id, "o": observation_id })).await
}

#[tokio::test]
async fn a_sibling_borough_sees_nothing_in_review_on_any_path() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let payload =
        submit(&app, &camden, input("camden", vec![value("school-readiness", "E09000007", "2022/23", 67.2)])).await;
    let return_id = payload["return"]["id"].clone();
    let obs = app
        .data_as(
            &camden,
            r#"{ measure(slug: "school-readiness") { observations(geography: "E09000007") { nodes { id } } } }"#,
            json!({}),
        )
        .await;
    let observation_id = obs["measure"]["observations"]["nodes"][0]["id"].clone();
    let own = what_is_seen(&app, &camden, &return_id, &observation_id).await;
    assert_eq!(own["measure"]["observations"]["totalCount"], 1);
    assert_eq!(own["return"]["id"], return_id);
    assert_eq!(own["nodes"], json!([{ "id": return_id }, { "id": observation_id }]));

    for (org, roles) in [("hackney", vec![Role::Submitter, Role::Approver]), ("hackney", vec![Role::Admin])] {
        let token = app.token(org, &roles);
        let seen = what_is_seen(&app, &token, &return_id, &observation_id).await;
        assert_eq!(seen["measure"]["observations"]["totalCount"], 0, "{org} {roles:?}: {seen}");
        assert_eq!(seen["return"], Value::Null, "{org} {roles:?}");
        assert_eq!(seen["node"], Value::Null, "{org} {roles:?}");
        assert_eq!(seen["nodes"], json!([null, null]), "{org} {roles:?}");
        let due = seen["viewer"]["dueReturns"].as_array().expect("list");
        assert!(due.iter().all(|d| d["geography"]["code"] != "E09000007"), "{org} sees only its own dues");
    }
    // The ICS above Camden and a pan-London body see it.
    for org in ["north-central-london-ics", "london-councils"] {
        let token = app.token(org, &[Role::Approver]);
        let seen = what_is_seen(&app, &token, &return_id, &observation_id).await;
        assert_eq!(seen["measure"]["observations"]["totalCount"], 1, "{org}");
        assert_eq!(seen["return"]["id"], return_id, "{org}");
    }
    // The audit trail of Camden's return is for those above Camden only.
    let hackney_admin = app.token("hackney", &[Role::Admin]);
    let events = app.data_as(&hackney_admin, "{ auditEvents(entityType: \"Return\") { totalCount } }", json!({})).await;
    assert_eq!(events["auditEvents"]["totalCount"], 0);
    let london_admin = app.token("gla", &[Role::Admin]);
    let events = app.data_as(&london_admin, "{ auditEvents(entityType: \"Return\") { totalCount } }", json!({})).await;
    assert_eq!(events["auditEvents"]["totalCount"], 1);
    // A read-only token sees what anonymous callers see, even in its own area.
    let read_only = app.token("camden", &[]);
    let (_, body) = app.graphql_as(&read_only, "{ returns { totalCount } }", json!({})).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    let q = r#"query($r: ID!, $o: ID!) { measure(slug: "school-readiness") { observations(geography: "E09000007") { totalCount } }
        node(id: $r) { id } nodes(ids: [$o]) { id } }"#;
    let seen = app.data_as(&read_only, q, json!({ "r": return_id, "o": observation_id })).await;
    assert_eq!(seen, json!({ "measure": { "observations": { "totalCount": 0 } }, "node": null, "nodes": [null] }));
}

#[tokio::test]
async fn nul_and_other_control_characters_and_oversized_text_are_answered_with_a_code() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    for search in ["a\u{0}b", "\u{1b}[31m"] {
        let body =
            app.graphql("query($s: String) { caseStudies(search: $s) { totalCount } }", json!({ "s": search })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    }
    // Parsed queries are kept for reuse: a query first sent clean is still checked with the
    // variables of each later request, and one refused for its own text is refused again.
    let search = "query($s: String) { caseStudies(search: $s) { totalCount } }";
    assert!(app.graphql(search, json!({ "s": "clean" })).await.get("errors").is_none());
    let body = app.graphql(search, json!({ "s": "a\u{0}b" })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    for _ in 0..2 {
        let inline = app.graphql(r#"{ caseStudies(search: "a\u0000b") { totalCount } }"#, json!({})).await;
        assert_eq!(error_codes(&inline), ["BAD_USER_INPUT"], "an escape written in the query: {inline}");
    }
    for slug in ["cam\u{0}den", "camden\n"] {
        let body = app.graphql("query($s: String!) { organisation(slug: $s) { name } }", json!({ "s": slug })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    }
    let long = "x".repeat(100_000);
    let body = app.graphql("query($s: String) { caseStudies(search: $s) { totalCount } }", json!({ "s": long })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    // In a return: the note of a value and of the return.
    let mut vars = input(
        "camden",
        vec![
            json!({ "measure": "school-readiness", "geography": "E09000007", "period": "2022/23", "value": 60.0, "note": "bad\u{0}" }),
        ],
    );
    let (status, body) = app.graphql_as(&camden, SUBMIT, vars.clone()).await;
    assert_eq!((status, error_codes(&body)), (200, vec!["BAD_USER_INPUT".to_owned()]));
    vars["input"]["values"][0]["note"] = json!("two\nlines\tare fine");
    let ok = submit(&app, &camden, vars).await;
    assert_eq!(ok["accepted"], 1, "{ok}");
    // A case study's title is one line.
    let q = "mutation($i: CreateCaseStudyInput!) { createCaseStudy(input: $i) { userErrors { field code } } }";
    let vars = json!({ "i": { "slug": "lines", "title": "A\ntitle", "summary": "s", "body": "b\nc", "priorities": ["tobacco-control"], "geographies": ["E09000007"] } });
    let data = app.data_as(&camden, q, vars).await;
    assert_eq!(data["createCaseStudy"]["userErrors"], json!([{ "field": ["title"], "code": "INVALID" }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_cut_off_mid_flight_leave_every_return_whole_or_absent_and_no_open_transaction() {
    let app = spawn_app().await;
    let gla = app.token("gla", &[Role::Submitter]);
    let boroughs: Vec<String> = (1..=33).map(|n| format!("E090000{n:02}")).collect();
    let mut tasks = Vec::new();
    for i in 0..24usize {
        // Fifty values a return, all carrying the return's number, so a part of one would show.
        let values: Vec<Value> = (0..50)
            .map(|y| {
                let start = 1950 + y;
                value("school-readiness", &boroughs[i % 33], &format!("{start}/{:02}", (start + 1) % 100), i as f64)
            })
            .collect();
        let body = json!({ "query": SUBMIT, "variables": input("gla", values) });
        let (address, token) = (app.address.clone(), gla.clone());
        tasks.push(tokio::spawn(async move {
            // Most callers hang up after a few milliseconds; every fourth waits for its answer.
            let cut = if i % 4 == 0 { 30_000 } else { 1 + (i as u64 * 7) % 25 };
            let client =
                reqwest::Client::builder().timeout(std::time::Duration::from_millis(cut)).build().expect("client");
            client
                .post(format!("{address}/graphql"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        if let Ok(status) = t.await.expect("task") {
            assert_eq!(status, 200);
        }
    }
    // Writes whose callers left run to their own end (a commit or a rollback) on their own.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let q = "{ returns(first: 50) { totalCount nodes { observations(first: 100) { totalCount nodes { value } } } } }";
    let data = app.data_as(&gla, q, json!({})).await;
    let returns = data["returns"]["nodes"].as_array().expect("list");
    assert!(returns.len() >= 6, "the callers that waited got their returns written: {}", returns.len());
    for r in returns {
        let obs = &r["observations"];
        assert_eq!(obs["totalCount"], 50, "a return is whole: {r}");
        let first = &obs["nodes"][0]["value"];
        assert!(
            obs["nodes"].as_array().expect("list").iter().all(|o| &o["value"] == first),
            "one return's values only"
        );
    }
    let db = app.database().await;
    if app.database_url.starts_with("postgres") {
        use sea_orm::{ConnectionTrait, Statement};
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                 AND state LIKE 'idle in transaction%'",
            ))
            .await
            .expect("query")
            .expect("a row");
        let open: i64 = row.try_get("", "n").expect("a count");
        assert_eq!(open, 0, "no connection is left idle inside a transaction");
    }
    // The database takes the next write at once: nothing holds a lock.
    let next = submit(&app, &gla, input("gla", vec![value("school-readiness", "E09000001", "2022/23", 1.0)])).await;
    assert_eq!(next["accepted"], 1);
}

/// Backends of the app's database waiting for a lock, other than the asking one.
async fn waiting_for_a_lock(db: &sea_orm::DatabaseConnection) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        ))
        .await
        .expect("query")
        .expect("a row");
    row.try_get("", "n").expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_caller_leaves_has_its_waiting_statement_cancelled() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app().await;
    if !app.database_url.starts_with("postgres") {
        // SQLite has no server process to signal: an abandoned write stops at its next check.
        return;
    }
    let camden = app.token("camden", &[Role::Submitter]);
    let db = app.database().await;
    // Another session holds the returns table against writers (readers pass), so the
    // submission's first insert waits.
    let holder = db.begin().await.expect("begin");
    holder.execute_unprepared("LOCK TABLE returns IN EXCLUSIVE MODE").await.expect("lock");
    let body = json!({
        "query": SUBMIT,
        "variables": input("camden", vec![value("school-readiness", "E09000007", "2022/23", 71.0)]),
    });
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_millis(1_500)).build().expect("client");
    let request = client.post(format!("{}/graphql", app.address)).bearer_auth(&camden).json(&body).send();
    let watcher = async {
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        waiting_for_a_lock(&db).await
    };
    let (sent, waiting_while_there) = tokio::join!(request, watcher);
    assert!(sent.is_err(), "the caller gave up before an answer: {sent:?}");
    assert_eq!(waiting_while_there, 1, "the submission was waiting for the lock while its caller was there");
    // Once the caller has gone, its statement is cancelled: nothing waits on for the
    // statement timeout (30 s), and the lock's holder still holds it.
    let mut waiting = 1;
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waiting = waiting_for_a_lock(&db).await;
        if waiting == 0 {
            break;
        }
    }
    assert_eq!(waiting, 0, "the abandoned write's statement was cancelled");
    holder.rollback().await.expect("release");
    // The abandoned return was not written, and the next one goes straight through.
    let reviewer = app.token("gla", &[Role::Approver]);
    let seen = app.data_as(&reviewer, "{ returns(first: 10) { totalCount } }", json!({})).await;
    assert_eq!(seen["returns"]["totalCount"], 0, "{seen}");
    let next =
        submit(&app, &camden, input("camden", vec![value("school-readiness", "E09000007", "2022/23", 71.0)])).await;
    assert_eq!(next["accepted"], 1, "{next}");
}

#[tokio::test]
async fn a_100_kb_mistake_is_refused_without_being_sent_back() {
    let app = spawn_app().await;
    let long = "x".repeat(100_000);
    for (query, vars) in [
        ("query($m: String!) { picture(measure: $m) { period } }", json!({ "m": long })),
        ("query($p: Period) { picture(measure: \"school-readiness\", period: $p) { period } }", json!({ "p": long })),
        ("query($g: String!) { geography(code: $g) { name } }", json!({ "g": long })),
    ] {
        let body = app.graphql(query, vars).await;
        assert_eq!(error_codes(&body), vec!["BAD_USER_INPUT"], "{query}");
        let size = body.to_string().len();
        assert!(size < 2_000, "the answer quotes the start of the text, not all of it: {size} bytes");
        assert!(body.to_string().contains("100000 characters"));
    }
}
