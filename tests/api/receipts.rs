//! Signed receipts: every written return has one, it verifies with the server's published
//! key set and with the command line, and its digest is of the values as written.

use london_vision::values::Role;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{
    helpers::spawn_app,
    picture::ratio,
    returns::{input, submit},
};

#[tokio::test]
async fn a_return_has_a_receipt_that_verifies_and_covers_its_values() {
    let app = spawn_app().await;
    let camden = app.token_for("camden", "analyst@camden", &[Role::Submitter]);
    let mut values = vec![
        ratio("hiv-testing-coverage", "E09000007", "2023", 450.0, 600.0, 100.0),
        json!({ "measure": "school-readiness", "geography": "E09000007", "period": "2022/23", "value": 67.2,
                "note": "provisional, \"quoted\"" }),
    ];
    values[0]["lowerCi"] = json!(71.4);
    values[0]["upperCi"] = json!(78.3);
    let payload = submit(&app, &camden, input("camden", values)).await;
    let id = payload["return"]["id"].clone();
    let q = "query($id: ID!) { return(id: $id) { receipt submittedBy } }";
    let receipt =
        app.data_as(&camden, q, json!({ "id": id })).await["return"]["receipt"].as_str().expect("a receipt").to_owned();
    assert_eq!(receipt.split('.').count(), 3, "a compact JWS");
    // The same receipt when asked again.
    assert_eq!(app.data_as(&camden, q, json!({ "id": id })).await["return"]["receipt"], receipt.as_str());

    // The published key set verifies it.
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    let claims = london_vision::receipts::verify(&receipt, &jwks).expect("verifies");
    assert_eq!(claims.sub, "camden");
    assert_eq!(claims.return_id, id.as_str().expect("id"));
    assert_eq!(claims.submitted_by, "analyst@camden");
    assert_eq!(claims.values, 2);

    // The digest, worked out here from the canonical form the README gives.
    let canonical = r#"[{"measure":"hiv-testing-coverage","geography":"E09000007","period":"2023","revision":1,"value":75.0,"numerator":450.0,"denominator":600.0,"lowerCi":71.4,"upperCi":78.3,"note":null},{"measure":"school-readiness","geography":"E09000007","period":"2022/23","revision":1,"value":67.2,"numerator":null,"denominator":null,"lowerCi":null,"upperCi":null,"note":"provisional, \"quoted\""}]"#;
    let hex: String = sha2::Sha256::digest(canonical.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(claims.digest, format!("sha256:{hex}"));

    // The command line verifies it with the server's own key, and refuses an altered one.
    let file = app.config.data_dir.join("receipt.jws");
    let verify = |text: &str| {
        std::fs::write(&file, text).expect("write");
        std::process::Command::new(env!("CARGO_BIN_EXE_london-vision"))
            .args(["receipt", "verify"])
            .arg(&file)
            .env("DATABASE_URL", &app.database_url)
            .env("DATA_DIR", &app.config.data_dir)
            .output()
            .expect("runs")
    };
    let out = verify(&receipt);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(printed["digest"], claims.digest.as_str());
    let mut parts: Vec<&str> = receipt.split('.').collect();
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&json!({ "iss": "london-vision", "sub": "hackney", "values": 2 })).expect("json"),
    );
    parts[1] = &forged;
    let refused = verify(&parts.join("."));
    assert!(!refused.status.success(), "a forged receipt does not verify");
}
