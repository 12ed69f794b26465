//! Relations are batched per request: the statement count does not grow with the list.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};

/// Runs `query` with `$n` and returns how many SQL statements it cost.
async fn cost(app: &TestApp, query: &str, n: usize) -> u64 {
    let before = app.statements_run().await;
    let data = app.data(query, json!({ "n": n })).await;
    let after = app.statements_run().await;
    assert!(data.get("errors").is_none());
    after - before
}

// The server runs on a multi-threaded runtime, as in production, where a loader's batch
// timer runs on another thread than the executor. The tests run many at once on a small
// machine in a debug build, so they give the loader a window long enough for a starved
// executor to walk a whole page; what they check is how statements are grouped.

/// An app whose loaders wait long enough for a slow machine to ask for every key of a level.
/// The cost limit is raised: these queries are deliberately wide, and what is counted here
/// is statements, not cost.
/// The server keeps the directory (organisations, areas, what returns are checked against)
/// from the first request that needs it until the directory version changes: that first
/// request reads it (five statements, once), and is made here before anything is counted.
async fn app() -> TestApp {
    let app = spawn_app_with(|c| {
        c.batch_window_ms = 50;
        c.max_complexity = 1_000_000;
    })
    .await;
    app.data("{ geographies(level: BOROUGH, first: 1) { nodes { parent { code } } } }", json!({})).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_33_boroughs_with_parents_and_organisations_costs_the_same_statements_as_a_list_of_3() {
    let app = app().await;
    let query = r#"query($n: Int!) { geographies(level: BOROUGH, first: $n) {
        nodes { code name parent { code name } organisations { slug name } } } }"#;
    let three = cost(&app, query, 3).await;
    let all = cost(&app, query, 33).await;
    assert_eq!(three, all, "3 boroughs cost {three} statements, 33 cost {all}");
    // The versions (an anonymous answer may be kept, and the kept directory is checked
    // against them), the page and one batch of organisations (no count: `totalCount` is not
    // asked for). The parents come from the kept directory, with no statement of their own.
    assert_eq!(all, 1 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeper_relations_cost_a_bounded_number_of_statements_whatever_the_list_length() {
    let app = app().await;
    // Each relation level is one batch, read once per request. Two levels that read the same
    // kind of row (a parent's parent, an organisation's area) share a statement when they
    // are asked for together, so the count can vary by that, never with the number of rows
    // (one statement a row would be 33 boroughs x 6 relations).
    let boroughs = r#"query($n: Int!) { geographies(level: BOROUGH, first: $n) {
        nodes { code parent { code parent { code } } organisations { slug members { slug } geography { code } } children { code } } } }"#;
    for n in [3, 33] {
        let c = cost(&app, boroughs, n).await;
        assert!(c <= 9, "{n} boroughs cost {c} statements");
    }
    let priorities = r#"query($n: Int!) { priorities(first: $n) { nodes { slug measures { slug commitments { slug } }
        commitments { status measure { slug } priority { slug } } caseStudies { slug organisations { slug } geographies { code } } } } }"#;
    for n in [2, 10] {
        let c = cost(&app, priorities, n).await;
        assert!(c <= 16, "{n} priorities cost {c} statements");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observations_of_many_measures_are_fetched_in_one_statement() {
    let app = app().await;
    let submitter = app.token_for("gla", "analyst@gla", &[london_vision::values::Role::Submitter]);
    // Three values of each of five measures, all percentages of academic years.
    let measures =
        ["reception-overweight", "reception-severe-obesity", "year6-overweight", "year6-obesity", "school-readiness"];
    let values: Vec<serde_json::Value> = measures
        .iter()
        .flat_map(|m| {
            ["E09000001", "E09000002", "E09000003"]
                .map(|g| serde_json::json!({ "measure": m, "geography": g, "period": "2022/23", "value": 20.0 }))
        })
        .collect();
    let submitted = app.data_as(&submitter, crate::returns::SUBMIT, crate::returns::input("gla", values)).await;
    assert_eq!(submitted["submitReturn"]["accepted"], 15);
    let approver = app.token_for("gla", "reviewer@gla", &[london_vision::values::Role::Approver]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } } }";
    let id = submitted["submitReturn"]["return"]["id"].clone();
    app.data_as(&approver, approve, serde_json::json!({ "id": id })).await;
    let query = r#"query($n: Int!) { measures(first: $n) { nodes { slug
        observations(first: 2) { totalCount pageInfo { hasNextPage } nodes { value geography { code } } } } } }"#;
    let few = cost(&app, query, 3).await;
    let all = cost(&app, query, 43).await;
    assert_eq!(few, all, "3 measures cost {few} statements, 43 cost {all}");
    // The versions (an anonymous answer may be kept), the page of measures, one statement
    // for every measure's page of values and one for their totals; the areas come from the
    // kept directory and the values' measures are the list's own.
    assert_eq!(all, 1 + 3);
    let data = app.data(query, serde_json::json!({ "n": 43 })).await;
    for m in data["measures"]["nodes"].as_array().expect("list") {
        let obs = &m["observations"];
        let expected = if measures.contains(&m["slug"].as_str().unwrap_or_default()) { 3 } else { 0 };
        assert_eq!(obs["totalCount"], expected, "{m}");
        assert_eq!(obs["nodes"].as_array().map(Vec::len), Some(expected.min(2)), "{m}");
        assert_eq!(obs["pageInfo"]["hasNextPage"], expected > 2, "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_values_of_many_returns_are_fetched_in_one_statement() {
    let app = app().await;
    let submitter = app.token_for("gla", "analyst@gla", &[london_vision::values::Role::Submitter]);
    for n in 1..=12 {
        let values = vec![serde_json::json!({
            "measure": "school-readiness", "geography": format!("E090000{n:02}"), "period": "2022/23", "value": 50.0 })];
        app.data_as(&submitter, crate::returns::SUBMIT, crate::returns::input("gla", values)).await;
    }
    let query = r#"query($n: Int!) { returns(first: $n) { nodes { id
        observations(first: 5) { totalCount nodes { value period } } } } }"#;
    let statements = |n: usize| {
        let (app, token) = (&app, submitter.clone());
        async move {
            let before = app.statements_run().await;
            let data = app.data_as(&token, query, serde_json::json!({ "n": n })).await;
            (app.statements_run().await - before, data)
        }
    };
    let (few, _) = statements(3).await;
    let (all, data) = statements(12).await;
    assert_eq!(few, all, "3 returns cost {few} statements, 12 cost {all}");
    for r in data["returns"]["nodes"].as_array().expect("list") {
        assert_eq!(r["observations"]["totalCount"], 1, "{r}");
        assert_eq!(r["observations"]["nodes"][0]["value"], 50.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_boroughs_values_of_many_measures_with_disclosure_rules_cost_the_same_statements_as_of_a_few() {
    let app = app().await;
    // The five measures of HIV and STIs (all with a disclosure rule), for London and the 33
    // boroughs; Camden's numerator is small enough to be suppressed.
    let periods = [
        ("hiv-late-diagnosis", "2021-23"),
        ("new-hiv-diagnosis-rate", "2023"),
        ("syphilis-rate", "2023"),
        ("new-sti-diagnoses", "2023"),
        ("gonorrhoea-rate", "2023"),
    ];
    let mut values = Vec::new();
    for (m, period) in periods {
        let multiplier = if m == "hiv-late-diagnosis" { 100.0 } else { 100_000.0 };
        values.push(crate::picture::ratio(m, "E12000007", period, 4_000.0, 9_000_000.0, multiplier));
        for i in 1..=33 {
            let numerator = if i == 7 { 3.0 } else { 100.0 + f64::from(i) };
            let code = format!("E090000{i:02}");
            values.push(crate::picture::ratio(m, &code, period, numerator, 250_000.0, multiplier));
        }
    }
    crate::picture::approved(&app, values).await;
    let query = r#"query($n: Int!) { measures(priority: "hiv-and-stis", first: $n) { nodes { slug
        observations(level: BOROUGH, first: 40) { nodes { value suppressed geography { code level } } } } } }"#;
    // The priority's first measure (HIV testing coverage) has no values; the next five do.
    let two = cost(&app, query, 2).await;
    let six = cost(&app, query, 6).await;
    assert_eq!(two, six, "2 measures cost {two} statements, 6 cost {six}");
    // The versions, the priority, its measures, their pages of values, and for the
    // disclosure rule the public's hidden figures as kept at approval (not the areas' tree and
    // every current value the rule is judged on: see `public_hidden`); the areas come from the
    // kept directory.
    assert_eq!(six, 5, "6 measures cost {six} statements");
    let data = app.data(query, json!({ "n": 6 })).await;
    let nodes = data["measures"]["nodes"].as_array().expect("measures");
    assert_eq!(nodes.len(), 6);
    assert_eq!(nodes[0]["observations"]["nodes"], json!([]));
    for m in &nodes[1..] {
        let obs = m["observations"]["nodes"].as_array().expect("values");
        assert_eq!(obs.len(), 33, "only the boroughs: {m}");
        assert!(obs.iter().all(|o| o["geography"]["level"] == "BOROUGH"), "{m}");
        let camden = obs.iter().find(|o| o["geography"]["code"] == "E09000007").expect("Camden");
        assert_eq!((camden["value"].clone(), camden["suppressed"].clone()), (json!(null), json!(true)), "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_approved_before_the_public_flags_existed_are_hidden_alike_and_worked_out_at_the_next_start() {
    // No kept answers: each request works its answer out.
    let app = spawn_app_with(|c| {
        c.batch_window_ms = 50;
        c.response_cache_bytes = 0;
    })
    .await;
    let m = "new-hiv-diagnosis-rate";
    let ncl = [("E09000003", 40.0), ("E09000007", 5.0), ("E09000010", 30.0), ("E09000014", 35.0), ("E09000019", 25.0)];
    crate::picture::approved(
        &app,
        ncl.iter().map(|(c, n)| crate::picture::ratio(m, c, "2023", *n, 200_000.0, 100_000.0)).collect(),
    )
    .await;
    let query = r#"query($n: Int!) { measure(slug: "new-hiv-diagnosis-rate") {
        observations(level: BOROUGH, first: $n) { nodes { suppressed geography { code } } } } }"#;
    let hidden = |data: serde_json::Value| {
        let nodes = data["measure"]["observations"]["nodes"].as_array().expect("values").clone();
        nodes.iter().filter(|o| o["suppressed"] == true).map(|o| o["geography"]["code"].clone()).collect::<Vec<_>>()
    };
    let kept = cost(&app, query, 40).await;
    // As a database migrated from before the flags were kept has them: not yet worked out.
    use sea_orm::ConnectionTrait as _;
    app.database().await.execute_unprepared("UPDATE current_values SET public_hidden = NULL").await.expect("forgotten");
    let unknown = cost(&app, query, 40).await;
    // Worked out from the values as well: the areas' tree and the current values, two more.
    assert_eq!(unknown, kept + 2, "kept flags cost {kept}, unknown ones {unknown}");
    assert_eq!(hidden(app.data(query, json!({ "n": 40 })).await), vec![json!("E09000007"), json!("E09000019")]);
    // The next start works them out once; from then on the page reads them again.
    drop(london_vision::startup::Application::build(&app.config).await.expect("starts again"));
    assert_eq!(cost(&app, query, 40).await, kept);
    assert_eq!(hidden(app.data(query, json!({ "n": 40 })).await), vec![json!("E09000007"), json!("E09000019")]);
}
