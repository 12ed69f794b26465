//! Returns as CSV, over HTTP and from the command line, through the same pipeline.

use std::process::Command;

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const HEADER: &str = "measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note";

async fn post_csv(app: &TestApp, token: Option<&str>, query: &str, body: String) -> (u16, Value) {
    let mut request =
        app.client.post(format!("{}/returns.csv{query}", app.address)).header("content-type", "text/csv").body(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn a_csv_return_is_submitted_through_the_same_pipeline() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let body = format!(
        "{HEADER}\nreception-overweight,E09000007,2022/23,19.4,412,2124,17.8,21.1,\nschool-readiness,E09000007,2022/23,67.2,,,,,\"provisional, LA data\"\n"
    );
    let (status, summary) = post_csv(&app, Some(&camden), "", body).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!((summary["accepted"].clone(), summary["rejected"].clone()), (json!(2), json!(0)));
    assert_eq!(summary["changes"][0]["row"], 2, "rows are numbered by CSV line");
    let id = summary["return"].clone();
    let data = app
        .data_as(&camden, "query($id: ID!) { return(id: $id) { status observations { totalCount nodes { value numerator lowerCi note } } } }", json!({ "id": id }))
        .await;
    assert_eq!(data["return"]["status"], "SUBMITTED");
    assert_eq!(
        data["return"]["observations"]["nodes"][0],
        json!({ "value": 19.4, "numerator": 412.0, "lowerCi": 17.8, "note": null })
    );
    assert_eq!(data["return"]["observations"]["nodes"][1]["note"], "provisional, LA data");
}

#[tokio::test]
async fn csv_problems_name_their_line_and_nothing_is_written() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let body = format!(
        "{HEADER}\nschool-readiness,E09000007,2022/23,67.2,,,,,\nschool-readiness,E09000007,2021/22,sixty,,,,,\nschool-readiness,E09000008,2022/23,60,,,,,\nschool-readiness,E09000007,2022,60,,,,,\n"
    );
    let (status, summary) = post_csv(&app, Some(&camden), "", body).await;
    assert_eq!(status, 422);
    assert_eq!(summary["return"], Value::Null);
    assert_eq!(summary["rejected"], 3);
    let lines: Vec<(i64, &str)> = summary["userErrors"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| (e["row"].as_i64().expect("row"), e["code"].as_str().expect("code")))
        .collect();
    assert_eq!(lines, [(3, "INVALID"), (4, "OUT_OF_SCOPE"), (5, "WRONG_PERIOD_TYPE")]);
    let count = app.data_as(&camden, "{ returns { totalCount } }", json!({})).await;
    assert_eq!(count["returns"]["totalCount"], 0, "the good line was not written either");

    let (status, summary) = post_csv(&app, Some(&camden), "", "measure,area,period\nx,y,z\n".into()).await;
    assert_eq!(status, 422);
    assert_eq!(summary["userErrors"][0]["row"], 1, "a bad header names line 1");

    let (status, body) = post_csv(&app, None, "", format!("{HEADER}\n")).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_retried_csv_upload_with_the_same_key_writes_once() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let body = format!("{HEADER}\nschool-readiness,E09000007,2022/23,67.2,,,,,\n");
    let send = || {
        app.client
            .post(format!("{}/returns.csv", app.address))
            .bearer_auth(&camden)
            .header("idempotency-key", "nightly-2023-06-01")
            .body(body.clone())
            .send()
    };
    let first: Value = send().await.expect("sent").json().await.expect("json");
    let again: Value = send().await.expect("sent").json().await.expect("json");
    assert_eq!(again["return"], first["return"]);
    assert_eq!(again["replayed"], true);
    let dry: Value = app
        .client
        .post(format!("{}/returns.csv?dryRun=true", app.address))
        .bearer_auth(&camden)
        .body(format!("{HEADER}\nschool-readiness,E09000007,2022/23,68.0,,,,,\n"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(dry["changes"][0]["kind"], "REVISED");
    assert_eq!(dry["return"], Value::Null);
    let count = app.data_as(&camden, "{ returns { totalCount } }", json!({})).await;
    assert_eq!(count["returns"]["totalCount"], 1);
}

#[tokio::test]
async fn the_import_command_submits_a_csv_file_through_the_same_pipeline() {
    let app = spawn_app().await;
    let file = app.config.data_dir.join("return.csv");
    std::fs::write(&file, format!("{HEADER}\nrough-sleeping,E09000030,2022/23,420,,,,,\n")).expect("write");
    let run = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_london-vision"))
            .args(["import", path.to_str().expect("utf-8"), "--org", "tower-hamlets"])
            .env("DATABASE_URL", &app.database_url)
            .env("DATA_DIR", &app.config.data_dir)
            .output()
            .expect("runs")
    };
    let output = run(&file);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    assert_eq!(summary["accepted"], 1);
    let partner = app.token("tower-hamlets", &[Role::Submitter]);
    let data = app
        .data_as(&partner, "{ measure(slug: \"rough-sleeping\") { observations(geography: \"E09000030\") { nodes { value status } } } }", json!({}))
        .await;
    assert_eq!(data["measure"]["observations"]["nodes"], json!([{ "value": 420.0, "status": "SUBMITTED" }]));

    let bad = app.config.data_dir.join("bad.csv");
    std::fs::write(&bad, format!("{HEADER}\nrough-sleeping,E09000030,2022/23,-5,,,,,\n")).expect("write");
    let output = run(&bad);
    assert!(!output.status.success(), "a refused import fails");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    assert_eq!(summary["userErrors"][0]["code"], "OUT_OF_RANGE");
}

#[tokio::test]
async fn the_example_partner_script_submits_a_csv_and_is_safe_to_rerun() {
    let app = spawn_app().await;
    let token = app.token("camden", &[Role::Submitter]);
    let file = app.config.data_dir.join("camden.csv");
    std::fs::write(&file, format!("{HEADER}\nschool-readiness,E09000007,2022/23,67.2,,,,,\n")).expect("write");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/submit_return.py");
    let (address, secret) = (app.address.clone(), token.clone());
    let run_with = move |extra: &'static [&'static str]| {
        let output = Command::new("python3")
            .arg(&script)
            .arg(&file)
            .args(extra)
            .env("LONDON_VISION_URL", &address)
            .env("LONDON_VISION_TOKEN", &secret)
            .output()
            .expect("python3 runs");
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let run = {
        let run_with = run_with.clone();
        move || run_with(&[])
    };
    let (code, out) = tokio::task::spawn_blocking(run.clone()).await.expect("joined");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("accepted: 1  unchanged: 0  rejected: 0"), "{out}");
    let (code, out) = tokio::task::spawn_blocking(run.clone()).await.expect("joined");
    assert_eq!(code, Some(0));
    assert!(out.contains("replayed"), "a rerun replays the first result: {out}");
    let count = app.data_as(&token, "{ returns { totalCount nodes { id } } }", json!({})).await;
    assert_eq!(count["returns"]["totalCount"], 1);

    // Rejected: the same file again stops and says why; with --resend it goes under a new key.
    let approver = app.token_for("camden", "reviewer@camden", &[Role::Approver]);
    let reject = "mutation($id: ID!) { rejectReturn(input: { id: $id, note: \"wrong year\" }) { return { status } } }";
    app.data_as(&approver, reject, json!({ "id": count["returns"]["nodes"][0]["id"] })).await;
    let (code, out) = tokio::task::spawn_blocking(run).await.expect("joined");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("rejected") && out.contains("--resend"), "{out}");
    let resend = move || run_with(&["--resend"]);
    let (code, out) = tokio::task::spawn_blocking(resend).await.expect("joined");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("accepted: 1"), "{out}");
    let count = app.data_as(&token, "{ returns { totalCount } }", json!({})).await;
    assert_eq!(count["returns"]["totalCount"], 2);
}

#[tokio::test]
async fn a_large_return_lists_at_most_ten_thousand_changes_but_counts_them_all() {
    let app = spawn_app().await;
    let gla = app.token("gla", &[Role::Submitter]);
    let areas = app.data("{ geographies { nodes { code } } }", json!({})).await;
    let codes: Vec<String> = areas["geographies"]["nodes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|g| g["code"].as_str().expect("code").to_owned())
        .collect();
    let mut body = format!("{HEADER}\n");
    let mut rows = 0;
    'all: for measure in ["smoking-prevalence", "hospital-deaths"] {
        for year in 1900..=2100 {
            for code in &codes {
                body.push_str(&format!("{measure},{code},{year},10,,,,,\n"));
                rows += 1;
                if rows == 10_001 {
                    break 'all;
                }
            }
        }
    }
    let (status, summary) = post_csv(&app, Some(&gla), "?dryRun=true", body.clone()).await;
    assert_eq!(status, 200, "{}", summary["userErrors"]);
    assert_eq!(summary["accepted"], 10_001);
    assert_eq!(summary["changes"].as_array().map(Vec::len), Some(10_000));
    assert_eq!(summary["changesTruncated"], true);
    // Written for real, over several batches; approved; sent again, every value is unchanged.
    let (status, written) = post_csv(&app, Some(&gla), "", body.clone()).await;
    assert_eq!((status, written["accepted"].clone()), (200, json!(10_001)), "{}", written["userErrors"]);
    let count = r#"query($m: String!) { measure(slug: $m) { observations { totalCount } } }"#;
    for (measure, expected) in
        [("smoking-prevalence", 201 * codes.len()), ("hospital-deaths", 10_001 - 201 * codes.len())]
    {
        let seen = app.data_as(&gla, count, json!({ "m": measure })).await;
        assert_eq!(seen["measure"]["observations"]["totalCount"], expected, "{measure}");
    }
    let approver = app.token_for("gla", "reviewer@gla", &[Role::Approver]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } } }";
    let decided = app.data_as(&approver, approve, json!({ "id": written["return"] })).await;
    assert_eq!(decided["approveReturn"]["return"]["status"], "APPROVED", "{decided}");
    let (_, again) = post_csv(&app, Some(&gla), "", body).await;
    assert_eq!((again["accepted"].clone(), again["unchanged"].clone()), (json!(0), json!(10_001)), "{again}");

    // Its outcome read back afterwards: every value it wrote, page by page, past 10,000.
    let page = r#"query($id: ID!, $after: String) { return(id: $id) { accepted unchanged
        changes(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor }
          nodes { row measure geography period oldValue newValue revision kind } } } }"#;
    let (mut after, mut seen, mut pages) = (Value::Null, std::collections::BTreeSet::new(), 0);
    loop {
        let data = app.data_as(&gla, page, json!({ "id": written["return"], "after": after })).await;
        let ret = &data["return"];
        assert_eq!((ret["accepted"].clone(), ret["unchanged"].clone()), (json!(10_001), json!(0)));
        let changes = &ret["changes"];
        assert_eq!(changes["totalCount"], 10_001);
        for c in changes["nodes"].as_array().expect("nodes") {
            assert_eq!(
                (c["kind"].as_str(), c["revision"].as_i64(), &c["oldValue"]),
                (Some("NEW"), Some(1), &Value::Null)
            );
            assert_eq!(c["newValue"], 10.0);
            assert!(seen.insert(c["row"].as_i64().expect("row")), "row {} listed twice", c["row"]);
        }
        pages += 1;
        if changes["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = changes["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 101);
    // Every CSV line from 2 (after the header) to 10,002, once each.
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), (2..=10_002).collect::<Vec<i64>>());

    // A later return that revises two values and repeats one: what it replaced, by row.
    let first = &codes[0];
    let second = &codes[1];
    let revision = format!(
        "{HEADER}\nsmoking-prevalence,{first},1900,10,,,,,\nsmoking-prevalence,{second},1900,12.5,,,,,\n\
         smoking-prevalence,{first},1901,7,,,,,\n"
    );
    let (status, revised) = post_csv(&app, Some(&gla), "", revision).await;
    assert_eq!(status, 200, "{revised}");
    let data = app
        .data_as(
            &gla,
            r#"query($id: ID!) { return(id: $id) { accepted unchanged changes { totalCount nodes {
                row measure geography period oldValue newValue revision kind } } } }"#,
            json!({ "id": revised["return"] }),
        )
        .await;
    let ret = &data["return"];
    assert_eq!((ret["accepted"].clone(), ret["unchanged"].clone()), (json!(2), json!(1)), "{ret}");
    let mut listed: Vec<Value> = ret["changes"]["nodes"].as_array().expect("nodes").clone();
    listed.sort_by_key(|c| c["row"].as_i64());
    assert_eq!(
        listed,
        vec![
            json!({ "row": 3, "measure": "smoking-prevalence", "geography": second, "period": "1900",
                    "oldValue": 10.0, "newValue": 12.5, "revision": 2, "kind": "REVISED" }),
            json!({ "row": 4, "measure": "smoking-prevalence", "geography": first, "period": "1901",
                    "oldValue": 10.0, "newValue": 7.0, "revision": 2, "kind": "REVISED" }),
        ]
    );
    // Another borough's partner does not see the return at all.
    let camden = app.token("camden", &[Role::Submitter]);
    let hidden =
        app.data_as(&camden, "query($id: ID!) { return(id: $id) { id } }", json!({ "id": revised["return"] })).await;
    assert_eq!(hidden["return"], Value::Null);
}

#[tokio::test]
async fn each_csv_failure_has_its_own_status_and_a_json_code() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let good = format!("{HEADER}\nschool-readiness,E09000007,2022/23,67.2,,,,,\n");
    let (status, body) = post_csv(&app, None, "", good.clone()).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].clone()), (401, json!("UNAUTHENTICATED")));
    let (status, body) = post_csv(&app, Some(&camden), "?organisation=hackney", good.clone()).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].clone()), (403, json!("FORBIDDEN")));
    let (status, _) = post_csv(&app, Some(&camden), "?idempotencyKey=k1", good.clone()).await;
    assert_eq!(status, 200);
    let other = format!("{HEADER}\nschool-readiness,E09000007,2022/23,61.0,,,,,\n");
    let (status, body) = post_csv(&app, Some(&camden), "?idempotencyKey=k1", other).await;
    assert_eq!((status, body["userErrors"][0]["code"].clone()), (409, json!("CONFLICT")), "{body}");
    let bad = format!("{HEADER}\nschool-readiness,E09000007,2022/23,670,,,,,\n");
    let (status, body) = post_csv(&app, Some(&camden), "", bad).await;
    assert_eq!((status, body["userErrors"][0]["code"].clone()), (422, json!("OUT_OF_RANGE")));
    let nul = format!("{HEADER}\nschool-readiness,E09000007,2021/22,67.2,,,,,bad\u{0}note\n");
    let (status, body) = post_csv(&app, Some(&camden), "", nul).await;
    assert_eq!((status, body["userErrors"][0]["code"].clone()), (422, json!("INVALID")), "{body}");
    // Over the size limit: refused as it is read, with a JSON answer.
    let huge = format!("{HEADER}\n{}", "school-readiness,E09000007,2022/23,67.2,,,,,\n".repeat(1_600_000));
    let (status, body) = post_csv(&app, Some(&camden), "", huge).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].clone()), (413, json!("QUERY_TOO_COMPLEX")));
    // Nothing is left in the spool.
    let left = std::fs::read_dir(app.config.data_dir.join("uploads")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "every upload is removed");
}

#[tokio::test]
async fn problems_past_the_cap_say_the_list_is_cut_short() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let rows: String = (0..1_200).map(|i| format!("no-such-measure-{i},E09000007,2022/23,1,,,,,\n")).collect();
    let (status, body) = post_csv(&app, Some(&camden), "", format!("{HEADER}\n{rows}")).await;
    assert_eq!(status, 422);
    assert_eq!(body["rejected"], 1_200);
    assert_eq!(body["userErrors"].as_array().expect("list").len(), 1_000);
    assert_eq!(body["userErrorsTruncated"], true);
}
