//! Automatic persisted queries, as Apollo's protocol has them: a client sends the SHA-256 of
//! its query in `extensions.persistedQuery`; the first time, the server answers
//! `PersistedQueryNotFound` and the client sends the hash with the full text, which is kept;
//! from then on the hash alone runs it (by `GET`, so that the request can be cached).
//!
//! The texts are kept in a bounded least-recently-used store: a forgotten text costs the
//! client one more round trip, never a wrong answer, since a text is kept only under its own
//! hash.

use std::{num::NonZeroUsize, sync::Mutex};

use lru::LruCache;
use sha2::{Digest, Sha256};

/// How many query texts are kept.
pub const KEPT: usize = 2_000;
/// The longest query text kept.
pub const LONGEST: usize = 64 * 1024;

/// What the client's `extensions.persistedQuery` asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Run this text.
    Run(String),
    /// The hash is not known: the client should send the text with it.
    NotFound,
    /// The request is malformed; the message says how.
    Invalid(String),
}

pub struct PersistedQueries {
    texts: Mutex<LruCache<String, String>>,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        let size = NonZeroUsize::new(KEPT).unwrap_or(NonZeroUsize::MIN);
        Self { texts: Mutex::new(LruCache::new(size)) }
    }
}

/// The lower-case hex SHA-256 of a query text.
pub fn hash(query: &str) -> String {
    Sha256::digest(query.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl PersistedQueries {
    /// Resolves a request's query from its text and `extensions.persistedQuery` (if any).
    /// `None` as the outcome's text means the request carries neither.
    pub fn resolve(&self, query: Option<String>, persisted: Option<&serde_json::Value>) -> Option<Outcome> {
        let Some(persisted) = persisted.filter(|p| !p.is_null()) else { return query.map(Outcome::Run) };
        let version = persisted.get("version").and_then(serde_json::Value::as_i64);
        if version != Some(1) {
            return Some(Outcome::Invalid("`extensions.persistedQuery.version` must be 1".into()));
        }
        let Some(wanted) = persisted.get("sha256Hash").and_then(serde_json::Value::as_str) else {
            return Some(Outcome::Invalid("`extensions.persistedQuery.sha256Hash` must be a string".into()));
        };
        let wanted = wanted.to_ascii_lowercase();
        if wanted.len() != 64 || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(Outcome::Invalid("`extensions.persistedQuery.sha256Hash` must be 64 hex digits".into()));
        }
        let mut texts = self.texts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match query {
            Some(text) => {
                if hash(&text) != wanted {
                    return Some(Outcome::Invalid(
                        "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the query".into(),
                    ));
                }
                if text.len() <= LONGEST {
                    texts.put(wanted, text.clone());
                }
                Some(Outcome::Run(text))
            }
            None => Some(texts.get(&wanted).cloned().map_or(Outcome::NotFound, Outcome::Run)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_hash_runs_only_after_its_text_was_sent_with_it() {
        let store = PersistedQueries::default();
        let text = "{ priorities { slug } }".to_owned();
        let h = hash(&text);
        let ext = json!({"version": 1, "sha256Hash": h});
        assert_eq!(store.resolve(None, Some(&ext)), Some(Outcome::NotFound));
        assert_eq!(store.resolve(Some(text.clone()), Some(&ext)), Some(Outcome::Run(text.clone())));
        assert_eq!(store.resolve(None, Some(&ext)), Some(Outcome::Run(text.clone())));
        // Upper-case hex names the same hash.
        let upper = json!({"version": 1, "sha256Hash": h.to_ascii_uppercase()});
        assert_eq!(store.resolve(None, Some(&upper)), Some(Outcome::Run(text)));
    }

    #[test]
    fn a_text_is_never_kept_under_another_hash() {
        let store = PersistedQueries::default();
        let other = hash("{ other }");
        let ext = json!({"version": 1, "sha256Hash": other});
        assert!(matches!(store.resolve(Some("{ mine }".into()), Some(&ext)), Some(Outcome::Invalid(_))));
        assert_eq!(store.resolve(None, Some(&ext)), Some(Outcome::NotFound));
    }

    #[test]
    fn malformed_extensions_are_refused_and_plain_requests_pass() {
        let store = PersistedQueries::default();
        for bad in [
            json!({"version": 2, "sha256Hash": hash("x")}),
            json!({"version": 1}),
            json!({"version": 1, "sha256Hash": "zz"}),
        ] {
            assert!(matches!(store.resolve(None, Some(&bad)), Some(Outcome::Invalid(_))), "{bad}");
        }
        assert_eq!(store.resolve(Some("{ a }".into()), None), Some(Outcome::Run("{ a }".into())));
        assert_eq!(
            store.resolve(Some("{ a }".into()), Some(&serde_json::Value::Null)),
            Some(Outcome::Run("{ a }".into()))
        );
        assert_eq!(store.resolve(None, None), None);
        // The hash of the empty string, as every SHA-256 implementation gives it.
        assert_eq!(hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
