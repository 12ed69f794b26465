//! Partner identity: tokens, the viewer, and every way a token is refused.

use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use london_vision::{auth::TokenService, values::Role};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, spawn_app_with};

const VIEWER: &str = "{ viewer { subject roles organisation { slug } scope { code } tokenId } }";
const SECRET: &str = "a-test-signing-secret-of-at-least-32-chars";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims as `london-vision token` makes them, for `org`.
fn claims(org: &str) -> Value {
    json!({ "sub": "script@test", "org": org, "roles": ["SUBMITTER"], "iss": "london-vision",
            "aud": "london-vision-api", "exp": now() + 3600, "iat": now(), "jti": format!("jti-{org}-{}", now()) })
}

fn sign(alg: Algorithm, claims: &Value, key: &EncodingKey) -> String {
    encode(&Header::new(alg), claims, key).expect("signs")
}

fn hs(claims: &Value) -> String {
    sign(Algorithm::HS256, claims, &EncodingKey::from_secret(SECRET.as_bytes()))
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().expect("object").remove(field);
    claims
}

async fn app_with_known_secret() -> TestApp {
    spawn_app_with(|c| c.jwt_secret = Some(SECRET.into())).await
}

async fn assert_refused(app: &TestApp, authorization: &str, case: &str) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("authorization", authorization)
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401, "{case}");
    assert!(response.headers().get("www-authenticate").is_some(), "{case}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{case}: {body}");
    assert_eq!(body["data"], Value::Null, "{case}: no data for a refused token");
}

#[tokio::test]
async fn no_token_is_an_anonymous_reader() {
    let app = spawn_app().await;
    let data = app.data(VIEWER, json!({})).await;
    assert_eq!(data["viewer"], Value::Null);
}

#[tokio::test]
async fn a_token_makes_a_viewer_with_its_organisation_roles_and_scope() {
    let app = spawn_app().await;
    for (org, roles, scope) in [
        ("camden", vec![Role::Submitter], "E09000007"),
        ("north-west-london-ics", vec![Role::Submitter, Role::Approver], "E54000027"),
        ("gla", vec![Role::Admin], "E12000007"),
        ("london-councils", vec![], "E12000007"),
    ] {
        let data = app.data_as(&app.token(org, &roles), VIEWER, json!({})).await;
        let viewer = &data["viewer"];
        assert_eq!(viewer["organisation"]["slug"], org);
        assert_eq!(viewer["scope"]["code"], scope, "{org}'s scope");
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        assert_eq!(viewer["roles"], json!(names));
        assert_eq!(viewer["subject"], format!("tester@{org}"));
    }
}

#[tokio::test]
async fn every_bad_token_is_refused_never_treated_as_anonymous() {
    let app = app_with_known_secret().await;
    let good = claims("camden");
    // The control: the same claims, well signed, are accepted.
    assert_eq!(app.data_as(&hs(&good), VIEWER, json!({})).await["viewer"]["organisation"]["slug"], "camden");

    let other_secret = EncodingKey::from_secret(b"another-secret-that-is-long-enough-too");
    let alg_none = {
        use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
        format!("{}.{}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#), B64.encode(good.to_string()))
    };
    let tampered = {
        let token = hs(&good);
        let parts: Vec<&str> = token.split('.').collect();
        use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
        let forged = with(good.clone(), "org", json!("westminster"));
        format!("{}.{}.{}", parts[0], B64.encode(forged.to_string()), parts[2])
    };
    let cases: Vec<(&str, String)> = vec![
        ("expired", hs(&with(good.clone(), "exp", json!(now() - 3600)))),
        ("wrong signature", sign(Algorithm::HS256, &good, &other_secret)),
        ("alg none", alg_none),
        ("disallowed algorithm", sign(Algorithm::HS512, &good, &EncodingKey::from_secret(SECRET.as_bytes()))),
        ("wrong audience", hs(&with(good.clone(), "aud", json!("someone-else")))),
        ("wrong issuer", hs(&with(good.clone(), "iss", json!("evil-issuer")))),
        ("missing exp", hs(&without(good.clone(), "exp"))),
        ("future nbf", hs(&with(good.clone(), "nbf", json!(now() + 3600)))),
        ("tampered payload", tampered),
        ("unknown organisation", hs(&with(good.clone(), "org", json!("atlantis")))),
        ("unknown role", hs(&with(good.clone(), "roles", json!(["SUPERUSER"])))),
        ("missing jti", hs(&without(good.clone(), "jti"))),
        ("missing sub", hs(&without(good.clone(), "sub"))),
        ("malformed", "not.a.jwt".into()),
        ("garbage", "Zm9v".into()),
    ];
    for (case, token) in &cases {
        assert_refused(&app, &format!("Bearer {token}"), case).await;
    }
    assert_refused(&app, "Basic dXNlcjpwYXNz", "another scheme").await;
    assert_refused(&app, "Bearer ", "an empty bearer").await;

    // Revoked: the same token, accepted until its jti is revoked.
    let token = app.token("camden", &[Role::Submitter]);
    let jti = app.data_as(&token, VIEWER, json!({})).await["viewer"]["tokenId"].as_str().expect("jti").to_owned();
    let db = app.database().await;
    london_vision::auth::revoke(&db, &jti, Some("left the team".into())).await.expect("revoked");
    assert_refused(&app, &format!("Bearer {token}"), "revoked").await;
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture key")
}

#[tokio::test]
async fn identity_provider_tokens_are_verified_with_its_public_keys() {
    let keys = std::env::temp_dir().join(format!("lv-keys-{}-{}.pem", std::process::id(), now()));
    let both = [pem("rsa-public.pem"), pem("ec-public.pem")].concat();
    std::fs::write(&keys, both).expect("write keys");
    let app = spawn_app_with(|c| {
        c.jwt_public_keys = Some(keys.clone());
        c.jwt_algorithms = vec!["HS256".into(), "RS256".into(), "ES256".into()];
    })
    .await;
    let rs =
        sign(Algorithm::RS256, &claims("camden"), &EncodingKey::from_rsa_pem(&pem("rsa-private.pem")).expect("rsa"));
    let es = sign(Algorithm::ES256, &claims("barnet"), &EncodingKey::from_ec_pem(&pem("ec-private.pem")).expect("ec"));
    assert_eq!(app.data_as(&rs, VIEWER, json!({})).await["viewer"]["organisation"]["slug"], "camden");
    assert_eq!(app.data_as(&es, VIEWER, json!({})).await["viewer"]["organisation"]["slug"], "barnet");
    // Key confusion: an HS256 token keyed with the public key's text is not a signature.
    let confused = sign(Algorithm::HS256, &claims("camden"), &EncodingKey::from_secret(&pem("rsa-public.pem")));
    assert_refused(&app, &format!("Bearer {confused}"), "public key used as an HMAC secret").await;

    // The same RS256 token where the allow-list does not name RS256.
    let strict = spawn_app_with(|c| c.jwt_public_keys = Some(keys.clone())).await;
    assert_refused(&strict, &format!("Bearer {rs}"), "RS256 not in the allow-list").await;

    // EdDSA from a JWKS file, found by the token's key id.
    let jwks = spawn_app_with(|c| {
        c.jwt_public_keys = Some(fixture("ed-jwks.json"));
        c.jwt_algorithms = vec!["EdDSA".into()];
    })
    .await;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("test-ed-1".into());
    let ed = encode(&header, &claims("newham"), &EncodingKey::from_ed_pem(&pem("ed-private.pem")).expect("ed"))
        .expect("signs");
    assert_eq!(jwks.data_as(&ed, VIEWER, json!({})).await["viewer"]["organisation"]["slug"], "newham");
    // HS256 is not in this server's list at all.
    let mut hs = jwks.config.clone();
    hs.jwt_algorithms = vec!["HS256".into()];
    let hs256 = TokenService::from_config(&hs).expect("keys").issue("newham", "x@newham", &[], 600).expect("signs").0;
    assert_refused(&jwks, &format!("Bearer {hs256}"), "HS256 not in the allow-list").await;
    let refused = TokenService::from_config(&jwks.config).expect("keys").issue("newham", "x@newham", &[], 600);
    let why = refused.expect_err("a server that does not accept HS256 does not sign with it").to_string();
    assert!(why.contains("JWT_ALGORITHMS"), "{why}");
}

/// Runs the `london-vision` binary against the test app's database and data directory.
fn cli_raw(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_london-vision"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_DIR", &app.config.data_dir)
        .env_remove("JWT_SECRET")
        .output()
        .expect("the binary runs")
}

/// Runs the binary and expects it to succeed.
fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let output = cli_raw(app, args);
    assert!(output.status.success(), "london-vision {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[tokio::test]
async fn a_token_from_the_cli_works_against_the_running_server_until_revoked() {
    let app = spawn_app().await;
    let output = cli(&app, &["token", "--org", "hackney", "--role", "SUBMITTER", "--role", "approver", "--ttl", "1h"]);
    let token = String::from_utf8(output.stdout).expect("utf-8").trim().to_owned();
    let data = app.data_as(&token, VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["organisation"]["slug"], "hackney");
    assert_eq!(data["viewer"]["roles"], json!(["SUBMITTER", "APPROVER"]));
    let jti = data["viewer"]["tokenId"].as_str().expect("jti").to_owned();

    cli(&app, &["token", "revoke", &jti, "--reason", "test"]);
    assert_refused(&app, &format!("Bearer {token}"), "revoked with the CLI").await;

    let refused = Command::new(env!("CARGO_BIN_EXE_london-vision"))
        .args(["token", "--org", "atlantis", "--role", "SUBMITTER"])
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_DIR", &app.config.data_dir)
        .output()
        .expect("runs");
    assert!(!refused.status.success(), "a token for an unknown organisation is not issued");

    let no_role = cli_raw(&app, &["token", "--org", "hackney"]);
    assert!(!no_role.status.success(), "a token names its role");
    assert!(String::from_utf8_lossy(&no_role.stderr).contains("--role"));
    let unknown_role = cli_raw(&app, &["token", "--org", "hackney", "--role", "SUPERUSER"]);
    assert!(!unknown_role.status.success(), "an unknown role is refused");
    let read_only = cli_raw(&app, &["token", "--org", "hackney", "--role", "READ_ONLY"]);
    assert!(read_only.status.success(), "{}", String::from_utf8_lossy(&read_only.stderr));
    let typo = cli_raw(&app, &["token", "revoke", "0123456789abcdef"]);
    assert!(!typo.status.success(), "revoking an id never issued fails");
    assert!(String::from_utf8_lossy(&typo.stderr).contains("was issued"), "{}", String::from_utf8_lossy(&typo.stderr));
    let external = cli_raw(&app, &["token", "revoke", "idp-token-1", "--external"]);
    assert!(external.status.success(), "an identity provider's token id is revoked when said so");
}

#[cfg(unix)]
#[tokio::test]
async fn the_generated_signing_key_is_kept_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = spawn_app().await;
    let path = app.config.data_dir.join("jwt-secret");
    let mode = std::fs::metadata(&path).expect("the key file exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // A second start reads the same key: tokens issued before still verify.
    let before = app.token("camden", &[]);
    let again = london_vision::auth::TokenService::from_config(&app.config).expect("loads");
    assert!(again.verify(&before).is_ok());
}

/// An identity provider rotating its keys: the server reads the key file again when it
/// changes, and keeps the old keys when the new file cannot be read.
#[test]
fn a_changed_key_file_is_read_again() {
    let dir = std::env::temp_dir().join(format!("lv-rotate-{}-{}", std::process::id(), now()));
    std::fs::create_dir_all(&dir).expect("dir");
    let keys = dir.join("keys.pem");
    std::fs::write(&keys, pem("rsa-public.pem")).expect("write keys");
    let mut config = london_vision::config::Config::for_tests("sqlite::memory:", dir.clone());
    config.jwt_public_keys = Some(keys.clone());
    config.jwt_algorithms = vec!["RS256".into(), "ES256".into()];
    let service = TokenService::from_config(&config).expect("keys");
    let rs =
        sign(Algorithm::RS256, &claims("camden"), &EncodingKey::from_rsa_pem(&pem("rsa-private.pem")).expect("rsa"));
    let es = sign(Algorithm::ES256, &claims("barnet"), &EncodingKey::from_ec_pem(&pem("ec-private.pem")).expect("ec"));
    assert!(service.verify(&rs).is_ok());
    assert!(service.verify(&es).is_err());
    assert!(!service.refresh_public_keys(), "nothing changed");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&keys, pem("ec-public.pem")).expect("rotate");
    assert!(service.refresh_public_keys(), "the new file is read");
    assert!(service.verify(&es).is_ok());
    assert!(service.verify(&rs).is_err(), "the old key is gone");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&keys, "not a key").expect("break");
    assert!(!service.refresh_public_keys(), "an unreadable file changes nothing");
    assert!(service.verify(&es).is_ok());
}

#[tokio::test]
async fn an_administrator_lists_issues_and_revokes_tokens_through_the_api() {
    let app = spawn_app().await;
    let admin = app.token_for("gla", "admin@gla", &[Role::Admin]);
    let issue = "mutation($i: IssueTokenInput!) { issueToken(input: $i) { token issuedToken { id organisation subject roles expiresAt revokedAt } userErrors { code field } } }";
    let issued = app
        .data_as(&admin, issue, json!({ "i": { "organisation": "camden", "subject": "camden-returns", "roles": ["SUBMITTER"], "ttl": "30d" } }))
        .await["issueToken"]
        .clone();
    assert_eq!(issued["userErrors"], json!([]), "{issued}");
    let token = issued["token"].as_str().expect("the secret, once").to_owned();
    let id = issued["issuedToken"]["id"].as_str().expect("an id").to_owned();
    assert_eq!(issued["issuedToken"]["roles"], json!(["SUBMITTER"]));
    // The token works, and says who it is.
    assert_eq!(app.data_as(&token, VIEWER, json!({})).await["viewer"]["organisation"]["slug"], "camden");

    // Listed, without its secret.
    let list = "query($o: String, $a: Boolean) { issuedTokens(organisation: $o, active: $a) { id subject revokedAt } }";
    let listed = app.data_as(&admin, list, json!({ "o": "camden" })).await;
    assert_eq!(listed["issuedTokens"], json!([{ "id": id, "subject": "camden-returns", "revokedAt": null }]));
    assert!(!listed.to_string().contains(&token), "the secret is never shown again");

    // Bad input changes nothing.
    let bad = app
        .data_as(&admin, issue, json!({ "i": { "organisation": "nowhere", "subject": " ", "ttl": "5y" } }))
        .await["issueToken"]
        .clone();
    assert_eq!(bad["token"], Value::Null);
    assert!(!bad["userErrors"].as_array().expect("errors").is_empty(), "{bad}");

    // Revoked: refused from then on, listed as revoked, once only.
    let revoke = "mutation($id: String!) { revokeToken(input: { id: $id, reason: \"script retired\" }) { issuedToken { revokedAt revokeReason } userErrors { code } } }";
    let revoked = app.data_as(&admin, revoke, json!({ "id": id })).await["revokeToken"].clone();
    assert_eq!(revoked["issuedToken"]["revokeReason"], "script retired", "{revoked}");
    assert_refused(&app, &format!("Bearer {token}"), "revoked through the API").await;
    let again = app.data_as(&admin, revoke, json!({ "id": id })).await["revokeToken"].clone();
    assert_eq!(again["userErrors"][0]["code"], "CONFLICT");
    let active = app.data_as(&admin, list, json!({ "o": "camden", "a": true })).await;
    assert_eq!(active["issuedTokens"], json!([]));

    // Only an ADMIN may do any of it; each action is in the audit trail.
    let submitter = app.token("camden", &[Role::Submitter]);
    let (_, refused) = app.graphql_as(&submitter, list, json!({})).await;
    assert_eq!(crate::helpers::error_codes(&refused), ["FORBIDDEN"]);
    let trail =
        app.data_as(&admin, "{ auditEvents(entityType: \"IssuedToken\") { nodes { action } } }", json!({})).await;
    assert_eq!(trail["auditEvents"]["nodes"], json!([{ "action": "issueToken" }, { "action": "revokeToken" }]));
}

/// A second server process on the same database, as another replica would be.
async fn replica(app: &crate::helpers::TestApp) -> String {
    let second = london_vision::startup::Application::build(&app.config).await.expect("a second server");
    let address = format!("http://{}", second.local_addr());
    tokio::spawn(second.run_until_stopped());
    address
}

#[tokio::test]
async fn a_token_is_authenticated_without_statements_of_its_own() {
    let app = crate::helpers::spawn_app().await;
    let camden = app.token("camden", &[Role::Submitter]);
    // Once warm, an authenticated request runs the statements an anonymous one runs when its
    // answer is built: one read of the database's versions, then the query's own.
    app.data_as(&camden, "{ viewer { subject } }", serde_json::json!({})).await;
    let shapes = [
        "{ measures(first: 5) { nodes { slug priority { slug } } } }",
        "{ organisations(first: 3) { nodes { slug geography { code } } } }",
        r#"{ geography(code: "E54000028") { children { code name } } }"#,
    ];
    for (i, shape) in shapes.iter().enumerate() {
        // Each asked once anonymously and once with the token, with a distinct alias so that no
        // kept answer is served.
        let anonymous = shape.replacen('{', &format!("{{ a{i}: __typename "), 1);
        let before = app.statements_run().await;
        app.data(&anonymous, serde_json::json!({})).await;
        let anonymous_cost = app.statements_run().await - before;
        let signed = shape.replacen('{', &format!("{{ s{i}: __typename "), 1);
        let before = app.statements_run().await;
        app.data_as(&camden, &signed, serde_json::json!({})).await;
        let signed_cost = app.statements_run().await - before;
        assert_eq!(signed_cost, anonymous_cost, "{shape}: a token costs no statement of its own");
    }
}

#[tokio::test]
async fn a_revocation_or_a_move_holds_on_every_replica_from_the_next_request() {
    let app = crate::helpers::spawn_app().await;
    let other = replica(&app).await;
    let admin = app.token("gla", &[Role::Admin]);
    let issued = app
        .data_as(
            &admin,
            "mutation { issueToken(input: { organisation: \"camden\", subject: \"s@camden\", roles: [SUBMITTER] }) { token issuedToken { id } } }",
            serde_json::json!({}),
        )
        .await;
    let token = issued["issueToken"]["token"].as_str().expect("token").to_owned();
    let id = issued["issueToken"]["issuedToken"]["id"].clone();
    let ask = |address: String, token: String| async move {
        reqwest::Client::new()
            .post(format!("{address}/graphql"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "query": "{ viewer { scope { code } } }" }))
            .send()
            .await
            .expect("sent")
    };
    // Both replicas know the token (and keep their directory).
    assert_eq!(ask(app.address.clone(), token.clone()).await.status(), 200);
    assert_eq!(ask(other.clone(), token.clone()).await.status(), 200);
    // Revoked through the first: refused by the second at once.
    let revoked = app
        .data_as(
            &admin,
            "mutation($id: String!) { revokeToken(input: { id: $id }) { issuedToken { revokedAt } } }",
            serde_json::json!({ "id": id }),
        )
        .await;
    assert!(revoked["revokeToken"]["issuedToken"]["revokedAt"].is_string());
    assert_eq!(ask(other.clone(), token.clone()).await.status(), 401, "revoked on the other replica too");
    // Camden moved by a London-wide administrator through the second replica: the first acts on
    // its new area from the next request.
    let camden = app.token("camden", &[Role::Submitter]);
    let seen: serde_json::Value = ask(app.address.clone(), camden.clone()).await.json().await.expect("json");
    assert_eq!(seen["data"]["viewer"]["scope"]["code"], "E09000007");
    let moved: serde_json::Value = reqwest::Client::new()
        .post(format!("{other}/graphql"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "query": "mutation { updateOrganisation(input: { slug: \"camden\", geography: \"E09000019\" }) { userErrors { code } } }" }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(moved["data"]["updateOrganisation"]["userErrors"], serde_json::json!([]), "{moved}");
    let seen: serde_json::Value = ask(app.address.clone(), camden).await.json().await.expect("json");
    assert_eq!(seen["data"]["viewer"]["scope"]["code"], "E09000019", "the move holds at once: {seen}");
}
