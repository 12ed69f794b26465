//! Relay connections: cursors, bounded pages, both directions.

use serde_json::{Value, json};

use crate::helpers::{error_codes, spawn_app};

const BOROUGHS: &str = r#"query($first: Int, $after: String, $last: Int, $before: String) {
  geographies(level: BOROUGH, first: $first, after: $after, last: $last, before: $before) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { code } } nodes { code } } }"#;

fn codes(page: &Value) -> Vec<String> {
    page["nodes"].as_array().expect("nodes").iter().map(|n| n["code"].as_str().expect("code").to_owned()).collect()
}

#[tokio::test]
async fn following_end_cursors_walks_every_borough_once() {
    let app = spawn_app().await;
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let data = app.data(BOROUGHS, json!({ "first": 10, "after": after })).await;
        let page = &data["geographies"];
        assert_eq!(page["totalCount"], 33);
        let edges: Vec<String> = page["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["code"].as_str().expect("code").to_owned())
            .collect();
        assert_eq!(edges, codes(page), "edges and nodes agree");
        assert_eq!(page["pageInfo"]["hasPreviousPage"], !seen.is_empty());
        seen.extend(codes(page));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = (1..=33).map(|n| format!("E090000{n:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn last_and_before_page_backwards() {
    let app = spawn_app().await;
    let data = app.data(BOROUGHS, json!({ "last": 3 })).await;
    assert_eq!(codes(&data["geographies"]), ["E09000031", "E09000032", "E09000033"]);
    assert_eq!(data["geographies"]["pageInfo"]["hasPreviousPage"], true);
    let before = data["geographies"]["pageInfo"]["startCursor"].clone();
    let data = app.data(BOROUGHS, json!({ "last": 2, "before": before })).await;
    assert_eq!(codes(&data["geographies"]), ["E09000029", "E09000030"]);
    assert_eq!(data["geographies"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn an_oversized_page_is_an_error_not_a_truncated_list() {
    let app = spawn_app().await;
    for vars in
        [json!({ "first": 101 }), json!({ "last": 500 }), json!({ "first": -1 }), json!({ "first": 5, "last": 5 })]
    {
        let body = app.graphql(BOROUGHS, vars.clone()).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{vars}: {body}");
        assert_eq!(body["data"], Value::Null, "nothing is returned for {vars}");
    }
    let body = app.graphql(BOROUGHS, json!({ "first": 100 })).await;
    assert_eq!(body["data"]["geographies"]["nodes"].as_array().map(Vec::len), Some(33));
}

#[tokio::test]
async fn a_cursor_that_is_not_ours_is_bad_input() {
    let app = spawn_app().await;
    let body = app.graphql(BOROUGHS, json!({ "first": 2, "after": "not-a-cursor" })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
}

#[tokio::test]
async fn the_total_is_counted_only_when_asked_for() {
    let app = crate::helpers::spawn_app().await;
    let count = |query: &'static str| {
        let app = &app;
        async move {
            let before = app.statements_run().await;
            let data = app.data(query, serde_json::json!({})).await;
            (app.statements_run().await - before, data)
        }
    };
    let (without, _) = count("{ measures(first: 5) { nodes { slug } } }").await;
    let (with, data) = count("{ measures(first: 5) { n: totalCount nodes { slug } } }").await;
    assert_eq!(with, without + 1, "one COUNT when the total is asked for, even under an alias");
    assert_eq!(data["measures"]["n"], 43);
    let (in_fragment, data) =
        count("{ measures(first: 5) { ...total nodes { slug } } } fragment total on MeasureConnection { totalCount }")
            .await;
    assert_eq!(in_fragment, with);
    assert_eq!(data["measures"]["totalCount"], 43);
}

#[tokio::test]
async fn a_measures_values_page_forwards_and_backwards_with_cursors() {
    let app = spawn_app().await;
    let values: Vec<Value> = (1..=7)
        .map(|n| json!({ "measure": "school-readiness", "geography": format!("E090000{n:02}"), "period": "2022/23", "value": f64::from(n) }))
        .collect();
    crate::picture::approved(&app, values).await;
    let q = r#"query($first: Int, $after: String, $last: Int, $before: String) { measure(slug: "school-readiness") {
        observations(first: $first, after: $after, last: $last, before: $before) {
          totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { value } } } }"#;
    let page = |vars: Value| {
        let app = &app;
        async move { app.data(q, vars).await["measure"]["observations"].clone() }
    };
    let values_of = |p: &Value| -> Vec<f64> {
        p["nodes"].as_array().expect("list").iter().filter_map(|n| n["value"].as_f64()).collect()
    };
    let first = page(json!({ "first": 3 })).await;
    assert_eq!(values_of(&first), vec![1.0, 2.0, 3.0]);
    assert_eq!((first["totalCount"].clone(), first["pageInfo"]["hasNextPage"].clone()), (json!(7), json!(true)));
    let second = page(json!({ "first": 3, "after": first["pageInfo"]["endCursor"] })).await;
    assert_eq!(values_of(&second), vec![4.0, 5.0, 6.0]);
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    let third = page(json!({ "first": 3, "after": second["pageInfo"]["endCursor"] })).await;
    assert_eq!(values_of(&third), vec![7.0]);
    assert_eq!(third["pageInfo"]["hasNextPage"], false);
    let last = page(json!({ "last": 2 })).await;
    assert_eq!(values_of(&last), vec![6.0, 7.0]);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    let before = page(json!({ "last": 2, "before": last["pageInfo"]["startCursor"] })).await;
    assert_eq!(values_of(&before), vec![4.0, 5.0]);
    assert_eq!(before["pageInfo"]["hasNextPage"], true);
}
