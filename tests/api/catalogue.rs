//! The London Vision catalogue as a client sees it.

use serde_json::{Value, json};

use crate::helpers::{error_codes, spawn_app};

fn strings(v: &Value, field: &str) -> Vec<String> {
    v.as_array().expect("a list").iter().map(|x| x[field].as_str().expect("a string").to_owned()).collect()
}

#[tokio::test]
async fn the_ten_priorities_are_served_in_the_strategys_order() {
    let app = spawn_app().await;
    let data = app.data("{ priorities { totalCount nodes { number slug title } } }", json!({})).await;
    assert_eq!(data["priorities"]["totalCount"], 10);
    let numbers: Vec<i64> = data["priorities"]["nodes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["number"].as_i64().expect("n"))
        .collect();
    assert_eq!(numbers, (1..=10).collect::<Vec<_>>());
    assert_eq!(
        strings(&data["priorities"]["nodes"], "slug"),
        [
            "childhood-obesity",
            "children-emotional-wellbeing",
            "mental-health-zero-suicides",
            "air-quality",
            "tobacco-control",
            "violence",
            "homeless-health",
            "hiv-and-stis",
            "dementia",
            "end-of-life",
        ]
    );
}

#[tokio::test]
async fn the_childhood_obesity_commitment_carries_its_target_and_baseline_as_data() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ priority(slug: "childhood-obesity") { commitments {
                statement measure { slug unit polarity periodType }
                baseline { value period } target { value period note } latest { value } status progress } } }"#,
            json!({}),
        )
        .await;
    let c = &data["priority"]["commitments"][0];
    assert!(c["statement"].as_str().expect("text").starts_with("we will achieve a 10% reduction"));
    assert_eq!(
        c["measure"],
        json!({ "slug": "reception-overweight", "unit": "PERCENT", "polarity": "LOW_IS_GOOD", "periodType": "ACADEMIC_YEAR" })
    );
    assert_eq!(c["baseline"], json!({ "value": 22.0, "period": "2017/18" }));
    assert_eq!(c["target"]["value"], 19.8);
    assert_eq!(c["target"]["period"], "2023/24");
    // No approved London value yet: nothing to judge.
    assert_eq!(c["latest"], Value::Null);
    assert_eq!(c["status"], "NO_DATA");
    assert_eq!(c["progress"], Value::Null);
}

#[tokio::test]
async fn all_43_outcome_measures_are_served_with_unit_polarity_and_period_type() {
    let app = spawn_app().await;
    let data = app
        .data("{ measures { totalCount nodes { slug name unit polarity periodType minValue maxValue wholeNumber priority { slug } } } }", json!({}))
        .await;
    assert_eq!(data["measures"]["totalCount"], 43);
    let nodes = data["measures"]["nodes"].as_array().expect("list");
    assert_eq!(nodes.iter().filter(|m| m["priority"].is_null()).count(), 2, "healthy life expectancy and the SII");
    for m in nodes {
        if m["unit"] == "PERCENT" {
            assert_eq!((m["minValue"].as_f64(), m["maxValue"].as_f64()), (Some(0.0), Some(100.0)), "{m}");
        }
        assert_eq!(m["wholeNumber"], m["unit"] == "COUNT", "{m}");
    }
    let suicide = nodes.iter().find(|m| m["slug"] == "suicide-rate").expect("suicide rate");
    assert_eq!(suicide["periodType"], "ROLLING_THREE_YEAR");
    assert_eq!(suicide["unit"], "RATE_PER_100000");

    let hiv = app.data(r#"{ measures(priority: "hiv-and-stis") { totalCount } }"#, json!({})).await;
    assert_eq!(hiv["measures"]["totalCount"], 6);
}

#[tokio::test]
async fn london_has_five_ics_and_33_boroughs_each_under_its_own_ics() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ london: geography(code: "E12000007") { name level parent { code } population children { code name level children { code } } } }"#,
            json!({}),
        )
        .await;
    let london = &data["london"];
    assert_eq!(london["level"], "REGION");
    assert_eq!(london["parent"], Value::Null);
    let ics = london["children"].as_array().expect("list");
    let codes: Vec<&str> = ics.iter().map(|i| i["code"].as_str().expect("code")).collect();
    assert_eq!(codes, ["E54000027", "E54000028", "E54000029", "E54000030", "E54000031"]);
    let sizes: Vec<usize> = ics.iter().map(|i| i["children"].as_array().expect("list").len()).collect();
    assert_eq!(sizes, [8, 5, 8, 6, 6], "NW, NC, NE, SE and SW London");
    assert!(ics.iter().all(|i| i["level"] == "ICS"));

    let places = app
        .data(
            r#"{ croydon: geography(code: "E09000008") { name parent { name } }
                 city: geography(code: "E09000001") { name parent { name } }
                 westminster: geography(code: "E09000033") { name parent { name } population } }"#,
            json!({}),
        )
        .await;
    assert_eq!(places["croydon"], json!({ "name": "Croydon", "parent": { "name": "South West London" } }));
    assert_eq!(places["city"], json!({ "name": "City of London", "parent": { "name": "North East London" } }));
    assert_eq!(places["westminster"]["parent"]["name"], "North West London");

    let boroughs = app.data(r#"{ geographies(level: BOROUGH) { totalCount } inSel: geographies(parent: "E54000030") { totalCount nodes { name } } }"#, json!({})).await;
    assert_eq!(boroughs["geographies"]["totalCount"], 33);
    assert_eq!(
        strings(&boroughs["inSel"]["nodes"], "name"),
        ["Bexley", "Bromley", "Greenwich", "Lambeth", "Lewisham", "Southwark"]
    );
    // Population adds up: each ICS is the sum of its boroughs.
    let totals =
        app.data(r#"{ geographies(level: ICS) { nodes { population children { population } } } }"#, json!({})).await;
    for i in totals["geographies"]["nodes"].as_array().expect("list") {
        let sum: i64 =
            i["children"].as_array().expect("list").iter().map(|b| b["population"].as_i64().expect("pop")).sum();
        assert_eq!(i["population"].as_i64(), Some(sum));
    }
}

#[tokio::test]
async fn every_borough_and_ics_has_an_organisation_to_submit_for_it() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ councils: organisations(kind: BOROUGH_COUNCIL) { totalCount nodes { slug geography { level } } }
                 ics: organisations(kind: INTEGRATED_CARE_SYSTEM) { totalCount nodes { slug geography { code level } members { slug kind } } }
                 camden: organisation(slug: "camden") { name kind geography { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["councils"]["totalCount"], 33);
    assert!(data["councils"]["nodes"].as_array().expect("list").iter().all(|o| o["geography"]["level"] == "BOROUGH"));
    assert_eq!(data["ics"]["totalCount"], 5);
    let nwl = &data["ics"]["nodes"][0];
    assert_eq!(nwl["slug"], "north-west-london-ics");
    assert_eq!(nwl["geography"]["code"], "E54000027");
    assert_eq!(nwl["members"].as_array().expect("list").iter().filter(|m| m["kind"] == "BOROUGH_COUNCIL").count(), 8);
    assert_eq!(
        data["camden"],
        json!({ "name": "London Borough of Camden", "kind": "BOROUGH_COUNCIL", "geography": { "code": "E09000007" } })
    );
}

#[tokio::test]
async fn the_partnership_bodies_are_organisations_with_their_members() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ partnership: organisation(slug: "london-health-and-care-partnership") { kind geography { code } members { slug } }
                 councils: organisation(slug: "london-councils") { kind members { slug } }
                 regional: organisations(kind: REGIONAL_BODY) { nodes { slug } } }"#,
            json!({}),
        )
        .await;
    let members = strings(&data["partnership"]["members"], "slug");
    for body in ["gla", "london-councils", "nhs-england-london", "ohid-london", "ukhsa-london", "south-west-london-ics"]
    {
        assert!(members.iter().any(|m| m == body), "{body} is a member: {members:?}");
    }
    assert_eq!(data["councils"]["members"].as_array().expect("list").len(), 33);
    assert_eq!(
        strings(&data["regional"]["nodes"], "slug"),
        ["gla", "london-councils", "nhs-england-london", "ohid-london", "ukhsa-london"]
    );
}

#[tokio::test]
async fn case_studies_are_linked_to_their_priorities_areas_and_organisations() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ caseStudies { totalCount }
                 caseStudy(slug: "one-croydon") { title summary published geographies { code } organisations { slug } priorities { slug } } }"#,
            json!({}),
        )
        .await;
    assert!(data["caseStudies"]["totalCount"].as_i64().expect("count") >= 20);
    let croydon = &data["caseStudy"];
    assert_eq!(croydon["geographies"], json!([{ "code": "E09000008" }]));
    let orgs = strings(&croydon["organisations"], "slug");
    assert!(orgs.contains(&"croydon".to_owned()) && orgs.contains(&"age-uk-croydon".to_owned()), "{orgs:?}");
    assert_eq!(croydon["published"], true);

    let named = [
        "one-croydon",
        "tower-hamlets-together",
        "lambeth-together",
        "one-bromley",
        "lewisham-neighbourhood-care-hubs",
        "health-and-care-space-newham",
        "thrive-ldn",
        "school-superzones",
    ];
    for slug in named {
        let found = app.data("query($s: String!) { caseStudy(slug: $s) { slug } }", json!({ "s": slug })).await;
        assert_eq!(found["caseStudy"]["slug"], slug);
    }
}

#[tokio::test]
async fn case_studies_are_found_by_priority_by_area_and_by_words() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ air: caseStudies(priority: "air-quality") { nodes { slug } }
                 inSouthWest: caseStudies(geography: "E54000031") { nodes { slug } }
                 inLondon: caseStudies(geography: "E12000007") { totalCount }
                 all: caseStudies { totalCount }
                 kidney: caseStudies(search: "KIDNEY") { nodes { slug } }
                 nothing: caseStudies(search: "100%_") { totalCount }
                 viaPriority: priority(slug: "dementia") { caseStudies { slug } } }"#,
            json!({}),
        )
        .await;
    let air = strings(&data["air"]["nodes"], "slug");
    assert!(
        air.contains(&"ultra-low-emission-zone".to_owned()) && air.contains(&"school-superzones".to_owned()),
        "{air:?}"
    );
    // An area filter includes the areas inside it: Croydon's alliance is in South West London.
    let sw = strings(&data["inSouthWest"]["nodes"], "slug");
    assert!(
        sw.contains(&"one-croydon".to_owned())
            && sw.contains(&"south-west-london-elective-orthopaedic-centre".to_owned()),
        "{sw:?}"
    );
    assert!(!sw.contains(&"tower-hamlets-together".to_owned()));
    assert_eq!(data["inLondon"]["totalCount"], data["all"]["totalCount"]);
    assert_eq!(strings(&data["kidney"]["nodes"], "slug"), ["acute-kidney-injury-alert"]);
    assert_eq!(data["nothing"]["totalCount"], 0, "wildcards in a search are literal");
    assert!(strings(&data["viaPriority"]["caseStudies"], "slug").contains(&"dementia-friendly-london".to_owned()));
}

#[tokio::test]
async fn unknown_keys_are_null_and_malformed_keys_are_bad_input() {
    let app = spawn_app().await;
    let data = app
        .data(r#"{ priority(slug: "no-such-priority") { slug } geography(code: "E09000099") { code } organisation(slug: "nobody") { slug } measure(slug: "zz") { slug } caseStudy(slug: "none") { slug } }"#, json!({}))
        .await;
    for field in ["priority", "geography", "organisation", "measure", "caseStudy"] {
        assert_eq!(data[field], Value::Null, "{field}");
    }
    for query in [r#"{ priority(slug: "Not A Slug") { slug } }"#, r#"{ geography(code: "London") { code } }"#] {
        let body = app.graphql(query, json!({})).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{query}: {body}");
    }
    let body = app.graphql(r#"{ measures(priority: "no-such-priority") { totalCount } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
    let body = app.graphql(r#"{ geographies(parent: "E54000099") { totalCount } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
}
