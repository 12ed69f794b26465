//! Returns: partners submit local values, whole or not at all, safely retried, never
//! overwritten, and reviewed before they are public.

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app};

pub(crate) const SUBMIT: &str = "mutation($input: SubmitReturnInput!) { submitReturn(input: $input) {
    return { id status submittedBy organisation { slug } }
    accepted unchanged rejected replayed
    changes { row measure geography period oldValue newValue revision kind }
    userErrors { field message code row } } }";

const CURRENT: &str = r#"query($m: String!, $g: String) { measure(slug: $m) { observations(geography: $g) {
    totalCount nodes { period value revision status history { revision value status } } } } }"#;

pub(crate) fn value(measure: &str, geography: &str, period: &str, v: f64) -> Value {
    json!({ "measure": measure, "geography": geography, "period": period, "value": v })
}

pub(crate) fn input(org: &str, values: Vec<Value>) -> Value {
    json!({ "input": { "organisation": org, "values": values } })
}

pub(crate) async fn submit(app: &TestApp, token: &str, vars: Value) -> Value {
    app.data_as(token, SUBMIT, vars).await["submitReturn"].clone()
}

async fn current(app: &TestApp, token: Option<&str>, measure: &str, geography: &str) -> Value {
    let vars = json!({ "m": measure, "g": geography });
    let data = match token {
        Some(t) => app.data_as(t, CURRENT, vars).await,
        None => app.data(CURRENT, vars).await,
    };
    data["measure"]["observations"].clone()
}

#[tokio::test]
async fn a_return_is_written_whole_and_stays_with_partners_until_approved() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let payload = submit(
        &app,
        &camden,
        input(
            "camden",
            vec![
                value("reception-overweight", "E09000007", "2022/23", 19.4),
                value("school-readiness", "E09000007", "2022/23", 67.2),
            ],
        ),
    )
    .await;
    assert_eq!(
        (payload["accepted"].clone(), payload["unchanged"].clone(), payload["rejected"].clone()),
        (json!(2), json!(0), json!(0))
    );
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["return"]["status"], "SUBMITTED");
    assert_eq!(payload["return"]["organisation"]["slug"], "camden");
    assert_eq!(
        payload["changes"][0],
        json!({ "row": 0, "measure": "reception-overweight", "geography": "E09000007", "period": "2022/23", "oldValue": null, "newValue": 19.4, "revision": 1, "kind": "NEW" })
    );

    assert_eq!(
        current(&app, None, "reception-overweight", "E09000007").await["totalCount"],
        0,
        "not public before approval"
    );
    let own = app.token("camden", &[Role::Submitter]);
    let seen = current(&app, Some(&own), "reception-overweight", "E09000007").await;
    assert_eq!(seen["nodes"][0]["status"], "SUBMITTED");
    let ics = app.token("north-central-london-ics", &[Role::Approver]);
    assert_eq!(current(&app, Some(&ics), "reception-overweight", "E09000007").await["nodes"][0]["status"], "SUBMITTED");
    let sibling = app.token("hackney", &[Role::Submitter]);
    assert_eq!(
        current(&app, Some(&sibling), "reception-overweight", "E09000007").await["totalCount"],
        0,
        "a sibling borough sees nothing in review"
    );

    let id = payload["return"]["id"].clone();
    let approver = app.token_for("north-central-london-ics", "reviewer@ncl", &[Role::Approver]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id, note: \"checked\" }) { return { status reviewedBy reviewNote } userErrors { code } } }";
    let approved = app.data_as(&approver, approve, json!({ "id": id })).await;
    assert_eq!(
        approved["approveReturn"],
        json!({ "return": { "status": "APPROVED", "reviewedBy": "reviewer@ncl", "reviewNote": "checked" }, "userErrors": [] })
    );
    let public = current(&app, None, "reception-overweight", "E09000007").await;
    assert_eq!(
        public["nodes"],
        json!([{ "period": "2022/23", "value": 19.4, "revision": 1, "status": "APPROVED", "history": [{ "revision": 1, "value": 19.4, "status": "APPROVED" }] }])
    );

    // Reviewed once only.
    let again = app.data_as(&approver, approve, json!({ "id": id })).await;
    assert_eq!(again["approveReturn"]["userErrors"][0]["code"], "CONFLICT");
}

#[tokio::test]
async fn a_bad_row_among_good_ones_writes_nothing_and_every_problem_names_its_row() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let values = vec![
        value("reception-overweight", "E09000007", "2022/23", 19.4),
        value("reception-overweight", "E09000007", "2022", 19.4),
        value("reception-overweight", "E09000008", "2022/23", 19.4),
        value("reception-overweight", "E09000007", "2021/22", 120.0),
        value("reception-overweight", "E09000007", "2022/23", 19.5),
        value("no-such-measure", "E09000007", "2022/23", 1.0),
        json!({ "measure": "year6-obesity", "geography": "E09000007", "period": "2022/23", "value": 25.0, "lowerCi": 26.0, "upperCi": 28.0 }),
        json!({ "measure": "rough-sleeping", "geography": "E09000007", "period": "2022/23", "value": 10.5 }),
        value("school-readiness", "E09000007", "2022/23", 67.0),
    ];
    let payload = submit(&app, &camden, input("camden", values)).await;
    assert_eq!(payload["return"], Value::Null);
    assert_eq!((payload["accepted"].clone(), payload["rejected"].clone()), (json!(0), json!(7)));
    let problems: Vec<(i64, String)> = payload["userErrors"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| (e["row"].as_i64().expect("row"), e["code"].as_str().expect("code").to_owned()))
        .collect();
    assert_eq!(
        problems,
        [
            (1, "WRONG_PERIOD_TYPE".to_owned()),
            (2, "OUT_OF_SCOPE".to_owned()),
            (3, "OUT_OF_RANGE".to_owned()),
            (4, "DUPLICATE".to_owned()),
            (5, "NOT_FOUND".to_owned()),
            (6, "INCONSISTENT".to_owned()),
            (7, "OUT_OF_RANGE".to_owned()),
        ]
    );
    assert_eq!(payload["userErrors"][0]["field"], json!(["values", "1", "period"]));
    // Nothing written: not the good rows, not a return.
    assert_eq!(current(&app, Some(&camden), "reception-overweight", "E09000007").await["totalCount"], 0);
    assert_eq!(current(&app, Some(&camden), "school-readiness", "E09000007").await["totalCount"], 0);
    assert_eq!(app.data_as(&camden, "{ returns { totalCount } }", json!({})).await["returns"]["totalCount"], 0);
}

#[tokio::test]
async fn corrections_are_new_revisions_equal_values_are_unchanged_and_a_dry_run_writes_nothing() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let one = |v: f64| input("camden", vec![value("reception-overweight", "E09000007", "2022/23", v)]);
    submit(&app, &camden, one(19.4)).await;

    // Equal to a value still in review: carried again, so that it survives that review.
    let again = submit(&app, &camden, one(19.4)).await;
    assert_eq!((again["accepted"].clone(), again["unchanged"].clone()), (json!(1), json!(0)));
    let approver = app.token_for("north-central-london-ics", "reviewer@ncl", &[Role::Approver]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { userErrors { code } } }";
    app.data_as(&approver, approve, json!({ "id": again["return"]["id"] })).await;

    // Equal to the approved value: unchanged, and no return is made for nothing.
    let same = submit(&app, &camden, one(19.4)).await;
    assert_eq!((same["accepted"].clone(), same["unchanged"].clone()), (json!(0), json!(1)));
    assert_eq!(same["changes"][0]["kind"], "UNCHANGED");
    assert_eq!(same["return"], Value::Null, "a return that carries nothing is not created");

    let mut dry = one(18.9);
    dry["input"]["dryRun"] = json!(true);
    let preview = submit(&app, &camden, dry).await;
    assert_eq!(preview["return"], Value::Null, "a dry run makes no return");
    assert_eq!(
        preview["changes"][0],
        json!({ "row": 0, "measure": "reception-overweight", "geography": "E09000007", "period": "2022/23", "oldValue": 19.4, "newValue": 18.9, "revision": 3, "kind": "REVISED" })
    );
    let after_dry = current(&app, Some(&camden), "reception-overweight", "E09000007").await;
    assert_eq!(after_dry["nodes"][0]["value"], 19.4, "a dry run writes nothing");

    let corrected = submit(&app, &camden, one(18.9)).await;
    assert_eq!(corrected["changes"][0]["revision"], 3);
    let now = current(&app, Some(&camden), "reception-overweight", "E09000007").await;
    assert_eq!(now["totalCount"], 1);
    assert_eq!(now["nodes"][0]["value"], 18.9);
    let history: Vec<Value> =
        now["nodes"][0]["history"].as_array().expect("list").iter().map(|h| h["value"].clone()).collect();
    assert_eq!(history, [json!(19.4), json!(19.4), json!(18.9)], "earlier values are kept in history");
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_result_and_writes_nothing() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let mut vars = input("camden", vec![value("school-readiness", "E09000007", "2022/23", 67.2)]);
    vars["input"]["idempotencyKey"] = json!("camden-2022-23-upload-1");
    let first = submit(&app, &camden, vars.clone()).await;
    let again = submit(&app, &camden, vars.clone()).await;
    assert_eq!(again["return"]["id"], first["return"]["id"]);
    assert_eq!(again["replayed"], true);
    assert_eq!(again["accepted"], first["accepted"]);
    assert_eq!(app.data_as(&camden, "{ returns { totalCount } }", json!({})).await["returns"]["totalCount"], 1);

    vars["input"]["values"][0]["value"] = json!(70.0);
    let reused = submit(&app, &camden, vars).await;
    assert_eq!(reused["userErrors"][0]["code"], "CONFLICT", "a key reused for other data is refused");
    assert_eq!(current(&app, Some(&camden), "school-readiness", "E09000007").await["nodes"][0]["value"], 67.2);
}

/// Submits `vars` as `token` from a task of its own.
fn spawn_submit(app: &TestApp, token: &str, vars: Value) -> tokio::task::JoinHandle<Value> {
    let (client, url, token) = (app.client.clone(), format!("{}/graphql", app.address), token.to_owned());
    tokio::spawn(async move {
        let response = client
            .post(url)
            .bearer_auth(token)
            .json(&json!({ "query": SUBMIT, "variables": vars }))
            .send()
            .await
            .expect("sent");
        let body: Value = response.json().await.expect("json");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"]["submitReturn"].clone()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replays_of_one_key_write_once() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let mut vars = input("camden", vec![value("school-readiness", "E09000007", "2022/23", 67.2)]);
    vars["input"]["idempotencyKey"] = json!("same-key");
    let tasks: Vec<_> = (0..8).map(|_| spawn_submit(&app, &camden, vars.clone())).collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("task")["return"]["id"].clone());
    }
    assert!(ids.iter().all(|id| *id == ids[0] && !id.is_null()), "{ids:?}");
    assert_eq!(app.data_as(&camden, "{ returns { totalCount } }", json!({})).await["returns"]["totalCount"], 1);
    let now = current(&app, Some(&camden), "school-readiness", "E09000007").await;
    assert_eq!(now["nodes"][0]["history"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_corrections_all_land_in_history() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            spawn_submit(
                &app,
                &camden,
                input(
                    "camden",
                    vec![value("reception-overweight", "E09000007", "2022/23", 15.0 + f64::from(i) / 10.0)],
                ),
            )
        })
        .collect();
    let mut acknowledged = Vec::new();
    for t in tasks {
        let payload = t.await.expect("task");
        assert_eq!(payload["accepted"], 1, "{payload}");
        acknowledged.push((
            payload["changes"][0]["revision"].as_i64().expect("rev"),
            payload["changes"][0]["newValue"].as_f64().expect("v"),
        ));
    }
    acknowledged.sort_by_key(|a| a.0);
    let revisions: Vec<i64> = acknowledged.iter().map(|a| a.0).collect();
    assert_eq!(revisions, (1..=16).collect::<Vec<_>>(), "each correction got its own revision");
    let now = current(&app, Some(&camden), "reception-overweight", "E09000007").await;
    let history: Vec<(i64, f64)> = now["nodes"][0]["history"]
        .as_array()
        .expect("list")
        .iter()
        .map(|h| (h["revision"].as_i64().expect("r"), h["value"].as_f64().expect("v")))
        .collect();
    assert_eq!(history, acknowledged, "every acknowledged value is in history");
}

#[tokio::test]
async fn returns_are_reviewed_within_the_approvers_area_and_never_by_their_submitter() {
    let app = spawn_app().await;
    let person = app.token_for("camden", "sam@camden", &[Role::Submitter, Role::Approver]);
    let payload =
        submit(&app, &person, input("camden", vec![value("school-readiness", "E09000007", "2022/23", 67.2)])).await;
    let id = payload["return"]["id"].clone();
    let decide = |m: &str| {
        format!("mutation($id: ID!) {{ {m}(input: {{ id: $id }}) {{ return {{ status }} userErrors {{ code }} }} }}")
    };

    let own = app.data_as(&person, &decide("approveReturn"), json!({ "id": id })).await;
    assert_eq!(own["approveReturn"]["userErrors"], json!([{ "code": "NOT_ALLOWED" }]));
    let croydon = app.token_for("croydon", "kim@croydon", &[Role::Approver]);
    let outside = app.data_as(&croydon, &decide("approveReturn"), json!({ "id": id })).await;
    assert_eq!(
        outside["approveReturn"]["userErrors"],
        json!([{ "code": "NOT_FOUND" }]),
        "another borough cannot even see the return"
    );
    let submitter_only = app.token_for("camden", "lee@camden", &[Role::Submitter]);
    let (_, body) = app.graphql_as(&submitter_only, &decide("approveReturn"), json!({ "id": id })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);

    let colleague = app.token_for("camden", "alex@camden", &[Role::Approver]);
    let rejected = app.data_as(&colleague, &decide("rejectReturn"), json!({ "id": id })).await;
    assert_eq!(rejected["rejectReturn"], json!({ "return": { "status": "REJECTED" }, "userErrors": [] }));
    assert_eq!(
        current(&app, Some(&colleague), "school-readiness", "E09000007").await["totalCount"],
        0,
        "a rejected value is never current"
    );
    assert_eq!(current(&app, None, "school-readiness", "E09000007").await["totalCount"], 0);

    let admin = app.token("gla", &[Role::Admin]);
    let events = app
        .data_as(&admin, "{ auditEvents(entityType: \"Return\") { nodes { action actorSubject } } }", json!({}))
        .await;
    assert_eq!(
        events["auditEvents"]["nodes"],
        json!([{ "action": "submitReturn", "actorSubject": "sam@camden" }, { "action": "rejectReturn", "actorSubject": "alex@camden" }])
    );
    // Subjects are unique within an organisation only: another organisation's approver with
    // the same name is another person.
    let script = app.token_for("camden", "camden-script", &[Role::Submitter]);
    let second =
        submit(&app, &script, input("camden", vec![value("school-readiness", "E09000007", "2021/22", 66.0)])).await;
    let ics = app.token_for("north-central-london-ics", "north-central-london-ics-script", &[Role::Approver]);
    let approved = app.data_as(&ics, &decide("approveReturn"), json!({ "id": second["return"]["id"] })).await;
    assert_eq!(approved["approveReturn"], json!({ "return": { "status": "APPROVED" }, "userErrors": [] }));
}

#[tokio::test]
async fn four_eyes_hold_across_organisations_the_same_subject_is_the_same_person() {
    let app = spawn_app().await;
    // One person holding tokens of two organisations (a borough and its ICS).
    let as_borough = app.token_for("camden", "sam@nhs.net", &[Role::Submitter]);
    let as_ics = app.token_for("north-central-london-ics", "sam@nhs.net", &[Role::Approver]);
    let payload =
        submit(&app, &as_borough, input("camden", vec![value("school-readiness", "E09000007", "2022/23", 67.2)])).await;
    let decide = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } userErrors { code } } }";
    let own = app.data_as(&as_ics, decide, json!({ "id": payload["return"]["id"] })).await;
    assert_eq!(own["approveReturn"]["userErrors"], json!([{ "code": "NOT_ALLOWED" }]));
}

#[tokio::test]
async fn a_partner_submits_only_its_own_returns_within_its_area() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let (_, body) = app
        .graphql_as(&camden, SUBMIT, input("croydon", vec![value("school-readiness", "E09000008", "2022/23", 67.0)]))
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "a borough writing for another borough");
    let ncl = app.token("north-central-london-ics", &[Role::Submitter]);
    let inside = submit(
        &app,
        &ncl,
        input(
            "north-central-london-ics",
            vec![
                value("school-readiness", "E09000007", "2022/23", 67.0),
                value("school-readiness", "E54000028", "2022/23", 66.0),
            ],
        ),
    )
    .await;
    assert_eq!(inside["accepted"], 2);
    let outside = submit(
        &app,
        &ncl,
        input("north-central-london-ics", vec![value("school-readiness", "E09000022", "2022/23", 67.0)]),
    )
    .await;
    assert_eq!(outside["userErrors"][0]["code"], "OUT_OF_SCOPE", "an ICS outside its boroughs");
    let anonymous =
        app.graphql(SUBMIT, input("camden", vec![value("school-readiness", "E09000007", "2022/23", 67.0)])).await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);
    let (_, body) = app
        .graphql_as(&camden, SUBMIT, input("camden", vec![value("school-readiness", "E09000007", "2022/25", 67.0)]))
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "a malformed period is refused before anything runs");
}

#[tokio::test]
async fn an_administrator_locks_a_period_and_submissions_into_it_are_refused() {
    let app = spawn_app().await;
    let admin = app.token("gla", &[Role::Admin]);
    let camden = app.token("camden", &[Role::Submitter]);
    let lock = |m: &str| {
        format!(
            "mutation {{ {m}(input: {{ measure: \"reception-overweight\", period: \"2022/23\" }}) {{ locked period measure {{ lockedPeriods }} userErrors {{ field code }} }} }}"
        )
    };
    let (_, body) = app.graphql_as(&camden, &lock("lockPeriod"), json!({})).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "a submitter does not lock periods");

    let locked = app.data_as(&admin, &lock("lockPeriod"), json!({})).await;
    assert_eq!(
        locked["lockPeriod"],
        json!({ "locked": true, "period": "2022/23", "measure": { "lockedPeriods": ["2022/23"] }, "userErrors": [] })
    );
    let refused = submit(
        &app,
        &camden,
        input(
            "camden",
            vec![
                value("school-readiness", "E09000007", "2022/23", 67.0),
                value("reception-overweight", "E09000007", "2022/23", 19.4),
            ],
        ),
    )
    .await;
    assert_eq!(
        refused["userErrors"],
        json!([{ "field": ["values", "1", "period"], "message": refused["userErrors"][0]["message"], "code": "PERIOD_LOCKED", "row": 1 }])
    );
    assert_eq!(refused["accepted"], 0, "the open row is not written either");

    let unlocked = app.data_as(&admin, &lock("unlockPeriod"), json!({})).await;
    assert_eq!(unlocked["unlockPeriod"]["measure"]["lockedPeriods"], json!([]));
    let accepted =
        submit(&app, &camden, input("camden", vec![value("reception-overweight", "E09000007", "2022/23", 19.4)])).await;
    assert_eq!(accepted["accepted"], 1);

    let wrong = app.data_as(&admin, "mutation { lockPeriod(input: { measure: \"reception-overweight\", period: \"2022\" }) { userErrors { code } } }", json!({})).await;
    assert_eq!(wrong["lockPeriod"]["userErrors"], json!([{ "code": "WRONG_PERIOD_TYPE" }]));
    let events =
        app.data_as(&admin, "{ auditEvents(entityType: \"PeriodLock\") { nodes { action } } }", json!({})).await;
    assert_eq!(events["auditEvents"]["nodes"], json!([{ "action": "lockPeriod" }, { "action": "unlockPeriod" }]));
}

#[tokio::test]
async fn the_viewer_sees_every_period_still_due_since_the_start_less_locked_ones() {
    use chrono::NaiveDate;
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a date");
    let app = crate::helpers::spawn_app_with(|c| {
        c.due_since = day(2022, 9, 1);
        c.due_deadline_days = Some(90);
    })
    .await;
    // School readiness is reported by academic year (September to August) and has no
    // baseline: every academic year from 2022/23 that has ended by today is due, oldest first,
    // with its deadline 90 days after 31 August.
    let today = chrono::Utc::now().date_naive();
    let mut expected = Vec::new();
    let mut y = 2022;
    while day(y + 1, 8, 31) < today {
        let deadline = day(y + 1, 8, 31) + chrono::Days::new(90);
        expected.push((format!("{y}/{:02}", (y + 1) % 100), deadline.to_string()));
        y += 1;
    }
    assert!(expected.len() >= 4, "the test runs after August 2026");
    let camden = app.token("camden", &[Role::Submitter]);
    let query = "query($m: String) { viewer { dueReturns(measure: $m) { measure { slug } geography { code } period deadline } } }";
    let due = |data: &Value| -> Vec<(String, String)> {
        data["viewer"]["dueReturns"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|d| {
                assert_eq!(d["geography"]["code"], "E09000007");
                (d["period"].as_str().expect("period").to_owned(), d["deadline"].as_str().expect("deadline").to_owned())
            })
            .collect()
    };
    let all = app.data_as(&camden, query, json!({ "m": "school-readiness" })).await;
    assert_eq!(due(&all), expected, "{all}");
    let ncl = app.token("north-central-london-ics", &[Role::Submitter]);
    let ics = app.data_as(&ncl, query, json!({ "m": "school-readiness" })).await;
    assert_eq!(
        ics["viewer"]["dueReturns"].as_array().map(Vec::len),
        Some(6 * expected.len()),
        "the ICS and its five boroughs"
    );

    // A value submitted is no longer due; a locked period is not due.
    let (submitted, locked) = (expected[1].0.clone(), expected[2].0.clone());
    submit(&app, &camden, input("camden", vec![value("school-readiness", "E09000007", &submitted, 66.0)])).await;
    let admin = app.token("gla", &[Role::Admin]);
    let lock = "mutation($p: Period!) { lockPeriod(input: { measure: \"school-readiness\", period: $p }) { locked } }";
    assert_eq!(app.data_as(&admin, lock, json!({ "p": locked })).await["lockPeriod"]["locked"], true);
    let left = app.data_as(&camden, query, json!({ "m": "school-readiness" })).await;
    let still: Vec<(String, String)> =
        expected.iter().filter(|(p, _)| *p != submitted && *p != locked).cloned().collect();
    assert_eq!(due(&left), still);
    assert!(still.len() >= 2, "the missed periods are all listed, not only the latest");
}

#[tokio::test]
async fn values_and_notes_are_stored_exactly_as_sent_whatever_their_characters() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    // Notes that would break a naive array, CSV or SQL literal, and figures whose shortest
    // decimal form has many digits.
    let cases: [(&str, f64, Option<&str>); 6] = [
        ("2016/17", 33.333_333_333_333_336, Some(r#"a "quoted" \ note, {with} braces"#)),
        ("2017/18", 0.1, Some("NULL")),
        ("2018/19", 99.999_999_999_999_99, Some("")),
        ("2019/20", 1e-7, Some("two\nlines\tand 'apostrophes'; DROP TABLE observations; --")),
        ("2020/21", 12.5, Some("émigré ✓ 日本")),
        ("2021/22", 50.0, None),
    ];
    let values: Vec<Value> = cases
        .iter()
        .map(|(period, v, note)| {
            let mut row = value("school-readiness", "E09000007", period, *v);
            if let Some(n) = note {
                row["note"] = json!(n);
            }
            row
        })
        .collect();
    let outcome = submit(&app, &camden, input("camden", values)).await;
    assert_eq!(outcome["accepted"], 6, "{outcome}");
    let query = r#"{ measure(slug: "school-readiness") { observations(geography: "E09000007", first: 10) {
        nodes { period value note } } } }"#;
    let data = app.data_as(&camden, query, json!({})).await;
    let nodes = data["measure"]["observations"]["nodes"].as_array().expect("values").clone();
    for (period, v, note) in cases {
        let node = nodes.iter().find(|n| n["period"] == period).unwrap_or_else(|| panic!("{period}: {data}"));
        assert_eq!(node["value"].as_f64(), Some(v), "{period}: {outcome}");
        // An empty note is no note.
        let expected = note.filter(|n| !n.is_empty());
        assert_eq!(node["note"].as_str(), expected, "{period}");
    }
}

/// A new revision is numbered after every revision before it, rejected ones too, and is
/// compared with the current figures: the newest revision approved or in review, never a
/// rejected one above it.
#[tokio::test]
async fn a_rejected_revision_is_numbered_past_but_never_compared_with() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let approver = app.token_for("north-central-london-ics", "reviewer@ncl", &[Role::Approver]);
    let one = |v: f64| input("camden", vec![value("reception-overweight", "E09000007", "2022/23", v)]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { userErrors { code } } }";
    let reject =
        "mutation($id: ID!) { rejectReturn(input: { id: $id, note: \"wrong denominator\" }) { userErrors { code } } }";

    let first = submit(&app, &camden, one(19.4)).await;
    app.data_as(&approver, approve, json!({ "id": first["return"]["id"] })).await;
    for wrong in [25.0, 26.0] {
        let bad = submit(&app, &camden, one(wrong)).await;
        assert_eq!(bad["accepted"], 1, "{bad}");
        app.data_as(&approver, reject, json!({ "id": bad["return"]["id"] })).await;
    }
    // The approved 19.4 is current: sending it again changes nothing.
    let same = submit(&app, &camden, one(19.4)).await;
    assert_eq!((same["accepted"].clone(), same["unchanged"].clone()), (json!(0), json!(1)), "{same}");
    // A correction replaces 19.4 (not the rejected 26.0) and comes after revision 3.
    let corrected = submit(&app, &camden, one(18.9)).await;
    assert_eq!(
        corrected["changes"][0],
        json!({ "row": 0, "measure": "reception-overweight", "geography": "E09000007", "period": "2022/23", "oldValue": 19.4, "newValue": 18.9, "revision": 4, "kind": "REVISED" }),
        "{corrected}"
    );
}
