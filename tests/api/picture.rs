//! The pan-London picture, checked against values worked out by hand: aggregation from
//! numerators and denominators, Wilson intervals, comparisons, ranks and quintiles,
//! coverage, trends, as-of, suppression and commitment progress.

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, error_codes, spawn_app},
    returns::{SUBMIT, input},
};

const CAMDEN: &str = "E09000007";
const ISLINGTON: &str = "E09000019";
const HACKNEY: &str = "E09000012";
const BARNET: &str = "E09000003";
const NCL: &str = "E54000028";

/// A value with its numerator and denominator.
pub(crate) fn ratio(
    measure: &str,
    geography: &str,
    period: &str,
    numerator: f64,
    denominator: f64,
    multiplier: f64,
) -> Value {
    json!({
        "measure": measure, "geography": geography, "period": period,
        "value": numerator / denominator * multiplier, "numerator": numerator, "denominator": denominator,
    })
}

/// Submits `values` as the GLA and approves them as a second GLA person; returns the return's id.
pub(crate) async fn approved(app: &TestApp, values: Vec<Value>) -> Value {
    let submitter = app.token_for("gla", "analyst@gla", &[Role::Submitter]);
    let approver = app.token_for("gla", "reviewer@gla", &[Role::Approver]);
    let payload = app.data_as(&submitter, SUBMIT, input("gla", values)).await["submitReturn"].clone();
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    let id = payload["return"]["id"].clone();
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } userErrors { code } } }";
    let decided = app.data_as(&approver, approve, json!({ "id": id })).await;
    assert_eq!(decided["approveReturn"]["return"]["status"], "APPROVED", "{decided}");
    id
}

const PICTURE: &str = r#"query($m: String!, $p: Period, $at: DateTime) { picture(measure: $m, period: $p, asOf: $at) {
    period aggregation valueType
    coverage { expected reported missing { code } }
    london { value numerator denominator source coverage { expected reported } }
    ics { geography { code } value numerator source coverage { expected reported missing { code name } } comparedToLondon }
    boroughs { geography { code } value numerator lowerCi upperCi suppressed source rank quintile
      comparedToLondon comparedToIcs
      wide: interval(level: NINETY_NINE_POINT_EIGHT) { lower upper method }
      interval { method }
      trend { direction assessment method statistic pValue reason points { period value suppressed } } }
} }"#;

async fn picture(app: &TestApp, token: Option<&str>, vars: Value) -> Value {
    let data = match token {
        Some(t) => app.data_as(t, PICTURE, vars).await,
        None => app.data(PICTURE, vars).await,
    };
    data["picture"].clone()
}

fn area<'a>(list: &'a Value, code: &str) -> &'a Value {
    list.as_array().expect("a list").iter().find(|a| a["geography"]["code"] == code).expect("the area is listed")
}

fn close(v: &Value, expected: f64, tolerance: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < tolerance)
}

#[tokio::test]
async fn london_and_the_icss_add_up_from_numerators_and_boroughs_compare_with_intervals() {
    let app = spawn_app().await;
    let m = "school-readiness";
    approved(
        &app,
        vec![
            ratio(m, CAMDEN, "2022/23", 65.0, 100.0, 100.0),
            ratio(m, ISLINGTON, "2022/23", 600.0, 1000.0, 100.0),
            ratio(m, HACKNEY, "2022/23", 75.0, 100.0, 100.0),
        ],
    )
    .await;
    let p = picture(&app, None, json!({ "m": m })).await;
    assert_eq!(p["period"], "2022/23", "the latest period with approved data");
    assert_eq!((p["aggregation"].as_str(), p["valueType"].as_str()), (Some("RATIO_OF_SUMS"), Some("PROPORTION")));
    // London: 740 of 1,200 = 61.6667%, never the mean of the three rates (66.67%).
    let london = &p["london"];
    assert!(close(&london["value"], 61.666_667, 1e-4), "{london}");
    assert_eq!((london["numerator"].as_f64(), london["denominator"].as_f64()), (Some(740.0), Some(1200.0)));
    assert_eq!(london["source"], "AGGREGATED");
    assert_eq!(london["coverage"], json!({ "expected": 33, "reported": 3 }));
    assert_eq!(p["coverage"]["reported"], 3);
    assert_eq!(p["coverage"]["missing"].as_array().map(Vec::len), Some(30));
    // North Central London: Camden and Islington, 665 of 1,100 = 60.4545%; Barnet missing.
    let ncl = area(&p["ics"], NCL);
    assert!(close(&ncl["value"], 60.454_545, 1e-4), "{ncl}");
    assert_eq!(ncl["coverage"]["expected"], 5);
    assert_eq!(ncl["coverage"]["reported"], 2);
    assert!(ncl["coverage"]["missing"].as_array().expect("list").iter().any(|g| g["code"] == BARNET));
    // Camden, 65 of 100: Wilson 95% (55.2544, 73.6358) holds 61.67: similar. At 99.8%:
    // (49.5495, 77.8354). Hackney, 75 of 100: Wilson lower 65.70 is above London: better
    // (high is good). Islington, 600 of 1,000: (56.93, 62.99) holds London: similar.
    let camden = area(&p["boroughs"], CAMDEN);
    assert!(close(&camden["lowerCi"], 55.2544, 1e-3) && close(&camden["upperCi"], 73.6358, 1e-3), "{camden}");
    assert!(close(&camden["wide"]["lower"], 49.5495, 1e-3) && close(&camden["wide"]["upper"], 77.8354, 1e-3));
    assert_eq!(camden["wide"]["method"], "WILSON");
    assert_eq!(camden["comparedToLondon"], "SIMILAR");
    let hackney = area(&p["boroughs"], HACKNEY);
    assert_eq!(hackney["comparedToLondon"], "BETTER");
    assert_eq!(area(&p["boroughs"], ISLINGTON)["comparedToLondon"], "SIMILAR");
    // Ranks by polarity (high is good): Hackney 75, Camden 65, Islington 60; quintiles of
    // three: ⌊5·0/3⌋+1 = 1, ⌊5·1/3⌋+1 = 2, ⌊5·2/3⌋+1 = 4.
    let ranks: Vec<(Value, Value)> = [HACKNEY, CAMDEN, ISLINGTON]
        .iter()
        .map(|c| (area(&p["boroughs"], c)["rank"].clone(), area(&p["boroughs"], c)["quintile"].clone()))
        .collect();
    assert_eq!(ranks, vec![(json!(1), json!(1)), (json!(2), json!(2)), (json!(3), json!(4))]);
    // Barnet has nothing: no value, no rank, not compared.
    let barnet = area(&p["boroughs"], BARNET);
    assert_eq!((barnet["value"].clone(), barnet["rank"].clone()), (Value::Null, Value::Null));
    assert_eq!(barnet["comparedToLondon"], "NOT_COMPARED");
    // With a single period there is no trend.
    assert_eq!(camden["trend"]["direction"], "CANNOT_BE_CALCULATED");
}

#[tokio::test]
async fn a_steady_rise_over_five_years_is_a_trend_and_four_years_are_not_enough() {
    let app = spawn_app().await;
    let m = "school-readiness";
    let years = ["2018/19", "2019/20", "2020/21", "2021/22", "2022/23"];
    let values: Vec<Value> =
        years.iter().enumerate().map(|(i, y)| ratio(m, CAMDEN, y, 100.0 + 20.0 * i as f64, 1000.0, 100.0)).collect();
    approved(&app, values).await;
    let p = picture(&app, None, json!({ "m": m })).await;
    let trend = &area(&p["boroughs"], CAMDEN)["trend"];
    // 100, 120, 140, 160, 180 of 1,000: χ² for trend = 40,000 / 1,204 = 33.2226.
    assert_eq!(trend["method"], "CHI_SQUARED_FOR_TREND");
    assert!(close(&trend["statistic"], 33.2226, 1e-3), "{trend}");
    assert_eq!(
        (trend["direction"].as_str(), trend["assessment"].as_str()),
        (Some("INCREASING"), Some("GETTING_BETTER"))
    );
    assert_eq!(trend["points"].as_array().map(Vec::len), Some(5));
    // A year earlier, only four consecutive years exist.
    let earlier = picture(&app, None, json!({ "m": m, "p": "2021/22" })).await;
    assert_eq!(area(&earlier["boroughs"], CAMDEN)["trend"]["direction"], "CANNOT_BE_CALCULATED");
}

#[tokio::test]
async fn as_of_a_moment_the_picture_is_what_was_approved_then() {
    let app = spawn_app().await;
    let m = "school-readiness";
    approved(&app, vec![ratio(m, CAMDEN, "2022/23", 65.0, 100.0, 100.0)]).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let published = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // A correction, approved after the moment of publication.
    approved(&app, vec![ratio(m, CAMDEN, "2022/23", 70.0, 100.0, 100.0)]).await;
    // And a value still in review counts nowhere.
    let submitter = app.token_for("gla", "analyst@gla", &[Role::Submitter]);
    app.data_as(&submitter, SUBMIT, input("gla", vec![ratio(m, HACKNEY, "2022/23", 50.0, 100.0, 100.0)])).await;
    let now = picture(&app, None, json!({ "m": m })).await;
    assert!(close(&area(&now["boroughs"], CAMDEN)["value"], 70.0, 1e-9));
    assert_eq!(area(&now["boroughs"], HACKNEY)["value"], Value::Null, "not approved");
    let then = picture(&app, None, json!({ "m": m, "at": published })).await;
    assert!(close(&area(&then["boroughs"], CAMDEN)["value"], 65.0, 1e-9), "{then}");
    // Before anything was approved there is no period to show.
    let before = picture(&app, None, json!({ "m": m, "at": "2001-01-01T00:00:00Z" })).await;
    assert_eq!(before["period"], Value::Null);
}

#[tokio::test]
async fn small_counts_are_hidden_from_others_and_cannot_be_recovered_by_subtraction() {
    let app = spawn_app().await;
    // New HIV diagnoses per 100,000: counts of 1 to 7 are suppressed.
    let m = "new-hiv-diagnosis-rate";
    let ncl = [(BARNET, 40.0), (CAMDEN, 5.0), ("E09000010", 30.0), ("E09000014", 35.0), (ISLINGTON, 25.0)];
    approved(&app, ncl.iter().map(|(code, n)| ratio(m, code, "2023", *n, 200_000.0, 100_000.0)).collect()).await;
    let public = picture(&app, None, json!({ "m": m })).await;
    let hidden: Vec<&str> = ncl
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| area(&public["boroughs"], code)["suppressed"] == true)
        .collect();
    // Camden (5) is hidden, and so is the smallest other part of North Central London
    // (Islington, 25), so the ICS total less the shown boroughs is only their sum.
    assert_eq!(hidden, vec![CAMDEN, ISLINGTON]);
    let camden = area(&public["boroughs"], CAMDEN);
    assert_eq!(
        (camden["value"].clone(), camden["numerator"].clone(), camden["lowerCi"].clone()),
        (Value::Null, Value::Null, Value::Null)
    );
    assert_eq!(camden["rank"], Value::Null);
    let ics_total = area(&public["ics"], NCL)["numerator"].as_f64().expect("the ICS total is shown");
    let shown: f64 = ncl
        .iter()
        .filter(|(code, _)| !hidden.contains(code))
        .map(|(code, _)| area(&public["boroughs"], code)["numerator"].as_f64().expect("shown"))
        .sum();
    assert!((ics_total - shown - 30.0).abs() < 1e-6, "only Camden + Islington (30) can be worked out");
    // Camden's own partners see Camden's figure.
    let camden_partner = app.token("camden", &[Role::Submitter]);
    let own = picture(&app, Some(&camden_partner), json!({ "m": m })).await;
    let mine = area(&own["boroughs"], CAMDEN);
    assert_eq!((mine["suppressed"].as_bool(), mine["numerator"].as_f64()), (Some(false), Some(5.0)));
    // Islington covers Camden for everyone else; Camden knows its own 5, so needs no cover.
    assert_eq!(area(&own["boroughs"], ISLINGTON)["suppressed"], false);
    // Exact Poisson limits for 5 events are computed but shown only where the value is.
    assert_eq!(mine["interval"]["method"], "EXACT_POISSON");
}

#[tokio::test]
async fn a_period_of_the_wrong_type_or_an_unknown_measure_is_refused_with_a_code() {
    let app = spawn_app().await;
    let body = app.graphql(PICTURE, json!({ "m": "school-readiness", "p": "2023" })).await;
    assert_eq!(error_codes(&body), vec!["BAD_USER_INPUT"]);
    let body = app.graphql(PICTURE, json!({ "m": "no-such-measure" })).await;
    assert_eq!(error_codes(&body), vec!["NOT_FOUND"]);
}

#[tokio::test]
async fn a_commitment_is_judged_on_londons_figure_in_the_picture() {
    let app = spawn_app().await;
    // Reception overweight: 22% in 2017/18 to 19.8% by 2023/24 (low is good). No value is
    // submitted for London itself: the picture adds London up from the boroughs,
    // 205 of 1,000 (20.5%) in 2020/21, where the line expects 20.9%: on track.
    let m = "reception-overweight";
    approved(
        &app,
        vec![ratio(m, CAMDEN, "2020/21", 100.0, 500.0, 100.0), ratio(m, HACKNEY, "2020/21", 105.0, 500.0, 100.0)],
    )
    .await;
    let q =
        r#"{ priority(slug: "childhood-obesity") { commitments { latest { value period note } status progress } } }"#;
    let c = app.data(q, json!({})).await["priority"]["commitments"][0].clone();
    assert!(close(&c["latest"]["value"], 20.5, 1e-9), "{c}");
    assert_eq!(c["latest"]["period"], "2020/21");
    assert_eq!(c["status"], "ON_TRACK");
    // Progress: (20.5 - 22) / (19.8 - 22) = 0.6818.
    assert!(close(&c["progress"], 0.681_818, 1e-5), "{c}");
    let p = picture(&app, None, json!({ "m": m })).await;
    assert_eq!(p["london"]["value"], c["latest"]["value"], "the same figure as the picture's");
}

#[tokio::test]
async fn a_series_break_stops_trends_and_shows_in_the_picture_and_the_observations() {
    let app = spawn_app().await;
    let m = "school-readiness";
    let years = ["2018/19", "2019/20", "2020/21", "2021/22", "2022/23"];
    approved(
        &app,
        years.iter().enumerate().map(|(i, y)| ratio(m, CAMDEN, y, 100.0 + 20.0 * i as f64, 1000.0, 100.0)).collect(),
    )
    .await;
    let mark = "mutation($i: MarkSeriesBreakInput!) { markSeriesBreak(input: $i) {
        seriesBreak { period note } userErrors { field code } } }";
    let vars =
        json!({ "i": { "measure": m, "period": "2020/21", "note": "Early years foundation stage profile revised" } });
    // Only an administrator marks a break.
    let (_, refused) = app.graphql_as(&app.token("gla", &[Role::Approver]), mark, vars.clone()).await;
    assert_eq!(error_codes(&refused), vec!["FORBIDDEN"]);
    let admin = app.token("gla", &[Role::Admin]);
    let bad = app.data_as(&admin, mark, json!({ "i": { "measure": m, "period": "2020", "note": "x" } })).await;
    assert_eq!(bad["markSeriesBreak"]["userErrors"], json!([{ "field": ["period"], "code": "INVALID" }]));
    let marked = app.data_as(&admin, mark, vars).await;
    assert_eq!(marked["markSeriesBreak"]["seriesBreak"]["period"], "2020/21");
    // The trend now has only three comparable years.
    let q = r#"{ picture(measure: "school-readiness") { seriesBreak { period note }
        boroughs { geography { code } trend { direction reason points { period } } } }
      measure(slug: "school-readiness") { seriesBreaks { period }
        observations(geography: "E09000007") { nodes { period seriesBreak { period } } } } }"#;
    let data = app.data(q, json!({})).await;
    assert_eq!(data["picture"]["seriesBreak"]["period"], "2020/21");
    let trend = &area(&data["picture"]["boroughs"], CAMDEN)["trend"];
    assert_eq!(trend["direction"], "CANNOT_BE_CALCULATED", "{trend}");
    assert!(trend["reason"].as_str().is_some_and(|r| r.contains("2020/21")), "{trend}");
    assert_eq!(trend["points"].as_array().map(Vec::len), Some(3));
    assert_eq!(data["measure"]["seriesBreaks"], json!([{ "period": "2020/21" }]));
    let marks: Vec<&Value> = data["measure"]["observations"]["nodes"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|o| !o["seriesBreak"].is_null())
        .collect();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0]["period"], "2020/21");
    // Removing it restores the five-year trend.
    let remove = "mutation { removeSeriesBreak(input: { measure: \"school-readiness\", period: \"2020/21\" }) { userErrors { code } } }";
    assert_eq!(app.data_as(&admin, remove, json!({})).await["removeSeriesBreak"]["userErrors"], json!([]));
    let again = app.data(q, json!({})).await;
    assert_eq!(area(&again["picture"]["boroughs"], CAMDEN)["trend"]["direction"], "INCREASING");
}

#[tokio::test]
async fn observations_hide_what_the_picture_hides() {
    let app = spawn_app().await;
    let m = "new-hiv-diagnosis-rate";
    let ncl = [(BARNET, 40.0), (CAMDEN, 5.0), ("E09000010", 30.0), ("E09000014", 35.0), (ISLINGTON, 25.0)];
    approved(&app, ncl.iter().map(|(code, n)| ratio(m, code, "2023", *n, 200_000.0, 100_000.0)).collect()).await;
    let q = r#"query($g: String) { measure(slug: "new-hiv-diagnosis-rate") { suppressUpTo
        observations(geography: $g) { nodes { value numerator suppressed history { value suppressed } } } } }"#;
    for code in [CAMDEN, ISLINGTON] {
        let data = app.data(q, json!({ "g": code })).await;
        assert_eq!(data["measure"]["suppressUpTo"], 7);
        let o = &data["measure"]["observations"]["nodes"][0];
        assert_eq!(
            (o["value"].clone(), o["numerator"].clone(), o["suppressed"].clone()),
            (Value::Null, Value::Null, json!(true)),
            "{code}"
        );
        assert_eq!(o["history"][0]["value"], Value::Null);
    }
    let barnet = app.data(q, json!({ "g": BARNET })).await;
    assert_eq!(barnet["measure"]["observations"]["nodes"][0]["numerator"], 40.0);
    let camden_partner = app.token("camden", &[Role::Submitter]);
    let own = app.data_as(&camden_partner, q, json!({ "g": CAMDEN })).await;
    assert_eq!(own["measure"]["observations"]["nodes"][0]["numerator"], 5.0);
}

/// GETs a CSV export; returns the status and the rows as maps of column to cell.
async fn export(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> (u16, Vec<std::collections::HashMap<String, String>>) {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let body = response.text().await.expect("a body");
    if status != 200 {
        return (status, Vec::new());
    }
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader.headers().expect("a header").clone();
    let rows = reader
        .records()
        .map(|r| header.iter().map(str::to_owned).zip(r.expect("a row").iter().map(str::to_owned)).collect())
        .collect();
    (status, rows)
}

#[tokio::test]
async fn the_picture_and_the_observations_export_as_csv_with_the_same_rules() {
    let app = spawn_app().await;
    let m = "school-readiness";
    approved(
        &app,
        vec![ratio(m, CAMDEN, "2022/23", 65.0, 100.0, 100.0), ratio(m, HACKNEY, "2022/23", 75.0, 100.0, 100.0)],
    )
    .await;
    let (status, rows) = export(&app, "/picture.csv?measure=school-readiness", None).await;
    assert_eq!(status, 200);
    assert_eq!(rows.len(), 39, "London, five ICSs and 33 boroughs");
    assert_eq!((rows[0]["code"].as_str(), rows[0]["level"].as_str()), ("E12000007", "REGION"));
    let camden = rows.iter().find(|r| r["code"] == CAMDEN).expect("Camden");
    assert_eq!(camden["value"], "65");
    assert!(camden["lower_ci_95"].starts_with("55.254"), "{camden:?}");
    assert!(camden["lower_ci_99_8"].starts_with("49.549"), "{camden:?}");
    assert_eq!((camden["rank"].as_str(), camden["compared_to_london"].as_str()), ("2", "SIMILAR"));
    assert_eq!(camden["interval_method"], "WILSON");
    // London: 140 of 200.
    assert_eq!(rows[0]["value"], "70");
    assert_eq!(export(&app, "/picture.csv?measure=school-readiness&period=2023", None).await.0, 400);
    assert_eq!(export(&app, "/picture.csv?measure=nothing-here", None).await.0, 404);
    assert_eq!(export(&app, "/picture.csv?measure=school-readiness&asOf=yesterday", None).await.0, 400);

    let hiv = "new-hiv-diagnosis-rate";
    approved(
        &app,
        [(BARNET, 40.0), (CAMDEN, 5.0), ("E09000010", 30.0), ("E09000014", 35.0), (ISLINGTON, 25.0)]
            .iter()
            .map(|(code, n)| ratio(hiv, code, "2023", *n, 200_000.0, 100_000.0))
            .collect(),
    )
    .await;
    let path = "/observations.csv?measure=new-hiv-diagnosis-rate&from=2023&to=2023";
    let (status, public) = export(&app, path, None).await;
    assert_eq!((status, public.len()), (200, 5));
    let row = |rows: &[std::collections::HashMap<String, String>], code: &str| {
        rows.iter().find(|r| r["code"] == code).cloned().expect("a row")
    };
    assert_eq!((row(&public, CAMDEN)["numerator"].as_str(), row(&public, CAMDEN)["suppressed"].as_str()), ("", "true"));
    assert_eq!(row(&public, ISLINGTON)["suppressed"], "true");
    assert_eq!(row(&public, BARNET)["numerator"], "40");
    let camden_partner = app.token("camden", &[Role::Submitter]);
    let (_, own) = export(&app, path, Some(&camden_partner)).await;
    assert_eq!(row(&own, CAMDEN)["numerator"], "5");
    let (_, none) = export(&app, "/observations.csv?measure=new-hiv-diagnosis-rate&to=2022", None).await;
    assert!(none.is_empty());

    // A value in review is Camden's own: Hackney, anonymous callers and the picture do not see it.
    let camden_submitter = app.token("camden", &[Role::Submitter]);
    let pending = input("camden", vec![ratio(m, CAMDEN, "2023/24", 80.0, 100.0, 100.0)]);
    app.data_as(&camden_submitter, SUBMIT, pending).await;
    let path = "/observations.csv?measure=school-readiness&from=2023/24";
    let (_, own) = export(&app, path, Some(&camden_submitter)).await;
    assert_eq!(own.iter().map(|r| r["status"].as_str()).collect::<Vec<_>>(), vec!["SUBMITTED"]);
    let hackney = app.token("hackney", &[Role::Approver]);
    assert!(export(&app, path, Some(&hackney)).await.1.is_empty());
    assert!(export(&app, path, None).await.1.is_empty());
    let (_, picture_rows) = export(&app, "/picture.csv?measure=school-readiness", Some(&camden_submitter)).await;
    assert_eq!(picture_rows[0]["period"], "2022/23", "the picture is of approved values only");
}

#[tokio::test]
async fn the_demo_dataset_fills_every_measure_and_says_it_is_synthetic() {
    let app = spawn_app().await;
    let db = app.database().await;
    let report = london_vision::demo::load(&db).await.expect("the demo loads");
    assert_eq!(report.measures, 43);
    // Additive measures: 33 boroughs; the others (standardised rates, means, indices) all
    // 39 areas; ten periods each.
    let q =
        r#"{ measures(first: 100) { nodes { slug valueType observations(first: 1) { totalCount nodes { note } } } } }"#;
    let data = app.data(q, json!({})).await;
    for m in data["measures"]["nodes"].as_array().expect("list") {
        let additive = matches!(m["valueType"].as_str(), Some("PROPORTION" | "CRUDE_RATE" | "COUNT"));
        let expected = if additive { 330 } else { 390 };
        assert_eq!(m["observations"]["totalCount"], expected, "{m}");
        assert!(m["observations"]["nodes"][0]["note"].as_str().is_some_and(|n| n.starts_with("Synthetic")));
    }
    let p = app.data(r#"{ picture(measure: "suicide-rate") { period london { source value } } }"#, json!({})).await;
    assert_eq!(
        (p["picture"]["period"].as_str(), p["picture"]["london"]["source"].as_str()),
        (Some("2022-24"), Some("SUBMITTED"))
    );
    // A second run writes nothing.
    let again = london_vision::demo::load(&db).await.expect("runs again");
    assert_eq!(again.already_loaded, 43);
}

/// The SQL statements one query runs.
async fn statements_for(app: &TestApp, query: &str) -> u64 {
    let before = app.statements_run().await;
    app.data(query, json!({})).await;
    app.statements_run().await - before
}

#[tokio::test]
async fn the_picture_costs_the_same_few_statements_for_three_areas_or_thirty_three() {
    let app = spawn_app().await;
    let m = "school-readiness";
    let q = r#"{ picture(measure: "school-readiness") { london { value trend { direction } }
        ics { value coverage { missing { code } } } boroughs { value rank trend { direction } } } }"#;
    approved(&app, [CAMDEN, HACKNEY, ISLINGTON].iter().map(|c| ratio(m, c, "2022/23", 60.0, 100.0, 100.0)).collect())
        .await;
    let few = statements_for(&app, q).await;
    let all: Vec<Value> = (1..=33)
        .flat_map(|n| {
            let code = format!("E090000{n:02}");
            ["2018/19", "2019/20", "2020/21", "2021/22", "2022/23"]
                .map(|y| ratio(m, &code, y, 60.0 + n as f64, 100.0, 100.0))
        })
        .collect();
    approved(&app, all).await;
    let many = statements_for(&app, q).await;
    assert_eq!(few, many, "the number of statements does not grow with the areas");
    assert!(many <= 6, "a handful of statements: {many}");
}

#[tokio::test]
async fn published_case_studies_of_the_area_and_the_measures_priority_stand_beside_its_figure() {
    let app = spawn_app().await;
    // School readiness belongs to children's emotional wellbeing; Thrive LDN is a London-wide
    // case study of that priority, Play Streets one of childhood obesity only.
    let m = "school-readiness";
    approved(&app, vec![ratio(m, CAMDEN, "2022/23", 65.0, 100.0, 100.0)]).await;
    let q = r#"{ picture(measure: "school-readiness") { london { caseStudies { slug } }
        boroughs { geography { code } caseStudies { slug } } } }"#;
    let p = app.data(q, json!({})).await["picture"].clone();
    let london: Vec<&str> =
        p["london"]["caseStudies"].as_array().expect("list").iter().filter_map(|c| c["slug"].as_str()).collect();
    assert!(london.contains(&"thrive-ldn"), "{london:?}");
    assert!(!london.contains(&"play-streets"), "{london:?}");
    assert_eq!(area(&p["boroughs"], CAMDEN)["caseStudies"], json!([]));
}

#[tokio::test]
async fn an_older_revision_approved_after_a_newer_one_does_not_replace_it() {
    let app = spawn_app().await;
    let m = "school-readiness";
    let submitter = app.token_for("gla", "analyst@gla", &[Role::Submitter]);
    let approver = app.token_for("gla", "reviewer@gla", &[Role::Approver]);
    let send = |v: f64| {
        let vars = input("gla", vec![ratio(m, CAMDEN, "2022/23", v, 100.0, 100.0)]);
        let token = submitter.clone();
        let app = &app;
        async move { app.data_as(&token, SUBMIT, vars).await["submitReturn"]["return"]["id"].clone() }
    };
    // Revision 1 (60) and revision 2 (70) both wait for review; 2 is approved first.
    let first = send(60.0).await;
    let second = send(70.0).await;
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } } }";
    app.data_as(&approver, approve, json!({ "id": second })).await;
    app.data_as(&approver, approve, json!({ "id": first })).await;
    // The current value is the highest approved revision, now and as of now alike.
    let now = picture(&app, None, json!({ "m": m })).await;
    assert!(close(&area(&now["boroughs"], CAMDEN)["value"], 70.0, 1e-9), "{now}");
    let at = chrono::Utc::now().to_rfc3339();
    let history = picture(&app, None, json!({ "m": m, "at": at })).await;
    assert_eq!(area(&history["boroughs"], CAMDEN)["value"], area(&now["boroughs"], CAMDEN)["value"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_racing_over_the_same_values_leave_the_highest_revision_current() {
    let app = spawn_app().await;
    let m = "school-readiness";
    let submitter = app.token_for("gla", "analyst@gla", &[Role::Submitter]);
    // Eight returns, each a new revision of the same twenty values (20 boroughs), in review.
    let mut ids = Vec::new();
    for r in 1..=8 {
        let values: Vec<Value> = (1..=20)
            .map(|n| ratio(m, &format!("E090000{n:02}"), "2022/23", 50.0 + f64::from(r), 100.0, 100.0))
            .collect();
        let payload = app.data_as(&submitter, SUBMIT, input("gla", values)).await["submitReturn"].clone();
        assert_eq!(payload["accepted"], 20, "{payload}");
        ids.push(payload["return"]["id"].clone());
    }
    // Approved all at once, newest first and oldest first by two approvers.
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } userErrors { code } } }";
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let token = app.token_for("gla", &format!("reviewer{}@gla", i % 2), &[Role::Approver]);
        let (address, body) = (app.address.clone(), json!({ "query": approve, "variables": { "id": id } }));
        tasks.push(tokio::spawn(async move {
            let response =
                reqwest::Client::new().post(format!("{address}/graphql")).bearer_auth(token).json(&body).send().await;
            let response = response.expect("sent");
            (response.status().as_u16(), response.json::<Value>().await.expect("json"))
        }));
    }
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["approveReturn"]["return"]["status"], "APPROVED", "{body}");
    }
    let p = picture(&app, None, json!({ "m": m })).await;
    for n in 1..=20 {
        let code = format!("E090000{n:02}");
        assert!(close(&area(&p["boroughs"], &code)["value"], 58.0, 1e-9), "{code}: {}", area(&p["boroughs"], &code));
    }
}

/// The boroughs of `period` whose figure an anonymous caller finds hidden: as
/// `Measure.observations` shows them, and as the picture does (worked out afresh).
async fn hidden_publicly(app: &TestApp, m: &str, period: &str) -> (Vec<String>, Vec<String>) {
    let q = r#"query($m: String!, $p: String!) { measure(slug: $m) {
        observations(period: $p, level: BOROUGH, first: 40) { nodes { geography { code } suppressed value } } } }"#;
    let data = app.data(q, json!({ "m": m, "p": period })).await;
    let mut listed: Vec<String> = data["measure"]["observations"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|o| o["suppressed"] == true)
        .inspect(|o| assert_eq!(o["value"], Value::Null, "{o}"))
        .map(|o| o["geography"]["code"].as_str().expect("code").to_owned())
        .collect();
    listed.sort();
    let p = picture(app, None, json!({ "m": m, "p": period })).await;
    let mut pictured: Vec<String> = p["boroughs"]
        .as_array()
        .expect("boroughs")
        .iter()
        .filter(|b| b["suppressed"] == true)
        .map(|b| b["geography"]["code"].as_str().expect("code").to_owned())
        .collect();
    pictured.sort();
    (listed, pictured)
}

fn codes(list: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = list.iter().map(|c| (*c).to_owned()).collect();
    out.sort();
    out
}

#[tokio::test]
async fn what_is_hidden_from_the_public_follows_each_approval_and_each_change_of_the_rule() {
    let app = spawn_app().await;
    let m = "new-hiv-diagnosis-rate";
    let ncl = [(BARNET, 40.0), (CAMDEN, 5.0), ("E09000010", 30.0), ("E09000014", 35.0), (ISLINGTON, 25.0)];
    approved(&app, ncl.iter().map(|(code, n)| ratio(m, code, "2023", *n, 200_000.0, 100_000.0)).collect()).await;
    assert_eq!(hidden_publicly(&app, m, "2023").await, (codes(&[CAMDEN, ISLINGTON]), codes(&[CAMDEN, ISLINGTON])));
    // Camden's count corrected upwards: nothing is small, so nothing is hidden, Islington included.
    approved(&app, vec![ratio(m, CAMDEN, "2023", 50.0, 200_000.0, 100_000.0)]).await;
    assert_eq!(hidden_publicly(&app, m, "2023").await, (vec![], vec![]));
    // Barnet's falls to 3: Barnet, and Islington (now the smallest other part) to cover it.
    approved(&app, vec![ratio(m, BARNET, "2023", 3.0, 200_000.0, 100_000.0)]).await;
    assert_eq!(hidden_publicly(&app, m, "2023").await, (codes(&[BARNET, ISLINGTON]), codes(&[BARNET, ISLINGTON])));
    // The rule changed by an administrator: counts up to 2 only, so 3 is shown; and back.
    let admin = app.token("gla", &[Role::Admin]);
    let rule = "mutation($n: Int) { updateMeasure(input: { slug: \"new-hiv-diagnosis-rate\", suppressUpTo: $n }) {
        measure { suppressUpTo } userErrors { code } } }";
    let changed = app.data_as(&admin, rule, json!({ "n": 2 })).await;
    assert_eq!(changed["updateMeasure"]["measure"]["suppressUpTo"], 2, "{changed}");
    assert_eq!(hidden_publicly(&app, m, "2023").await, (vec![], vec![]));
    app.data_as(&admin, rule, json!({ "n": 7 })).await;
    assert_eq!(hidden_publicly(&app, m, "2023").await, (codes(&[BARNET, ISLINGTON]), codes(&[BARNET, ISLINGTON])));
    // Without a rule nothing is hidden.
    app.data_as(&admin, rule, json!({ "n": null })).await;
    assert_eq!(hidden_publicly(&app, m, "2023").await, (vec![], vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_racing_in_one_period_leave_the_public_hiding_what_all_of_them_together_call_for() {
    let app = spawn_app().await;
    let m = "new-hiv-diagnosis-rate";
    let submitter = app.token_for("gla", "analyst@gla", &[Role::Submitter]);
    let ncl = [(BARNET, 40.0), (CAMDEN, 5.0), ("E09000010", 30.0), ("E09000014", 35.0), (ISLINGTON, 25.0)];
    // One return a borough, all waiting for review, then approved at once by five people.
    let mut ids = Vec::new();
    for (code, n) in ncl {
        let payload = app
            .data_as(&submitter, SUBMIT, input("gla", vec![ratio(m, code, "2023", n, 200_000.0, 100_000.0)]))
            .await["submitReturn"]
            .clone();
        assert_eq!(payload["accepted"], 1, "{payload}");
        ids.push(payload["return"]["id"].clone());
    }
    let approve = "mutation($id: ID!) { approveReturn(input: { id: $id }) { return { status } userErrors { code } } }";
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let token = app.token_for("gla", &format!("reviewer{i}@gla"), &[Role::Approver]);
        let (address, body) = (app.address.clone(), json!({ "query": approve, "variables": { "id": id } }));
        tasks.push(tokio::spawn(async move {
            let response =
                reqwest::Client::new().post(format!("{address}/graphql")).bearer_auth(token).json(&body).send().await;
            response.expect("sent").json::<Value>().await.expect("json")
        }));
    }
    for t in tasks {
        let body = t.await.expect("task");
        assert_eq!(body["data"]["approveReturn"]["return"]["status"], "APPROVED", "{body}");
    }
    assert_eq!(hidden_publicly(&app, m, "2023").await, (codes(&[CAMDEN, ISLINGTON]), codes(&[CAMDEN, ISLINGTON])));
}

#[tokio::test]
async fn a_hidden_figure_is_hidden_in_every_field_that_would_show_it() {
    let app = spawn_app().await;
    // New HIV diagnoses: Camden alone reports, 3 a year for five years, so London's total is
    // 3 too, and both are hidden from everyone outside them.
    let m = "new-hiv-diagnosis-rate";
    let values = (2019..=2023).map(|y| ratio(m, CAMDEN, &y.to_string(), 3.0, 210_000.0, 100_000.0)).collect();
    approved(&app, values).await;
    let public = picture(&app, None, json!({ "m": m })).await;
    let camden = area(&public["boroughs"], CAMDEN);
    assert_eq!(camden["suppressed"], true, "{camden}");
    assert_eq!(camden["trend"]["direction"], "CANNOT_BE_CALCULATED", "no direction from hidden values: {camden}");
    assert_eq!(public["london"]["value"], Value::Null, "{}", public["london"]);
    assert_eq!(public["london"]["denominator"], Value::Null, "no denominator to work the count out with");
    // The commitment tracked on the measure shows no London figure, no status and no progress
    // built on it.
    let commitments = r#"{ priority(slug: "hiv-and-stis") { commitments { measure { slug } latest { value period } status progress } } }"#;
    let seen = app.data(commitments, json!({})).await;
    let tracked: Vec<&Value> = seen["priority"]["commitments"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["measure"]["slug"] == m)
        .collect();
    assert!(!tracked.is_empty(), "{seen}");
    for c in &tracked {
        assert_eq!((c["latest"].clone(), c["progress"].clone()), (Value::Null, Value::Null), "{c}");
    }
    // Observations too: the denominator of a hidden value is hidden with it.
    let q = r#"{ measure(slug: "new-hiv-diagnosis-rate") { observations(geography: "E09000007", first: 1) { nodes { value numerator denominator suppressed } } } }"#;
    let obs = app.data(q, json!({})).await;
    let node = &obs["measure"]["observations"]["nodes"][0];
    assert_eq!(
        (node["value"].clone(), node["denominator"].clone(), node["suppressed"].clone()),
        (Value::Null, Value::Null, json!(true)),
        "{node}"
    );
    // London's own partners see London's figure, and the commitment judged on it.
    let london = app.token("gla", &[Role::Submitter]);
    let theirs = app.data_as(&london, commitments, json!({})).await;
    let c = theirs["priority"]["commitments"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["measure"]["slug"] == m)
        .cloned()
        .expect("tracked");
    assert!(c["latest"]["value"].as_f64().is_some_and(|v| (v - 3.0 / 210_000.0 * 100_000.0).abs() < 1e-9), "{c}");
}
