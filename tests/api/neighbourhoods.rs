//! Neighbourhoods: imported under their boroughs by an ADMIN (command or mutation), then
//! submitted for by their borough only, and compared within it in the picture.

use std::process::Command;

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::{
    helpers::{error_codes, spawn_app},
    returns::{SUBMIT, input},
};

const IMPORT: &str = "mutation($input: ImportGeographiesInput!) { importGeographies(input: $input) {
    geographies { code name level population parent { code } } created updated unchanged
    userErrors { field code message row } } }";

fn ward(code: &str, name: &str, parent: &str) -> Value {
    json!({ "code": code, "name": name, "parent": parent, "population": 12000, "populationYear": 2021 })
}

fn with_interval(geography: &str, value: f64, lower: f64, upper: f64) -> Value {
    json!({ "measure": "smoking-prevalence", "geography": geography, "period": "2022",
            "value": value, "lowerCi": lower, "upperCi": upper })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wards_are_imported_under_a_borough_submitted_by_it_and_compared_within_it() {
    let app = spawn_app().await;
    let admin = app.token("gla", &[Role::Admin]);

    // Refused whole: one bad row, nothing written; only an ADMIN.
    let bad = json!({ "input": { "geographies": [
        ward("E05013660", "Belsize", "E09000007"),
        ward("E09999999", "Not a ward", "E09000007"),
        ward("E05013661", "Camden Town", "E54000027"),
        ward("E05013660", "Belsize again", "E09000007"),
    ] } });
    let refused = app.data_as(&admin, IMPORT, bad).await["importGeographies"].clone();
    let codes: Vec<(&str, i64)> = refused["userErrors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["code"].as_str().expect("code"), e["row"].as_i64().expect("row")))
        .collect();
    assert_eq!(codes, [("INVALID", 1), ("INVALID", 2), ("DUPLICATE", 3)], "{refused}");
    let none = app.data("{ geographies(level: NEIGHBOURHOOD) { totalCount } }", json!({})).await;
    assert_eq!(none["geographies"]["totalCount"], 0);
    let camden_admin_less = app.token("camden", &[Role::Approver]);
    let (_, body) = app
        .graphql_as(
            &camden_admin_less,
            IMPORT,
            json!({ "input": { "geographies": [ward("E05013660", "Belsize", "E09000007")] } }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);

    // Two Camden wards by mutation; a Hackney ward from a CSV file by the command.
    let good = json!({ "input": { "geographies": [
        ward("E05013660", "Belsize", "E09000007"),
        ward("E05013661", "Camden Town", "E09000007"),
    ] } });
    let done = app.data_as(&admin, IMPORT, good.clone()).await["importGeographies"].clone();
    assert_eq!((done["created"].clone(), done["userErrors"].clone()), (json!(2), json!([])), "{done}");
    assert_eq!(
        done["geographies"][0],
        json!({ "code": "E05013660", "name": "Belsize", "level": "NEIGHBOURHOOD",
        "population": 12000, "parent": { "code": "E09000007" } })
    );
    let again = app.data_as(&admin, IMPORT, good).await["importGeographies"].clone();
    assert_eq!(
        (again["created"].clone(), again["unchanged"].clone()),
        (json!(0), json!(2)),
        "importing again changes nothing"
    );
    let file = app.config.data_dir.join("wards.csv");
    std::fs::write(&file, "code,name,parent,population\nE05009367,Dalston,E09000012,14500\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_london-vision"))
        .args(["geographies", "import", file.to_str().expect("utf-8")])
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_DIR", &app.config.data_dir)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(printed["created"], json!(["E05009367"]));
    let camden = app.data("{ geography(code: \"E09000007\") { children { code } } }", json!({})).await;
    assert_eq!(camden["geography"]["children"], json!([{ "code": "E05013660" }, { "code": "E05013661" }]));

    // Camden submits for its own wards, not Hackney's.
    let submitter = app.token_for("camden", "analyst@camden", &[Role::Submitter]);
    let theirs =
        app.data_as(&submitter, SUBMIT, input("camden", vec![with_interval("E05009367", 10.0, 8.0, 12.0)])).await;
    assert_eq!(theirs["submitReturn"]["userErrors"][0]["code"], "OUT_OF_SCOPE", "{theirs}");
    let values = vec![
        with_interval("E09000007", 20.0, 19.0, 21.0),
        with_interval("E05013660", 10.0, 8.0, 12.0),
        with_interval("E05013661", 21.0, 19.0, 23.0),
    ];
    let sent = app.data_as(&submitter, SUBMIT, input("camden", values)).await["submitReturn"].clone();
    assert_eq!(sent["accepted"], 3, "{sent}");
    let ncl = app.token_for("north-central-london-ics", "approver@ncl", &[Role::Approver]);
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } } }";
    let decided = app.data_as(&ncl, approve, json!({ "id": sent["return"]["id"] })).await;
    assert_eq!(decided["approveReturn"]["return"]["status"], "APPROVED", "{decided}");

    // The picture of Camden's wards: compared with Camden (smoking: low is good), ranked.
    let picture = app
        .data(
            r#"{ picture(measure: "smoking-prevalence", period: "2022") {
                neighbourhoods(borough: "E09000007") { geography { code } value rank comparedToBorough comparedToIcs source }
                all: neighbourhoods { geography { code } }
                boroughs { geography { code } }
                coverage { expected } } }"#,
            json!({}),
        )
        .await;
    let p = &picture["picture"];
    assert_eq!(
        p["neighbourhoods"],
        json!([
            { "geography": { "code": "E05013660" }, "value": 10.0, "rank": 1, "comparedToBorough": "BETTER",
              "comparedToIcs": "NOT_COMPARED", "source": "SUBMITTED" },
            { "geography": { "code": "E05013661" }, "value": 21.0, "rank": 2, "comparedToBorough": "SIMILAR",
              "comparedToIcs": "NOT_COMPARED", "source": "SUBMITTED" },
        ])
    );
    assert_eq!(p["all"].as_array().map(Vec::len), Some(3));
    assert_eq!((p["boroughs"].as_array().map(Vec::len), p["coverage"]["expected"].clone()), (Some(33), json!(33)));
}

#[tokio::test]
async fn the_same_wards_imported_at_once_are_created_once_and_never_fail() {
    let app = spawn_app().await;
    let admin = app.token("gla", &[Role::Admin]);
    let wards: Vec<Value> =
        (0..400).map(|i| ward(&format!("E0501{i:04}"), &format!("Ward {i}"), "E09000012")).collect();
    let vars = json!({ "input": { "geographies": wards } });
    // Eight requests in flight at once, each from its own task.
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, admin, vars) =
                (app.client.clone(), format!("{}/graphql", app.address), admin.clone(), vars.clone());
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(admin)
                    .json(&json!({ "query": IMPORT, "variables": vars }))
                    .send()
                    .await
                    .expect("sent");
                (response.status().as_u16(), response.json::<Value>().await.expect("json"))
            })
        })
        .collect();
    let mut results = Vec::new();
    for run in runs {
        results.push(run.await.expect("ran"));
    }
    let mut created = 0;
    for (status, body) in results {
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body}");
        let done = &body["data"]["importGeographies"];
        assert_eq!(done["userErrors"], json!([]), "{done}");
        created += done["created"].as_i64().expect("created");
    }
    assert_eq!(created, 400, "each ward is created by exactly one import");
    let count = app.data("{ geographies(level: NEIGHBOURHOOD) { totalCount } }", json!({})).await;
    assert_eq!(count["geographies"]["totalCount"], 400);
}
