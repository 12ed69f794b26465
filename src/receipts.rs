//! Signed receipts: proof of what a return carried, when and from whom, that the submitting
//! borough can keep and anyone can check later.
//!
//! A receipt is a compact JWS (RFC 7515) signed with EdDSA (Ed25519, RFC 8037) by the
//! server's own key. Its claims name the organisation (`sub`), the return (`return`, its
//! global ID, and `rid`), who sent it and when (`submittedBy`, `iat`), how many values it
//! wrote (`values`) and a digest of those values as written (`digest`). The public key is
//! served as a JWK set at `/.well-known/jwks.json`; `london-vision receipt verify FILE`
//! checks one, as does any JOSE library.
//!
//! The digest is `sha256:` and the hex SHA-256 of the values' canonical JSON: an array of
//! `{"measure","geography","period","revision","value","numerator","denominator","lowerCi",
//! "upperCi","note"}` objects (slug, ONS code, period text, the figures as written, null when
//! absent), ordered by measure, area and period, written compactly with no spaces. Values are
//! never overwritten (a correction is a new revision in a new return), so the receipt of a
//! return is the same whenever it is asked for: Ed25519 signatures are deterministic.
//!
//! The key is 32 random bytes kept in `DATA_DIR/receipt-key` (created once, readable by its
//! owner only) or given as `RECEIPT_SIGNING_KEY` (64 hex digits): every replica must have the
//! same one.

use std::{fs, path::Path};

use anyhow::{Context as _, bail};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The issuer every receipt names.
pub const ISSUER: &str = "london-vision";

/// The PKCS#8 (RFC 8410) prefix of an Ed25519 private key's 32-byte seed.
const PKCS8_ED25519_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptClaims {
    /// Always `london-vision`.
    pub iss: String,
    /// The submitting organisation's slug.
    pub sub: String,
    /// The return's global ID.
    #[serde(rename = "return")]
    pub return_id: String,
    /// The return's number in the database.
    pub rid: i64,
    /// When it was submitted, in seconds since the epoch.
    pub iat: i64,
    /// Who submitted it (the token's subject).
    pub submitted_by: String,
    /// How many values it wrote.
    pub values: u64,
    /// `sha256:` and the hex SHA-256 of the values' canonical JSON.
    pub digest: String,
}

/// One value as written, in the canonical form the digest covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalValue {
    pub measure: String,
    pub geography: String,
    pub period: String,
    pub revision: i32,
    pub value: f64,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub lower_ci: Option<f64>,
    pub upper_ci: Option<f64>,
    pub note: Option<String>,
}

/// The digest of a return's values: they are sorted by measure, area and period first.
pub fn digest(values: &mut [CanonicalValue]) -> String {
    values.sort_by(|a, b| (&a.measure, &a.geography, &a.period).cmp(&(&b.measure, &b.geography, &b.period)));
    let mut d = Digester::default();
    for v in values.iter() {
        d.push(v);
    }
    d.finish()
}

/// The digest of values fed one at a time, already in order: the same bytes as the compact
/// JSON array of them, without holding the array.
pub struct Digester {
    hash: Sha256,
    count: u64,
}

impl Default for Digester {
    fn default() -> Self {
        let mut hash = Sha256::new();
        hash.update(b"[");
        Self { hash, count: 0 }
    }
}

impl Digester {
    pub fn push(&mut self, value: &CanonicalValue) {
        if self.count > 0 {
            self.hash.update(b",");
        }
        self.hash.update(serde_json::to_vec(value).unwrap_or_default());
        self.count += 1;
    }

    /// How many values were fed.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn finish(mut self) -> String {
        self.hash.update(b"]");
        let hex: String = self.hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// The server's receipt key.
pub struct ReceiptKeys {
    signing: EncodingKey,
    public: [u8; 32],
    kid: String,
}

impl ReceiptKeys {
    /// The key from `RECEIPT_SIGNING_KEY` (64 hex digits), or from `DATA_DIR/receipt-key`,
    /// created there on first use.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let seed = match configured {
            Some(hex) => parse_seed(hex).context("RECEIPT_SIGNING_KEY must be 64 hex digits (32 bytes)")?,
            None => load_or_create(&data_dir.join("receipt-key"))?,
        };
        Ok(Self::from_seed(seed))
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let kid: String = Sha256::digest(public).iter().take(8).map(|b| format!("{b:02x}")).collect();
        Self { signing: EncodingKey::from_ed_der(&der), public, kid }
    }

    /// The key's id, as receipts' headers and the key set name it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK set (RFC 7517, OKP keys of RFC 8037).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(self.public),
            "kid": self.kid, "alg": "EdDSA", "use": "sig",
        }] })
    }

    /// Signs a receipt.
    pub fn sign(&self, claims: &ReceiptClaims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        Ok(encode(&header, claims, &self.signing)?)
    }
}

/// Checks a receipt against a JWK set (as `/.well-known/jwks.json` serves it) and returns
/// what it says. Only EdDSA is accepted, whatever the receipt's header claims.
pub fn verify(receipt: &str, jwks: &serde_json::Value) -> anyhow::Result<ReceiptClaims> {
    let header = jsonwebtoken::decode_header(receipt.trim()).context("the receipt is not a compact JWS")?;
    if header.alg != Algorithm::EdDSA {
        bail!("a receipt is signed with EdDSA, not {:?}", header.alg);
    }
    let keys = jwks["keys"].as_array().context("the key set has no `keys`")?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["iss", "sub"]);
    validation.validate_exp = false;
    validation.validate_aud = false;
    let mut last = anyhow::anyhow!("no Ed25519 key in the key set");
    for key in keys.iter().filter(|k| k["crv"] == "Ed25519") {
        if let (Some(want), Some(have)) = (&header.kid, key["kid"].as_str())
            && want != have
        {
            continue;
        }
        let Some(x) = key["x"].as_str() else { continue };
        let decoding = DecodingKey::from_ed_components(x)?;
        match decode::<ReceiptClaims>(receipt.trim(), &decoding, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => last = anyhow::anyhow!("the signature does not verify: {e}"),
        }
    }
    Err(last)
}

fn parse_seed(hex: &str) -> anyhow::Result<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("not 64 hex digits");
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(seed)
}

fn load_or_create(path: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(text) = fs::read_to_string(path) {
        return parse_seed(&text).with_context(|| format!("{} is not a receipt key", path.display()));
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for the receipt key: {e}"))?;
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    write_private(path, &hex)?;
    // Another process may have written it first: use whatever is there now.
    let text = fs::read_to_string(path)?;
    parse_seed(&text).with_context(|| format!("{} is not a receipt key", path.display()))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    match fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut f) => Ok(f.write_all(text.as_bytes())?),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if !path.exists() {
        fs::write(path, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> ReceiptClaims {
        ReceiptClaims {
            iss: ISSUER.into(),
            sub: "camden".into(),
            return_id: "UmV0dXJuOjE".into(),
            rid: 1,
            iat: 1_764_000_000,
            submitted_by: "analyst@camden".into(),
            values: 2,
            digest: "sha256:00".into(),
        }
    }

    #[test]
    fn a_receipt_verifies_with_its_key_set_and_not_with_another() {
        let keys = ReceiptKeys::from_seed([7; 32]);
        let receipt = keys.sign(&claims()).expect("signs");
        assert_eq!(receipt.split('.').count(), 3, "compact JWS");
        assert_eq!(verify(&receipt, &keys.jwks()).expect("verifies"), claims());
        // Deterministic: the same claims, the same receipt.
        assert_eq!(keys.sign(&claims()).expect("signs"), receipt);
        let other = ReceiptKeys::from_seed([8; 32]);
        assert!(verify(&receipt, &other.jwks()).is_err());
        // A changed claim breaks the signature.
        let mut parts: Vec<String> = receipt.split('.').map(str::to_owned).collect();
        let mut altered = claims();
        altered.values = 3;
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&altered).expect("json"));
        assert!(verify(&parts.join("."), &keys.jwks()).is_err());
    }

    #[test]
    fn the_public_key_is_ed25519_of_the_seed() {
        // RFC 8032, section 7.1, test 1: the secret key and its public key.
        let seed = parse_seed("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").expect("hex");
        let keys = ReceiptKeys::from_seed(seed);
        let x = keys.jwks()["keys"][0]["x"].as_str().expect("x").to_owned();
        let public: String = URL_SAFE_NO_PAD.decode(x).expect("b64").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(public, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    }

    #[test]
    fn the_digest_is_of_the_sorted_canonical_values() {
        let v = |m: &str, g: &str| CanonicalValue {
            measure: m.into(),
            geography: g.into(),
            period: "2023".into(),
            revision: 1,
            value: 75.0,
            numerator: Some(450.0),
            denominator: Some(600.0),
            lower_ci: None,
            upper_ci: None,
            note: None,
        };
        let a = digest(&mut [v("b", "E09000007"), v("a", "E09000012")]);
        let b = digest(&mut [v("a", "E09000012"), v("b", "E09000007")]);
        assert_eq!(a, b, "the order sent does not matter");
        let whole = serde_json::to_vec(&[v("a", "E09000012"), v("b", "E09000007")]).expect("json");
        let hex: String = Sha256::digest(&whole).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(a, format!("sha256:{hex}"), "fed one by one, the same bytes as the whole array");
        assert_eq!(
            digest(&mut []),
            format!("sha256:{}", Sha256::digest(b"[]").iter().map(|b| format!("{b:02x}")).collect::<String>())
        );
        // By hand: the SHA-256 of this exact text.
        let text = r#"[{"measure":"a","geography":"E09000012","period":"2023","revision":1,"value":75.0,"numerator":450.0,"denominator":600.0,"lowerCi":null,"upperCi":null,"note":null}]"#;
        let hex: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest(&mut [v("a", "E09000012")]), format!("sha256:{hex}"));
        assert!(parse_seed("zz").is_err());
    }
}
