//! Who may do what: one rule for every mutation and every list. An organisation's ADMIN
//! administers its own organisation and those inside its area, never its own place in the
//! hierarchy nor anyone above or beside it; only a London-wide ADMIN changes the hierarchy and
//! the pan-London catalogue. Walked with a borough (Camden), a sibling borough in the same ICS
//! (Islington), its ICS (North Central London), another ICS (North East London) and London
//! (the GLA), each as ADMIN, APPROVER, SUBMITTER and read-only.

use london_vision::values::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const ORGS: [&str; 5] = ["camden", "islington", "north-central-london-ics", "north-east-london-ics", "gla"];

fn roles() -> [(&'static str, Vec<Role>); 4] {
    [
        ("ADMIN", vec![Role::Admin]),
        ("APPROVER", vec![Role::Approver]),
        ("SUBMITTER", vec![Role::Submitter]),
        ("read-only", vec![]),
    ]
}

/// Whether a mutation did what it was asked: no error, no user error.
fn done(body: &Value) -> bool {
    body.get("errors").is_none()
        && body["data"]
            .as_object()
            .is_some_and(|d| d.values().all(|payload| payload["userErrors"].as_array().is_none_or(Vec::is_empty)))
}

/// Whether a refusal is one of the coded answers a refusal may be, never a server error.
fn refused_with_a_code(body: &Value) -> bool {
    let top = crate::helpers::error_codes(body);
    if !top.is_empty() {
        return top.iter().all(|c| c == "FORBIDDEN" || c == "UNAUTHENTICATED");
    }
    body["data"].as_object().is_some_and(|d| {
        d.values().all(|p| {
            p["userErrors"].as_array().is_some_and(|errors| {
                !errors.is_empty()
                    && errors.iter().all(|e| matches!(e["code"].as_str(), Some("OUT_OF_SCOPE" | "NOT_FOUND")))
            })
        })
    })
}

async fn ask(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    app.graphql_as(token, query, variables).await.1
}

/// The callers, as `org ROLE`, for whom `allowed` holds; the table's expected column.
fn expected(allowed: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for org in ORGS {
        for (role, _) in roles() {
            if allowed(org, role) {
                out.push(format!("{org} {role}"));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_mutation_and_list_is_allowed_to_exactly_those_the_rule_names() {
    let app = spawn_app().await;
    let london = app.token("gla", &[Role::Admin]);
    let is_admin_above_camden =
        |org: &str, role: &str| role == "ADMIN" && matches!(org, "camden" | "north-central-london-ics" | "gla");

    // Mutations, each tried by every caller; a change that went through is put back.
    struct Case {
        name: &'static str,
        query: &'static str,
        variables: Value,
        undo: Option<(&'static str, Value)>,
        allowed: Vec<String>,
    }
    let cases = vec![
        Case {
            name: "updateOrganisation: Camden's own details",
            query: "mutation($i: UpdateOrganisationInput!) { updateOrganisation(input: $i) { organisation { slug } userErrors { code } } }",
            variables: json!({ "i": { "slug": "camden", "description": "Camden Council" } }),
            undo: None,
            allowed: expected(is_admin_above_camden),
        },
        Case {
            name: "updateOrganisation: Camden's area widened to London",
            query: "mutation($i: UpdateOrganisationInput!) { updateOrganisation(input: $i) { organisation { slug } userErrors { code } } }",
            variables: json!({ "i": { "slug": "camden", "geography": "E12000007" } }),
            undo: Some((
                "mutation { updateOrganisation(input: { slug: \"camden\", geography: \"E09000007\" }) { userErrors { code } } }",
                json!({}),
            )),
            allowed: expected(|org, role| role == "ADMIN" && org == "gla"),
        },
        Case {
            name: "updateOrganisation: Camden made an ICS",
            query: "mutation($i: UpdateOrganisationInput!) { updateOrganisation(input: $i) { organisation { slug } userErrors { code } } }",
            variables: json!({ "i": { "slug": "camden", "kind": "INTEGRATED_CARE_SYSTEM" } }),
            undo: Some((
                "mutation { updateOrganisation(input: { slug: \"camden\", kind: BOROUGH_COUNCIL }) { userErrors { code } } }",
                json!({}),
            )),
            allowed: expected(|org, role| role == "ADMIN" && org == "gla"),
        },
        Case {
            name: "updateOrganisation: the ICS's members",
            query: "mutation($i: UpdateOrganisationInput!) { updateOrganisation(input: $i) { organisation { slug } userErrors { code } } }",
            variables: json!({ "i": { "slug": "north-central-london-ics", "members": ["camden", "hackney"] } }),
            undo: Some((
                "mutation { updateOrganisation(input: { slug: \"north-central-london-ics\", members: [\"barnet\", \"camden\", \"enfield\", \"haringey\", \"islington\", \"royal-free-london\"] }) { userErrors { code } } }",
                json!({}),
            )),
            allowed: expected(|org, role| role == "ADMIN" && org == "gla"),
        },
        Case {
            name: "updateOrganisation: the GLA's description",
            query: "mutation($i: UpdateOrganisationInput!) { updateOrganisation(input: $i) { organisation { slug } userErrors { code } } }",
            variables: json!({ "i": { "slug": "gla", "description": "Greater London Authority" } }),
            undo: None,
            allowed: expected(|org, role| role == "ADMIN" && org == "gla"),
        },
        Case {
            name: "createOrganisation: a body based in London",
            query: "mutation($i: CreateOrganisationInput!) { createOrganisation(input: $i) { organisation { slug } userErrors { code } } }",
            variables: json!({ "i": { "slug": "new-london-body", "name": "A new body", "kind": "PARTNERSHIP", "geography": "E12000007" } }),
            undo: None,
            allowed: expected(|org, role| role == "ADMIN" && org == "gla"),
        },
        Case {
            name: "issueToken for Camden",
            query: "mutation($i: IssueTokenInput!) { issueToken(input: $i) { issuedToken { id } userErrors { code } } }",
            variables: json!({ "i": { "organisation": "camden", "subject": "script@camden", "roles": ["SUBMITTER"] } }),
            undo: None,
            allowed: expected(is_admin_above_camden),
        },
        Case {
            name: "createWebhook for Camden",
            query: "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } userErrors { code } } }",
            variables: json!({ "i": { "organisation": "camden", "url": "https://81.2.69.160/hook", "events": ["RETURN_SUBMITTED"] } }),
            undo: None,
            allowed: expected(|org, role| is_admin_above_camden(org, role) || (org == "camden" && role == "APPROVER")),
        },
        Case {
            name: "importGeographies: a ward of Camden",
            query: "mutation($i: ImportGeographiesInput!) { importGeographies(input: $i) { created userErrors { code } } }",
            variables: json!({ "i": { "geographies": [{ "code": "E05013660", "name": "Belsize", "parent": "E09000007" }] } }),
            undo: None,
            allowed: expected(is_admin_above_camden),
        },
        Case {
            name: "updatePriority: the pan-London catalogue",
            query: "mutation($i: UpdatePriorityInput!) { updatePriority(input: $i) { priority { slug } userErrors { code } } }",
            variables: json!({ "i": { "slug": "tobacco-control", "challenge": "Smoking remains the leading cause of preventable illness." } }),
            undo: None,
            allowed: expected(|org, role| role == "ADMIN" && org == "gla"),
        },
        Case {
            name: "lockPeriod: the pan-London catalogue",
            query: "mutation { lockPeriod(input: { measure: \"smoking-prevalence\", period: \"2001\" }) { measure { slug } locked } }",
            variables: json!({}),
            undo: Some((
                "mutation { unlockPeriod(input: { measure: \"smoking-prevalence\", period: \"2001\" }) { locked } }",
                json!({}),
            )),
            allowed: expected(|org, role| role == "ADMIN" && org == "gla"),
        },
    ];
    for case in &cases {
        let mut allowed = Vec::new();
        for org in ORGS {
            for (role, roles) in roles() {
                let token = app.token(org, &roles);
                let body = ask(&app, &token, case.query, case.variables.clone()).await;
                if done(&body) {
                    allowed.push(format!("{org} {role}"));
                    if let Some((undo, vars)) = &case.undo {
                        let undone = ask(&app, &london, undo, vars.clone()).await;
                        assert!(done(&undone), "{}: undoing: {undone}", case.name);
                    }
                } else {
                    assert!(
                        refused_with_a_code(&body),
                        "{}: {org} {role} refused without a coded answer: {body}",
                        case.name
                    );
                }
            }
        }
        assert_eq!(allowed, case.allowed, "{}", case.name);
    }

    // Lists agree with acting: each sees exactly the tokens and hooks it may act on.
    let listed = |query: &'static str, field: &'static str| {
        let app = &app;
        async move {
            let mut seen = Vec::new();
            for org in ORGS {
                for (role, roles) in roles() {
                    let body = ask(app, &app.token(org, &roles), query, json!({})).await;
                    let n = body["data"][field].as_array().map_or(0, Vec::len);
                    if n > 0 {
                        seen.push(format!("{org} {role}"));
                    }
                }
            }
            seen
        }
    };
    assert_eq!(
        listed(r#"{ issuedTokens(organisation: "camden") { id } }"#, "issuedTokens").await,
        expected(is_admin_above_camden),
        "Camden's tokens are listed to those who may revoke them"
    );
    assert_eq!(
        listed(r#"{ webhooks(organisation: "camden") { id } }"#, "webhooks").await,
        expected(|org, role| is_admin_above_camden(org, role) || (org == "camden" && role == "APPROVER")),
        "Camden's webhooks are listed to those who may delete them"
    );

    // Revoking one of Camden's tokens: exactly those who list it.
    let mut revokers = Vec::new();
    for org in ORGS {
        for (role, roles) in roles() {
            let issued = ask(
                &app,
                &london,
                "mutation { issueToken(input: { organisation: \"camden\", subject: \"x@camden\" }) { issuedToken { id } } }",
                json!({}),
            )
            .await;
            let id = issued["data"]["issueToken"]["issuedToken"]["id"].clone();
            let body = ask(
                &app,
                &app.token(org, &roles),
                "mutation($id: String!) { revokeToken(input: { id: $id }) { issuedToken { id } userErrors { code } } }",
                json!({ "id": id }),
            )
            .await;
            if done(&body) {
                revokers.push(format!("{org} {role}"));
            } else {
                assert!(refused_with_a_code(&body), "revokeToken: {org} {role}: {body}");
            }
        }
    }
    assert_eq!(revokers, expected(is_admin_above_camden));
}

#[tokio::test]
async fn a_borough_admin_cannot_widen_its_area_and_so_never_reaches_another_borough() {
    let app = spawn_app().await;
    let camden_admin = app.token("camden", &[Role::Admin]);
    let body = ask(
        &app,
        &camden_admin,
        "mutation { updateOrganisation(input: { slug: \"camden\", geography: \"E12000007\" }) { organisation { geography { code } } userErrors { field code message } } }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["updateOrganisation"]["userErrors"][0]["code"], "OUT_OF_SCOPE", "{body}");
    let viewer = app.data_as(&camden_admin, "{ viewer { scope { code } } }", json!({})).await;
    assert_eq!(viewer["viewer"]["scope"]["code"], "E09000007", "still Camden alone: {viewer}");
    // A token for the GLA is not Camden's to mint, nor are Hackney's values its to submit.
    let minted = ask(
        &app,
        &camden_admin,
        "mutation { issueToken(input: { organisation: \"gla\", subject: \"me\", roles: [ADMIN] }) { token userErrors { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(minted["data"]["issueToken"]["token"], Value::Null);
    assert_eq!(minted["data"]["issueToken"]["userErrors"][0]["code"], "OUT_OF_SCOPE", "{minted}");
    let camden = app.token("camden", &[Role::Submitter]);
    let sent = ask(
        &app,
        &camden,
        crate::returns::SUBMIT,
        crate::returns::input("hackney", vec![crate::returns::value("school-readiness", "E09000012", "2022/23", 60.0)]),
    )
    .await;
    assert!(!done(&sent) && refused_with_a_code(&sent), "{sent}");
}
