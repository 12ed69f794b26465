//! The returns cycle as borough teams and approvers live it: the review queue, withdrawals,
//! and idempotency keys after a return was rejected or withdrawn.

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, error_codes, spawn_app},
    returns::{input, submit, value},
};

const CAMDEN: &str = "E09000007";
const HACKNEY: &str = "E09000012";

const QUEUE: &str = "{ viewer { returnsToReview { totalCount nodes { id status organisation { slug } } } } }";

async fn sent(app: &TestApp, org: &str, subject: &str, code: &str, v: f64) -> Value {
    let token = app.token_for(org, subject, &[Role::Submitter]);
    let payload = submit(app, &token, input(org, vec![value("school-readiness", code, "2022/23", v)])).await;
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    payload["return"]["id"].clone()
}

fn ids(queue: &Value) -> Vec<Value> {
    queue["viewer"]["returnsToReview"]["nodes"].as_array().expect("a list").iter().map(|n| n["id"].clone()).collect()
}

#[tokio::test]
async fn an_approver_sees_the_returns_waiting_for_them_oldest_first_within_their_area() {
    let app = spawn_app().await;
    let first = sent(&app, "camden", "analyst@camden", CAMDEN, 60.0).await;
    let second = sent(&app, "camden", "analyst@camden", CAMDEN, 61.0).await;
    let hackney = sent(&app, "hackney", "analyst@hackney", HACKNEY, 62.0).await;

    // North Central London ICS covers Camden, not Hackney.
    let ncl = app.token_for("north-central-london-ics", "reviewer@ncl", &[Role::Approver]);
    let queue = app.data_as(&ncl, QUEUE, json!({})).await;
    assert_eq!(ids(&queue), [first.clone(), second.clone()], "{queue}");
    assert_eq!(queue["viewer"]["returnsToReview"]["totalCount"], 2);
    // The same through `returns(reviewable: true)`.
    let listed =
        app.data_as(&ncl, "{ returns(reviewable: true) { nodes { id } } }", json!({})).await["returns"]["nodes"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|n| n["id"].clone())
            .collect::<Vec<_>>();
    assert_eq!(listed, [first.clone(), second.clone()]);

    // Hackney's approver sees Hackney's only; a person never sees their own submissions.
    let h = app.token_for("hackney", "reviewer@hackney", &[Role::Approver]);
    assert_eq!(ids(&app.data_as(&h, QUEUE, json!({})).await), [hackney]);
    let own = app.token_for("camden", "analyst@camden", &[Role::Submitter, Role::Approver]);
    assert_eq!(ids(&app.data_as(&own, QUEUE, json!({})).await), Vec::<Value>::new());

    // Someone who may not approve has nothing to review, and may not ask the list for it.
    let submitter = app.token_for("camden", "other@camden", &[Role::Submitter]);
    assert_eq!(ids(&app.data_as(&submitter, QUEUE, json!({})).await), Vec::<Value>::new());
    let (_, refused) = app.graphql_as(&submitter, "{ returns(reviewable: true) { nodes { id } } }", json!({})).await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"], "{refused}");

    // A decided return leaves the queue.
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } } }";
    app.data_as(&ncl, approve, json!({ "id": first })).await;
    assert_eq!(ids(&app.data_as(&ncl, QUEUE, json!({})).await), [second]);
}

const WITHDRAW: &str = "mutation($id: ID!, $note: String) { withdrawReturn(input: { id: $id, note: $note }) {
    return { status reviewNote reviewedBy } userErrors { code message field } } }";

#[tokio::test]
async fn a_submitter_withdraws_a_return_in_review_and_its_values_never_become_current() {
    let app = spawn_app().await;
    let id = sent(&app, "camden", "analyst@camden", CAMDEN, 55.0).await;
    // Another borough cannot see it; the ICS above it sees it but did not send it.
    let hackney = app.token_for("hackney", "analyst@hackney", &[Role::Submitter]);
    let other = app.data_as(&hackney, WITHDRAW, json!({ "id": id })).await["withdrawReturn"].clone();
    assert_eq!(other["userErrors"][0]["code"], "NOT_FOUND", "{other}");
    let ncl = app.token_for("north-central-london-ics", "analyst@ncl", &[Role::Submitter]);
    let above = app.data_as(&ncl, WITHDRAW, json!({ "id": id })).await["withdrawReturn"].clone();
    assert_eq!(above["userErrors"][0]["code"], "NOT_ALLOWED", "{above}");

    let camden = app.token_for("camden", "lead@camden", &[Role::Submitter]);
    let done =
        app.data_as(&camden, WITHDRAW, json!({ "id": id, "note": "sent the draft file" })).await["withdrawReturn"]
            .clone();
    assert_eq!(done["userErrors"], json!([]), "{done}");
    assert_eq!(
        done["return"],
        json!({ "status": "WITHDRAWN", "reviewNote": "sent the draft file", "reviewedBy": "lead@camden" })
    );

    // Once only; and no approver can decide it now.
    let again = app.data_as(&camden, WITHDRAW, json!({ "id": id })).await["withdrawReturn"].clone();
    assert_eq!(again["userErrors"][0]["code"], "CONFLICT", "{again}");
    let approver = app.token_for("north-central-london-ics", "reviewer@ncl", &[Role::Approver]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } userErrors { code } } }";
    let late = app.data_as(&approver, approve, json!({ "id": id })).await;
    assert_eq!(late["approveReturn"]["userErrors"][0]["code"], "CONFLICT", "{late}");
    assert_eq!(ids(&app.data_as(&approver, QUEUE, json!({})).await), Vec::<Value>::new());

    // Its value is nowhere: not public, not in review for partners, not in the picture.
    let query = r#"{ measure(slug: "school-readiness") { observations(geography: "E09000007") { totalCount } } }"#;
    assert_eq!(app.data(query, json!({})).await["measure"]["observations"]["totalCount"], 0);
    assert_eq!(app.data_as(&approver, query, json!({})).await["measure"]["observations"]["totalCount"], 0);

    // The next return of the same value is new, not "unchanged".
    let resent = submit(&app, &camden, input("camden", vec![value("school-readiness", CAMDEN, "2022/23", 55.0)])).await;
    assert_eq!(resent["accepted"], 1, "{resent}");

    // A note with a control character is refused, and nothing changes.
    let id2 = resent["return"]["id"].clone();
    let (_, bad) = app.graphql_as(&camden, WITHDRAW, json!({ "id": id2, "note": "bell\u{7}" })).await;
    assert_eq!(error_codes(&bad), ["BAD_USER_INPUT"], "{bad}");
    let status = "query($id: ID!) { return(id: $id) { status } }";
    assert_eq!(app.data_as(&camden, status, json!({ "id": id2 })).await["return"]["status"], "SUBMITTED");
}

#[tokio::test]
async fn a_key_used_for_a_rejected_return_says_so_and_a_new_key_sends_the_values_again() {
    let app = spawn_app().await;
    let submitter = app.token_for("camden", "analyst@camden", &[Role::Submitter]);
    let mut vars = input("camden", vec![value("school-readiness", CAMDEN, "2022/23", 58.0)]);
    vars["input"]["idempotencyKey"] = json!("camden-2022-23-v1");
    let first = submit(&app, &submitter, vars.clone()).await;
    assert_eq!(first["accepted"], 1, "{first}");
    let approver = app.token_for("camden", "reviewer@camden", &[Role::Approver]);
    let reject =
        "mutation($id: ID!) { rejectReturn(input: { id: $id, note: \"wrong denominator\" }) { return { status } } }";
    app.data_as(&approver, reject, json!({ "id": first["return"]["id"] })).await;

    let again = submit(&app, &submitter, vars.clone()).await;
    assert_eq!(again["return"], Value::Null, "nothing written: {again}");
    assert_eq!(again["userErrors"][0]["code"], "RETURN_CLOSED", "{again}");
    let message = again["userErrors"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("rejected")
            && message.contains("wrong denominator")
            && message.contains("new idempotency key"),
        "{message}"
    );

    vars["input"]["idempotencyKey"] = json!("camden-2022-23-v2");
    let fresh = submit(&app, &submitter, vars).await;
    assert_eq!(fresh["userErrors"], json!([]), "{fresh}");
    assert_eq!(fresh["accepted"], 1);
}

/// A withdrawal and an approval of the same return at the same moment: exactly one wins, the
/// other is told, and nothing fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_racing_an_approval_decides_once() {
    let app = spawn_app().await;
    let camden = app.token_for("camden", "lead@camden", &[Role::Submitter]);
    let approver = app.token_for("north-central-london-ics", "reviewer@ncl", &[Role::Approver]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } userErrors { code } } }";
    for round in 0..4 {
        let id = sent(&app, "camden", "analyst@camden", CAMDEN, 50.0 + f64::from(round)).await;
        let (w, a) = tokio::join!(
            app.graphql_as(&camden, WITHDRAW, json!({ "id": id })),
            app.graphql_as(&approver, approve, json!({ "id": id })),
        );
        for (status, body) in [&w, &a] {
            assert_eq!(*status, 200, "{body}");
            assert!(body.get("errors").is_none(), "{body}");
        }
        let won = [&w.1["data"]["withdrawReturn"], &a.1["data"]["approveReturn"]]
            .iter()
            .filter(|p| p["userErrors"].as_array().is_some_and(Vec::is_empty))
            .count();
        assert_eq!(won, 1, "one decision: {w:?} {a:?}");
        let lost = [&w.1["data"]["withdrawReturn"], &a.1["data"]["approveReturn"]]
            .iter()
            .find_map(|p| p["userErrors"][0]["code"].as_str().map(str::to_owned));
        assert_eq!(lost.as_deref(), Some("CONFLICT"));
    }
}

#[tokio::test]
async fn long_and_hostile_text_in_the_new_inputs_is_refused_with_a_code() {
    let app = spawn_app().await;
    let camden = app.token_for("camden", "lead@camden", &[Role::Submitter]);
    let admin = app.token_for("gla", "admin@gla", &[Role::Admin]);
    let id = sent(&app, "camden", "analyst@camden", CAMDEN, 40.0).await;
    let long = "x".repeat(100_000);
    let withdraw = app.data_as(&camden, WITHDRAW, json!({ "id": id, "note": long })).await["withdrawReturn"].clone();
    assert_eq!(withdraw["userErrors"][0]["code"], "TOO_LONG", "{withdraw}");
    let issue = "mutation($s: String!, $t: String!) { issueToken(input: { organisation: \"camden\", subject: $s, ttl: $t }) { token userErrors { code } } }";
    for (subject, ttl) in [(long.as_str(), "1d"), ("ok", long.as_str()), ("a\u{0}b", "1d")] {
        let (status, body) = app.graphql_as(&admin, issue, json!({ "s": subject, "t": ttl })).await;
        assert_eq!(status, 200);
        let coded = body["data"]["issueToken"]["userErrors"][0]["code"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| error_codes(&body).first().cloned());
        assert!(coded.is_some_and(|c| c != "INTERNAL_SERVER_ERROR"), "{body}");
        assert!(body["data"]["issueToken"]["token"].is_null(), "nothing issued");
    }
    let revoke = "mutation($id: String!) { revokeToken(input: { id: $id, reason: \"r\" }) { userErrors { code } } }";
    let none = app.data_as(&admin, revoke, json!({ "id": long })).await;
    assert_eq!(none["revokeToken"]["userErrors"][0]["code"], "NOT_FOUND");
    let list =
        app.data_as(&admin, "query($o: String) { issuedTokens(organisation: $o) { id } }", json!({ "o": long })).await;
    assert_eq!(list["issuedTokens"], json!([]));
    // Lists inside lists: the queue's returns, their values, each value's history.
    let nested = "{ viewer { returnsToReview(first: 100) { nodes { observations(first: 100) { nodes { history(first: 100) { value } } } } } } }";
    let (_, body) = app.graphql_as(&camden, nested, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
}
