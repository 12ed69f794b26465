//! Verifying and issuing JSON Web Tokens. The accepted algorithms are an allow-list from
//! configuration: a token's header chooses among them, never beyond them. `iss`, `aud`,
//! `exp` (required), `nbf`, `sub`, `org` and `jti` are all checked.

use std::{
    collections::HashSet,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    str::FromStr as _,
};

use anyhow::{Context as _, bail};
use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
    errors::ErrorKind, jwk::JwkSet,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::{config::Config, values::Role};

/// The claims of a partner token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was issued to (a person or a partner system).
    pub sub: String,
    /// The organisation's slug.
    pub org: String,
    /// Roles beside reading: SUBMITTER, APPROVER, ADMIN.
    #[serde(default)]
    pub roles: Vec<String>,
    pub iss: String,
    /// One audience or several; checked by the validation, kept for completeness.
    pub aud: serde_json::Value,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
    /// The token's id: what `london-vision token revoke` names.
    pub jti: String,
}

/// Why a token was refused, in words fit for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub String);

/// How long a clock may be off, in seconds, when checking `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

struct PublicKey {
    family: AlgorithmFamily,
    kid: Option<String>,
    key: DecodingKey,
}

/// The keys and rules tokens are checked against.
pub struct TokenService {
    secret: SecretString,
    /// The identity provider's keys, and the file they came from with its modification time:
    /// the file is read again when it changes (an identity provider rotating its keys).
    public_keys: std::sync::RwLock<std::sync::Arc<Vec<PublicKey>>>,
    keys_file: Option<(PathBuf, std::sync::Mutex<Option<std::time::SystemTime>>)>,
    allowed: Vec<Algorithm>,
    issuer: String,
    audience: String,
}

impl TokenService {
    /// Reads the keys the configuration names. Without `JWT_SECRET`, the HS256 key is read
    /// from `DATA_DIR/jwt-secret`, which is created on first use.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let secret = match &config.jwt_secret {
            Some(s) => long_enough(s.expose_secret().to_owned(), "JWT_SECRET")?,
            None => load_or_create_secret(&config.data_dir.join("jwt-secret"))?,
        };
        let public_keys = match &config.jwt_public_keys {
            Some(path) => read_public_keys(path)?,
            None => Vec::new(),
        };
        let keys_file = config.jwt_public_keys.as_ref().map(|p| (p.clone(), std::sync::Mutex::new(modified(p))));
        let mut allowed = Vec::new();
        for name in config.jwt_algorithms.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            let alg =
                Algorithm::from_str(name).map_err(|_| anyhow::anyhow!("JWT_ALGORITHMS: unknown algorithm '{name}'"))?;
            allowed.push(alg);
        }
        if allowed.is_empty() {
            bail!("JWT_ALGORITHMS names no algorithm");
        }
        Ok(Self {
            secret,
            public_keys: std::sync::RwLock::new(std::sync::Arc::new(public_keys)),
            keys_file,
            allowed,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        })
    }

    /// Checks a token's signature and claims, and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError("the token is malformed".into()))?;
        let alg = header.alg;
        if !self.allowed.contains(&alg) {
            return Err(TokenError(format!("tokens signed with {alg:?} are not accepted")));
        }
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

        let family = family_of(alg);
        let hmac;
        let public_keys = self.public_keys.read().map(|k| k.clone()).unwrap_or_default();
        let candidates: Vec<&DecodingKey> = if family == AlgorithmFamily::Hmac {
            hmac = DecodingKey::from_secret(self.secret.expose_secret().as_bytes());
            vec![&hmac]
        } else {
            public_keys
                .iter()
                .filter(|k| k.family == family)
                .filter(|k| match (&header.kid, &k.kid) {
                    (Some(wanted), Some(have)) => wanted == have,
                    _ => true,
                })
                .map(|k| &k.key)
                .collect()
        };
        let mut last = TokenError("no key is configured for this token".into());
        for key in candidates {
            match decode::<Claims>(token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => {
                    last = describe(e.kind());
                    // Only a bad signature is worth trying the next key for.
                    if !matches!(e.kind(), ErrorKind::InvalidSignature) {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    /// Signs a token with the HS256 key, for a partner script. Refused when the server would
    /// not accept it: HS256 must be among the accepted algorithms.
    pub fn issue(
        &self,
        org: &str,
        subject: &str,
        roles: &[Role],
        ttl_seconds: i64,
    ) -> anyhow::Result<(String, Claims)> {
        if !self.allowed.contains(&Algorithm::HS256) {
            let accepted: Vec<String> = self.allowed.iter().map(|a| format!("{a:?}")).collect();
            bail!(
                "this server signs tokens with HS256, which JWT_ALGORITHMS does not accept (it accepts {}): \
                 tokens come from the identity provider whose keys are in JWT_PUBLIC_KEYS, or add HS256",
                accepted.join(", ")
            );
        }
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            org: org.to_owned(),
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            iss: self.issuer.clone(),
            aud: serde_json::Value::String(self.audience.clone()),
            exp: now + ttl_seconds,
            nbf: None,
            iat: Some(now),
            jti: random_hex(16)?,
        };
        let key = EncodingKey::from_secret(self.secret.expose_secret().as_bytes());
        let token = encode(&Header::new(Algorithm::HS256), &claims, &key)?;
        Ok((token, claims))
    }
}

fn family_of(alg: Algorithm) -> AlgorithmFamily {
    [AlgorithmFamily::Hmac, AlgorithmFamily::Rsa, AlgorithmFamily::Ec, AlgorithmFamily::Ed]
        .into_iter()
        .find(|f| f.algorithms().contains(&alg))
        .unwrap_or(AlgorithmFamily::Hmac)
}

fn describe(kind: &ErrorKind) -> TokenError {
    TokenError(match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::InvalidSignature => "the token's signature is not valid".into(),
        ErrorKind::InvalidAudience => "the token is for another audience".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not trusted".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its key".into(),
        _ => "the token is malformed".into(),
    })
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The shortest HS256 key accepted, in bytes, from any source (RFC 7518 section 3.2: a key
/// at least as long as the hash output, 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// Refuses a key shorter than [`MIN_SECRET_BYTES`], naming where it came from.
fn long_enough(secret: String, source: &str) -> anyhow::Result<SecretString> {
    if secret.len() < MIN_SECRET_BYTES {
        bail!(
            "{source} holds a signing key of {} bytes; at least {MIN_SECRET_BYTES} are needed. \
             Remove it to have a new one generated, or set JWT_SECRET",
            secret.len()
        );
    }
    Ok(SecretString::from(secret))
}

/// Reads the HS256 key kept in `path`, or makes one there, readable by its owner only. A new
/// key is written whole or not at all: to a temporary file of its own (mode 0600), flushed
/// to disk, then renamed into place, so that a crash never leaves an empty or partial key.
/// An existing key shorter than 32 bytes stops start-up rather than sign with it.
fn load_or_create_secret(path: &Path) -> anyhow::Result<SecretString> {
    let source = format!("the key file {}", path.display());
    match fs::read_to_string(path) {
        Ok(text) => return long_enough(text.trim().to_owned(), &source),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let secret = random_hex(32)?;
    let temp = dir.join(format!(".jwt-secret.{}.{}", std::process::id(), random_hex(8)?));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| -> std::io::Result<()> {
        let mut file = options.open(&temp)?;
        file.write_all(secret.as_bytes())?;
        file.sync_all()?;
        // Another process may have made the key meanwhile: keep theirs (hard_link refuses
        // to replace an existing file, where rename would not).
        match fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    })();
    let _ = fs::remove_file(&temp);
    written.with_context(|| format!("writing {}", path.display()))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    long_enough(fs::read_to_string(path)?.trim().to_owned(), &source)
}

/// Public keys from a JWKS file (JSON) or a PEM file of one or more public keys.
/// A file's modification time, if it can be read.
fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl TokenService {
    /// Reads `JWT_PUBLIC_KEYS` again if the file changed since it was last read; a file that
    /// no longer parses leaves the keys as they were (and says so in the log). True when the
    /// keys changed.
    pub fn refresh_public_keys(&self) -> bool {
        let Some((path, seen)) = &self.keys_file else { return false };
        let now = modified(path);
        let mut seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if now == *seen {
            return false;
        }
        match read_public_keys(path) {
            Ok(keys) => {
                *seen = now;
                if let Ok(mut current) = self.public_keys.write() {
                    *current = std::sync::Arc::new(keys);
                }
                tracing::info!(file = %path.display(), "read the identity provider's keys again");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWT_PUBLIC_KEYS changed but cannot be read: keeping the keys in use");
                false
            }
        }
    }
}

fn read_public_keys(path: &PathBuf) -> anyhow::Result<Vec<PublicKey>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading JWT_PUBLIC_KEYS {}", path.display()))?;
    let mut keys = Vec::new();
    if text.trim_start().starts_with('{') {
        let set: JwkSet = serde_json::from_str(&text).context("JWT_PUBLIC_KEYS is not a JWKS document")?;
        for jwk in &set.keys {
            let key = DecodingKey::from_jwk(jwk).context("JWT_PUBLIC_KEYS: a key cannot be used")?;
            keys.push(PublicKey { family: key.family(), kid: jwk.common.key_id.clone(), key });
        }
    } else {
        let end = "-----END PUBLIC KEY-----";
        for block in text.split_inclusive(end).filter(|b| b.contains("-----BEGIN")) {
            let pem = block.trim().as_bytes();
            let key = DecodingKey::from_rsa_pem(pem)
                .or_else(|_| DecodingKey::from_ec_pem(pem))
                .or_else(|_| DecodingKey::from_ed_pem(pem))
                .context("JWT_PUBLIC_KEYS: a PEM block is not an RSA, EC or Ed25519 public key")?;
            keys.push(PublicKey { family: key.family(), kid: None, key });
        }
    }
    if keys.is_empty() {
        bail!("JWT_PUBLIC_KEYS {} holds no key", path.display());
    }
    Ok(keys)
}

/// Reads a lifetime such as `90d`, `12h`, `30m` or `3600s`, in seconds.
pub fn parse_ttl(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().map_err(|_| format!("'{text}' is not a lifetime: use e.g. 90d, 12h, 30m"))?;
    let per = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" | "" => 1,
        _ => return Err(format!("'{text}' is not a lifetime: use d, h, m or s")),
    };
    match n.checked_mul(per) {
        Some(s) if s > 0 && s <= 400 * 86_400 => Ok(s),
        _ => Err(format!("'{text}' is not a lifetime between 1 second and 400 days")),
    }
}

/// The roles a token names, or why one is not a role.
pub fn parse_roles(names: &[String]) -> Result<Vec<Role>, TokenError> {
    let mut seen = HashSet::new();
    names
        .iter()
        .filter(|n| seen.insert(n.as_str()))
        .map(|n| Role::parse(n).map_err(|_| TokenError(format!("the token names an unknown role '{n}'"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn lifetimes_read_in_days_hours_minutes_and_seconds() {
        assert_eq!(parse_ttl("90d"), Ok(90 * 86_400));
        assert_eq!(parse_ttl("12h"), Ok(12 * 3_600));
        assert_eq!(parse_ttl("30m"), Ok(1_800));
        assert_eq!(parse_ttl("45"), Ok(45));
        for bad in ["", "d", "0d", "-1d", "10y", "999d", "1.5h"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
