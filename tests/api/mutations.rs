//! Catalogue and case-study mutations: who may call them, what they check, and the audit
//! trail each one leaves.

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app};

const CREATE_PRIORITY: &str = "mutation($input: CreatePriorityInput!) { createPriority(input: $input) {
    priority { slug number title } userErrors { field message code } } }";
const AUDIT: &str = "query($type: String) { auditEvents(entityType: $type) { totalCount nodes {
    action entityType entityId actorSubject actorOrganisation before after entity { id } } } }";

fn new_priority() -> Value {
    json!({ "slug": "healthy-ageing", "title": "Support healthy ageing", "ambition": "every Londoner ages well" })
}

async fn priority_count(app: &TestApp) -> i64 {
    app.data("{ priorities { totalCount } }", json!({})).await["priorities"]["totalCount"].as_i64().expect("count")
}

async fn audit_count(app: &TestApp) -> i64 {
    let admin = app.token("gla", &[Role::Admin]);
    app.data_as(&admin, AUDIT, json!({})).await["auditEvents"]["totalCount"].as_i64().expect("count")
}

#[tokio::test]
async fn mutations_need_a_token_and_the_right_role() {
    let app = spawn_app().await;
    let body = app.graphql(CREATE_PRIORITY, json!({ "input": new_priority() })).await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");

    let submitter = app.token("camden", &[Role::Submitter, Role::Approver]);
    let admin_only = [
        (CREATE_PRIORITY, json!({ "input": new_priority() })),
        (
            "mutation { updatePriority(input: { slug: \"air-quality\", title: \"x\" }) { priority { slug } } }",
            json!({}),
        ),
        (
            "mutation { createMeasure(input: { slug: \"m\", name: \"m\", description: \"m\", unit: COUNT, polarity: LOW_IS_GOOD, periodType: CALENDAR_YEAR }) { measure { slug } } }",
            json!({}),
        ),
        ("mutation { updateMeasure(input: { slug: \"suicide-rate\", name: \"x\" }) { measure { slug } } }", json!({})),
        (
            "mutation { createCommitment(input: { priority: \"violence\", slug: \"c\", statement: \"s\" }) { commitment { slug } } }",
            json!({}),
        ),
        (
            "mutation { updateCommitment(input: { slug: \"violence-commitment\", statement: \"x\" }) { commitment { slug } } }",
            json!({}),
        ),
        (
            "mutation { createOrganisation(input: { slug: \"o\", name: \"o\", kind: PARTNERSHIP, geography: \"E09000007\" }) { organisation { slug } } }",
            json!({}),
        ),
        (
            "mutation { updateOrganisation(input: { slug: \"camden\", name: \"Camden\" }) { organisation { slug } } }",
            json!({}),
        ),
    ];
    for (query, vars) in admin_only {
        let (status, body) = app.graphql_as(&submitter, query, vars).await;
        assert_eq!(status, 200);
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{query}: {body}");
    }
    let (_, body) = app.graphql_as(&submitter, AUDIT, json!({})).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "the audit trail is for administrators");
    assert_eq!(priority_count(&app).await, 10, "nothing changed");
    assert_eq!(audit_count(&app).await, 0, "and nothing was recorded");

    let reader = app.token("camden", &[]);
    let (_, body) = app
        .graphql_as(&reader, "mutation { createCaseStudy(input: { slug: \"x\", title: \"x\", summary: \"x\", body: \"x\", geographies: [\"E09000007\"] }) { caseStudy { slug } } }", json!({}))
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "a read-only token writes nothing: {body}");
}

#[tokio::test]
async fn an_administrator_edits_the_catalogue_and_each_change_is_audited() {
    let app = spawn_app().await;
    let admin = app.token("gla", &[Role::Admin]);
    let created = app.data_as(&admin, CREATE_PRIORITY, json!({ "input": new_priority() })).await;
    assert_eq!(
        created["createPriority"]["priority"],
        json!({ "slug": "healthy-ageing", "number": 11, "title": "Support healthy ageing" })
    );
    assert_eq!(created["createPriority"]["userErrors"], json!([]));

    let steps = [
        (
            "mutation { updatePriority(input: { slug: \"healthy-ageing\", title: \"Help Londoners age well\", challenge: \"An ageing city\" }) { priority { title challenge } userErrors { code } } }",
            json!({ "updatePriority": { "priority": { "title": "Help Londoners age well", "challenge": "An ageing city" }, "userErrors": [] } }),
        ),
        (
            "mutation { createMeasure(input: { slug: \"falls-admissions\", name: \"Emergency admissions for falls (65+)\", description: \"Per 100,000 aged 65 and over.\", unit: RATE_PER_100000, polarity: LOW_IS_GOOD, periodType: FINANCIAL_YEAR, priority: \"healthy-ageing\" }) { measure { slug minValue maxValue wholeNumber priority { slug } } userErrors { code } } }",
            json!({ "createMeasure": { "measure": { "slug": "falls-admissions", "minValue": 0.0, "maxValue": null, "wholeNumber": false, "priority": { "slug": "healthy-ageing" } }, "userErrors": [] } }),
        ),
        (
            "mutation { updateMeasure(input: { slug: \"falls-admissions\", maxValue: 50000 }) { measure { maxValue } userErrors { code } } }",
            json!({ "updateMeasure": { "measure": { "maxValue": 50000.0 }, "userErrors": [] } }),
        ),
        (
            "mutation { createCommitment(input: { priority: \"healthy-ageing\", slug: \"fewer-falls\", statement: \"we will reduce falls\", measure: \"falls-admissions\", target: { value: 1800, period: \"2027/28\" } }) { commitment { slug target { value period } measure { slug } } userErrors { code } } }",
            json!({ "createCommitment": { "commitment": { "slug": "fewer-falls", "target": { "value": 1800.0, "period": "2027/28" }, "measure": { "slug": "falls-admissions" } }, "userErrors": [] } }),
        ),
        (
            "mutation { updateCommitment(input: { slug: \"fewer-falls\", baseline: { value: 2100, period: \"2022/23\" } }) { commitment { baseline { value period } } userErrors { code } } }",
            json!({ "updateCommitment": { "commitment": { "baseline": { "value": 2100.0, "period": "2022/23" } }, "userErrors": [] } }),
        ),
        (
            "mutation { createOrganisation(input: { slug: \"age-friendly-london\", name: \"Age-friendly London\", kind: PARTNERSHIP, geography: \"E12000007\", members: [\"gla\", \"london-councils\"] }) { organisation { slug members { slug } } userErrors { code } } }",
            json!({ "createOrganisation": { "organisation": { "slug": "age-friendly-london", "members": [{ "slug": "gla" }, { "slug": "london-councils" }] }, "userErrors": [] } }),
        ),
        (
            "mutation { updateOrganisation(input: { slug: \"age-friendly-london\", members: [\"gla\"], website: \"https://example.org\" }) { organisation { website members { slug } } userErrors { code } } }",
            json!({ "updateOrganisation": { "organisation": { "website": "https://example.org", "members": [{ "slug": "gla" }] }, "userErrors": [] } }),
        ),
    ];
    for (query, expected) in steps {
        assert_eq!(app.data_as(&admin, query, json!({})).await, expected, "{query}");
    }

    let events = app.data_as(&admin, AUDIT, json!({})).await;
    let nodes = events["auditEvents"]["nodes"].as_array().expect("list");
    let actions: Vec<&str> = nodes.iter().map(|e| e["action"].as_str().expect("action")).collect();
    assert_eq!(
        actions,
        [
            "createPriority",
            "updatePriority",
            "createMeasure",
            "updateMeasure",
            "createCommitment",
            "updateCommitment",
            "createOrganisation",
            "updateOrganisation"
        ]
    );
    for e in nodes {
        assert_eq!(e["actorOrganisation"], "gla");
        assert_eq!(e["actorSubject"], "tester@gla");
        assert_eq!(e["entity"]["id"], e["entityId"], "the event points at the changed object");
        assert!(e["after"].is_object());
    }
    assert_eq!(nodes[0]["before"], Value::Null, "a creation has no before");
    assert_eq!(nodes[1]["before"]["title"], "Support healthy ageing");
    assert_eq!(nodes[1]["after"]["title"], "Help Londoners age well");
    assert_eq!(nodes[6]["after"]["members"], json!(["gla", "london-councils"]));
    assert_eq!(nodes[7]["before"]["members"], json!(["gla", "london-councils"]));
    assert_eq!(nodes[7]["after"]["members"], json!(["gla"]));

    let only = app.data_as(&admin, AUDIT, json!({ "type": "Measure" })).await;
    assert_eq!(only["auditEvents"]["totalCount"], 2);
}

#[tokio::test]
async fn bad_input_is_answered_with_user_errors_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.token("gla", &[Role::Admin]);
    let input = json!({ "slug": "Bad Slug", "number": 3, "title": "  ", "ambition": "x" });
    let data = app.data_as(&admin, CREATE_PRIORITY, json!({ "input": input })).await;
    let payload = &data["createPriority"];
    assert_eq!(payload["priority"], Value::Null);
    let errors: Vec<(Value, Value)> = payload["userErrors"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| (e["field"].clone(), e["code"].clone()))
        .collect();
    assert_eq!(
        errors,
        [
            (json!(["slug"]), json!("INVALID")),
            (json!(["title"]), json!("REQUIRED")),
            (json!(["number"]), json!("TAKEN"))
        ]
    );

    let cases = [
        (
            "mutation { createPriority(input: { slug: \"air-quality\", title: \"t\", ambition: \"a\" }) { userErrors { field code } } }",
            json!([{ "field": ["slug"], "code": "TAKEN" }]),
        ),
        (
            "mutation { updatePriority(input: { slug: \"no-such\", title: \"t\" }) { userErrors { field code } } }",
            json!([{ "field": ["slug"], "code": "NOT_FOUND" }]),
        ),
        (
            "mutation { createMeasure(input: { slug: \"m1\", name: \"n\", description: \"d\", unit: PERCENT, polarity: LOW_IS_GOOD, periodType: CALENDAR_YEAR, minValue: 50, maxValue: 10, priority: \"nope\" }) { userErrors { field code } } }",
            json!([{ "field": ["minValue"], "code": "INVALID" }, { "field": ["priority"], "code": "NOT_FOUND" }]),
        ),
        (
            "mutation { createCommitment(input: { priority: \"childhood-obesity\", slug: \"c2\", statement: \"s\", measure: \"reception-overweight\", target: { value: 18, period: \"2025-Q1\" } }) { userErrors { field code } } }",
            json!([{ "field": ["target", "period"], "code": "INVALID" }]),
        ),
        (
            "mutation { createOrganisation(input: { slug: \"o2\", name: \"n\", kind: PARTNERSHIP, geography: \"E09000099\", members: [\"gla\", \"nobody\"], website: \"ftp://x\" }) { userErrors { field code } } }",
            json!([{ "field": ["website"], "code": "INVALID" }, { "field": ["geography"], "code": "NOT_FOUND" }, { "field": ["members", "1"], "code": "NOT_FOUND" }]),
        ),
    ];
    for (query, expected) in cases {
        let data = app.data_as(&admin, query, json!({})).await;
        let payload = data.as_object().expect("object").values().next().expect("payload");
        assert_eq!(payload["userErrors"], expected, "{query}");
    }
    assert_eq!(priority_count(&app).await, 10);
    assert_eq!(audit_count(&app).await, 0, "a refused change records nothing");
    let measure = app.data("{ measures { totalCount } organisations { totalCount } }", json!({})).await;
    assert_eq!(measure["measures"]["totalCount"], 43);
}

const CREATE_CASE: &str = "mutation($input: CreateCaseStudyInput!) { createCaseStudy(input: $input) {
    caseStudy { slug published geographies { code } } userErrors { field code message } } }";

fn case(slug: &str, areas: &[&str]) -> Value {
    json!({ "input": { "slug": slug, "title": "Camden social prescribing", "summary": "Link workers in every PCN.",
        "body": "A longer account.", "priorities": ["mental-health-zero-suicides"], "geographies": areas, "organisations": ["camden"] } })
}

#[tokio::test]
async fn partners_write_case_studies_only_for_their_own_area() {
    let app = spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    let created = app.data_as(&camden, CREATE_CASE, case("camden-link-workers", &["E09000007"])).await;
    assert_eq!(
        created["createCaseStudy"]["caseStudy"],
        json!({ "slug": "camden-link-workers", "published": false, "geographies": [{ "code": "E09000007" }] })
    );

    // A borough writing for another borough.
    let other = app.data_as(&camden, CREATE_CASE, case("camden-in-croydon", &["E09000008"])).await;
    assert_eq!(other["createCaseStudy"]["caseStudy"], Value::Null);
    assert_eq!(other["createCaseStudy"]["userErrors"][0]["code"], "OUT_OF_SCOPE");
    assert_eq!(other["createCaseStudy"]["userErrors"][0]["field"], json!(["geographies", "0"]));

    // An ICS writes for its boroughs, not for another ICS's.
    let ncl = app.token("north-central-london-ics", &[Role::Submitter]);
    let ok = app.data_as(&ncl, CREATE_CASE, case("ncl-in-camden", &["E09000007", "E54000028"])).await;
    assert_eq!(ok["createCaseStudy"]["userErrors"], json!([]));
    let outside = app.data_as(&ncl, CREATE_CASE, case("ncl-in-lambeth", &["E09000022"])).await;
    assert_eq!(outside["createCaseStudy"]["userErrors"][0]["code"], "OUT_OF_SCOPE");

    // A borough cannot edit a case study in another borough.
    let edit = "mutation { updateCaseStudy(input: { slug: \"one-croydon\", title: \"Taken over\" }) { caseStudy { title } userErrors { field code } } }";
    let refused = app.data_as(&camden, edit, json!({})).await;
    assert_eq!(
        refused["updateCaseStudy"],
        json!({ "caseStudy": null, "userErrors": [{ "field": ["slug"], "code": "OUT_OF_SCOPE" }] })
    );

    // Unpublished: partners see it, the public does not.
    let look = "{ caseStudy(slug: \"camden-link-workers\") { slug published } }";
    assert_eq!(app.data(look, json!({})).await["caseStudy"], Value::Null);
    assert_eq!(app.data_as(&camden, look, json!({})).await["caseStudy"]["published"], false);

    // Publishing needs an approver (or admin) whose area covers it.
    let publish = "mutation { publishCaseStudy(input: { slug: \"camden-link-workers\" }) { caseStudy { published } userErrors { code } } }";
    let (_, body) = app.graphql_as(&camden, publish, json!({})).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "a submitter does not publish");
    let croydon_approver = app.token("croydon", &[Role::Approver]);
    let not_theirs = app.data_as(&croydon_approver, publish, json!({})).await;
    assert_eq!(not_theirs["publishCaseStudy"]["userErrors"], json!([{ "code": "OUT_OF_SCOPE" }]));
    let camden_approver = app.token("camden", &[Role::Approver]);
    let published = app.data_as(&camden_approver, publish, json!({})).await;
    assert_eq!(published["publishCaseStudy"], json!({ "caseStudy": { "published": true }, "userErrors": [] }));
    assert_eq!(app.data(look, json!({})).await["caseStudy"]["published"], true);

    // A submitter's edit sends a published case study back to review.
    let retitle = "mutation { updateCaseStudy(input: { slug: \"camden-link-workers\", title: \"Link workers in Camden\" }) { caseStudy { title published } userErrors { code } } }";
    let edited = app.data_as(&camden, retitle, json!({})).await;
    assert_eq!(
        edited["updateCaseStudy"]["caseStudy"],
        json!({ "title": "Link workers in Camden", "published": false })
    );
    assert_eq!(app.data(look, json!({})).await["caseStudy"], Value::Null);

    let admin = app.token("gla", &[Role::Admin]);
    let events = app.data_as(&admin, AUDIT, json!({ "type": "CaseStudy" })).await;
    let actions: Vec<&str> = events["auditEvents"]["nodes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["action"].as_str().expect("a"))
        .collect();
    assert_eq!(actions, ["createCaseStudy", "createCaseStudy", "publishCaseStudy", "updateCaseStudy"]);
}

/// Returns are checked against the catalogue the server keeps in memory; a change to a
/// measure, made by an earlier request or earlier in the same request, holds for the next
/// return at once.
#[tokio::test]
async fn a_return_is_checked_against_the_catalogue_as_it_is_at_that_moment() {
    let app = spawn_app().await;
    let gla = app.token_for("gla", "catalogue@gla", &[Role::Admin, Role::Submitter]);
    let submit = |value: f64| {
        format!(
            "submitReturn(input: {{ organisation: \"gla\", values: [{{ measure: \"falls-admissions\", \
             geography: \"E09000007\", period: \"2023/24\", value: {value} }}] }}) {{ accepted userErrors {{ code }} }}"
        )
    };
    // Made and used in one request: the measure exists for the return that follows it.
    let both = format!(
        "mutation {{ createMeasure(input: {{ slug: \"falls-admissions\", name: \"Emergency admissions for falls (65+)\", \
         description: \"Per 100,000 aged 65 and over.\", unit: RATE_PER_100000, polarity: LOW_IS_GOOD, \
         periodType: FINANCIAL_YEAR }}) {{ measure {{ slug }} userErrors {{ code }} }} {} }}",
        submit(1900.0)
    );
    let data = app.data_as(&gla, &both, json!({})).await;
    assert_eq!(data["createMeasure"]["userErrors"], json!([]), "{data}");
    assert_eq!(data["submitReturn"], json!({ "accepted": 1, "userErrors": [] }), "{data}");

    // A narrower range, set by one request, refuses the next request's value out of it.
    let narrowed = app
        .data_as(
            &gla,
            "mutation { updateMeasure(input: { slug: \"falls-admissions\", maxValue: 2000 }) { userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(narrowed["updateMeasure"]["userErrors"], json!([]));
    let refused = app.data_as(&gla, &format!("mutation {{ {} }}", submit(2500.0)), json!({})).await;
    assert_eq!(refused["submitReturn"]["accepted"], 0, "{refused}");
    assert_eq!(refused["submitReturn"]["userErrors"].as_array().map(Vec::len), Some(1), "{refused}");
    let within = app.data_as(&gla, &format!("mutation {{ {} }}", submit(1950.0)), json!({})).await;
    assert_eq!(within["submitReturn"], json!({ "accepted": 1, "userErrors": [] }), "{within}");
}
