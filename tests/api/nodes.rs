//! Global IDs and `node`/`nodes`.

use serde_json::{Value, json};

use crate::helpers::{error_codes, spawn_app};

#[tokio::test]
async fn every_kind_of_object_is_refetched_by_its_global_id() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ organisation(slug: "camden") { id slug } geography(code: "E09000007") { id code }
                 priority(slug: "dementia") { id slug commitments { id slug } }
                 measure(slug: "smoking-prevalence") { id slug } caseStudy(slug: "thrive-ldn") { id slug } }"#,
            json!({}),
        )
        .await;
    let cases = [
        (data["organisation"]["id"].clone(), "Organisation", "slug", data["organisation"]["slug"].clone()),
        (data["geography"]["id"].clone(), "Geography", "code", data["geography"]["code"].clone()),
        (data["priority"]["id"].clone(), "Priority", "slug", data["priority"]["slug"].clone()),
        (
            data["priority"]["commitments"][0]["id"].clone(),
            "Commitment",
            "slug",
            data["priority"]["commitments"][0]["slug"].clone(),
        ),
        (data["measure"]["id"].clone(), "Measure", "slug", data["measure"]["slug"].clone()),
        (data["caseStudy"]["id"].clone(), "CaseStudy", "slug", data["caseStudy"]["slug"].clone()),
    ];
    let query = r#"query($id: ID!) { node(id: $id) { __typename id
        ... on Organisation { slug } ... on Geography { code } ... on Priority { slug }
        ... on Commitment { slug } ... on Measure { slug } ... on CaseStudy { slug } } }"#;
    for (id, typename, key, value) in &cases {
        let found = app.data(query, json!({ "id": id })).await;
        assert_eq!(found["node"]["__typename"], *typename);
        assert_eq!(found["node"]["id"], *id);
        assert_eq!(found["node"][key], *value);
    }
    let ids: Vec<Value> = cases.iter().map(|c| c.0.clone()).collect();
    let many = app.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids })).await;
    let back: Vec<Value> = many["nodes"].as_array().expect("list").iter().map(|n| n["id"].clone()).collect();
    assert_eq!(back, ids, "nodes come back in the order asked");
}

#[tokio::test]
async fn an_id_for_nothing_is_null_and_a_string_that_is_not_an_id_is_bad_input() {
    let app = spawn_app().await;
    let id = app.data(r#"{ measure(slug: "smoking-prevalence") { id } }"#, json!({})).await["measure"]["id"].clone();
    // The same kind of ID for a row that does not exist.
    let missing = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("Measure:999999")
    };
    let data = app
        .data(
            "query($a: ID!, $b: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } }",
            json!({ "a": id, "b": missing }),
        )
        .await;
    assert_eq!(data["a"]["id"], id);
    assert_eq!(data["b"], Value::Null);
    let body = app.graphql(r#"{ node(id: "smoking-prevalence") { id } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
}

#[tokio::test]
async fn a_malformed_id_among_nodes_is_null_with_its_own_error() {
    let app = crate::helpers::spawn_app().await;
    let priority =
        app.data("{ priority(slug: \"air-quality\") { id } }", serde_json::json!({})).await["priority"]["id"].clone();
    let body = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            serde_json::json!({ "ids": [priority, "not-an-id", priority] }),
        )
        .await;
    let nodes = body["data"]["nodes"].as_array().expect("a list");
    assert_eq!(nodes.len(), 3, "{body}");
    assert_eq!(nodes[0]["id"], priority);
    assert_eq!(nodes[1], serde_json::Value::Null);
    assert_eq!(nodes[2]["id"], priority);
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["path"], serde_json::json!(["nodes", 1]));
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn audit_events_are_nodes_for_administrators_only() {
    use london_vision::values::Role;
    let app = crate::helpers::spawn_app().await;
    let admin = app.token("gla", &[Role::Admin]);
    let change = "mutation { updatePriority(input: { slug: \"air-quality\", title: \"Improve air quality\" }) { userErrors { message } } }";
    app.data_as(&admin, change, serde_json::json!({})).await;
    let events = app.data_as(&admin, "{ auditEvents(first: 1) { nodes { id action } } }", serde_json::json!({})).await;
    let id = events["auditEvents"]["nodes"][0]["id"].clone();
    let query = "query($id: ID!) { node(id: $id) { id ... on AuditEvent { action } } }";
    let found = app.data_as(&admin, query, serde_json::json!({ "id": id })).await;
    assert_eq!(found["node"]["id"], id);
    assert_eq!(found["node"]["action"], events["auditEvents"]["nodes"][0]["action"]);
    let submitter = app.token("gla", &[Role::Submitter]);
    assert_eq!(app.data_as(&submitter, query, serde_json::json!({ "id": id })).await["node"], serde_json::Value::Null);
    assert_eq!(app.data(query, serde_json::json!({ "id": id })).await["node"], serde_json::Value::Null);
    let grammar = app.client.get(format!("{}/scalars/Period", app.address)).send().await.expect("sent");
    assert_eq!(grammar.status(), 200);
    assert!(grammar.text().await.expect("text").contains("split-year"));
}
