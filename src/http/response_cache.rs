//! Answers to anonymous queries, kept while the published data they were built from is
//! unchanged.
//!
//! Published figures change a few times a day (a return approved, a measure edited) and are
//! read all day long, mostly by the same few queries. An anonymous caller sees only published
//! data, so its answer depends on nothing but the query and the database: it is kept, keyed
//! by the query text, operation, variables and the database's *data generation*, a counter
//! that grows in the same transaction as any change an anonymous reader could see (see the
//! migration `m20261201_000001_data_generation`). Every request reads the counter (one
//! indexed row), so a kept answer is served only while it is still the answer the database
//! would give, on every replica, and the first request after a change builds it anew.
//!
//! The cache is bounded in bytes, least recently used first out; answers with errors, and
//! answers to callers with a token, are never kept.

use std::{collections::HashMap, sync::Mutex};

use axum::{body::Bytes, http::HeaderValue};
use lru::LruCache;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sha2::{Digest, Sha256};

/// A kept answer: its body and its strong entity tag.
#[derive(Clone)]
pub struct Cached {
    pub body: Bytes,
    pub etag: HeaderValue,
    /// The query's cost, spent from the caller's allowance each time the answer is served.
    pub cost: u64,
}

/// What identifies an answer: a digest of the generation, query, operation and variables.
pub type Key = [u8; 32];

pub struct ResponseCache {
    budget: usize,
    inner: Mutex<Inner>,
    /// Answers being built now, by key: a request that finds its answer being built waits
    /// for it rather than building it again (after a change, every dashboard asks at once).
    building: Mutex<HashMap<Key, tokio::sync::watch::Receiver<bool>>>,
}

/// What a request that missed the cache does.
pub enum Miss {
    /// Build the answer; dropping the guard (after `put`, or on failure) releases the waiters.
    Build(Builder),
    /// Another request built it meanwhile (or gave up): look again.
    Retry,
}

/// The one request building an answer.
pub struct Builder {
    key: Key,
    cache: std::sync::Arc<ResponseCache>,
    done: tokio::sync::watch::Sender<bool>,
}

impl Drop for Builder {
    fn drop(&mut self) {
        self.cache.building.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.key);
        let _ = self.done.send(true);
    }
}

struct Inner {
    entries: LruCache<Key, Cached>,
    bytes: usize,
    /// The newest generation seen: entries of older ones can never be served again.
    generation: i64,
}

impl ResponseCache {
    /// A cache of at most `budget` bytes of answers (0 keeps nothing).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(Inner { entries: LruCache::unbounded(), bytes: 0, generation: i64::MIN }),
            building: Mutex::default(),
        }
    }

    /// After a miss: become the request that builds the answer for `key`, or wait (at most
    /// `patience`) for the one that is building it and look again.
    pub async fn build_or_wait(self: &std::sync::Arc<Self>, key: Key, patience: std::time::Duration) -> Miss {
        let mut waiting = {
            let mut building = self.building.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match building.get(&key) {
                Some(rx) => rx.clone(),
                None => {
                    let (done, rx) = tokio::sync::watch::channel(false);
                    building.insert(key, rx);
                    return Miss::Build(Builder { key, cache: self.clone(), done });
                }
            }
        };
        let _ = tokio::time::timeout(patience, waiting.wait_for(|done| *done)).await;
        Miss::Retry
    }

    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The largest single answer kept: one answer never takes more than an eighth of the budget.
    fn largest(&self) -> usize {
        self.budget / 8
    }

    /// The key of a query's answer at `generation` for `audience`: empty for anonymous
    /// callers, else what a signed-in caller's answer may depend on (see `http::graphql`).
    pub fn key(
        generation: i64,
        audience: &str,
        query: &str,
        operation: Option<&str>,
        variables: &serde_json::Value,
    ) -> Key {
        let mut h = Sha256::new();
        h.update(generation.to_be_bytes());
        for part in [audience, query, operation.unwrap_or("")] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        // serde_json's maps are ordered by key: the same variables give the same text.
        h.update(variables.to_string().as_bytes());
        h.finalize().into()
    }

    pub fn get(&self, generation: i64, key: &Key) -> Option<Cached> {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.advance(generation);
        inner.entries.get(key).cloned()
    }

    /// Keeps `body` as the answer for `key`, built at `generation`.
    pub fn put(&self, generation: i64, key: Key, body: Bytes, cost: u64) -> Option<Cached> {
        if !self.enabled() || body.len() > self.largest() {
            return None;
        }
        let cached = Cached { etag: etag(&body), body, cost };
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.advance(generation);
        if generation < inner.generation {
            // Built from data that has already changed: serve it to this caller only.
            return Some(cached);
        }
        inner.bytes += cached.body.len();
        if let Some((_, old)) = inner.entries.push(key, cached.clone()) {
            inner.bytes -= old.body.len();
        }
        while inner.bytes > self.budget {
            match inner.entries.pop_lru() {
                Some((_, old)) => inner.bytes -= old.body.len(),
                None => break,
            }
        }
        Some(cached)
    }
}

impl Inner {
    fn advance(&mut self, generation: i64) {
        if generation > self.generation {
            self.generation = generation;
            self.entries.clear();
            self.bytes = 0;
        }
    }
}

/// A strong entity tag for a body: the first 128 bits of its SHA-256, in hex.
pub fn etag(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Whether an `If-None-Match` header names `etag` (or is `*`).
pub fn matches(if_none_match: &str, etag: &HeaderValue) -> bool {
    let Ok(tag) = etag.to_str() else { return false };
    if_none_match.split(',').map(str::trim).any(|t| t == "*" || t == tag || t.strip_prefix("W/") == Some(tag))
}

/// The database's data generation now.
pub async fn generation(db: &DatabaseConnection) -> Result<i64, sea_orm::DbErr> {
    Ok(crate::db::versions(db).await?.data)
}

/// Bumps the data generation, for writers that change values around their returns (a
/// rebuild of the current values).
pub async fn bump<C: ConnectionTrait>(db: &C) -> Result<(), sea_orm::DbErr> {
    db.execute_unprepared("UPDATE data_generation SET generation = generation + 1 WHERE id = 1").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_generation_audience_query_operation_and_variables() {
        let v = serde_json::json!({"a": 1});
        let k = ResponseCache::key(1, "", "{ a }", None, &v);
        assert_eq!(k, ResponseCache::key(1, "", "{ a }", None, &serde_json::json!({"a": 1})));
        assert_ne!(k, ResponseCache::key(2, "", "{ a }", None, &v));
        assert_ne!(k, ResponseCache::key(1, "", "{ b }", None, &v));
        assert_ne!(k, ResponseCache::key(1, "", "{ a }", Some("A"), &v));
        assert_ne!(k, ResponseCache::key(1, "", "{ a }", None, &serde_json::json!({"a": 2})));
        assert_ne!(k, ResponseCache::key(1, "7|SUBMITTER|3", "{ a }", None, &v), "a borough's answer is its own");
        assert_ne!(
            ResponseCache::key(1, "7|SUBMITTER|3", "{ a }", None, &v),
            ResponseCache::key(1, "8|SUBMITTER|3", "{ a }", None, &v)
        );
        // The parts are length-prefixed: moving text between them changes the key.
        assert_ne!(ResponseCache::key(1, "", "ab", Some("c"), &v), ResponseCache::key(1, "", "a", Some("bc"), &v));
    }

    #[test]
    fn a_newer_generation_empties_the_cache_and_the_budget_holds() {
        let cache = ResponseCache::new(800);
        let k = |n: u8| [n; 32];
        assert!(cache.put(1, k(1), Bytes::from(vec![b'x'; 100]), 1).is_some());
        assert!(cache.get(1, &k(1)).is_some());
        // An answer over an eighth of the budget is served but not kept.
        cache.put(1, k(2), Bytes::from(vec![b'x'; 101]), 1);
        assert!(cache.get(1, &k(2)).is_none());
        for n in 3..=12 {
            cache.put(1, k(n), Bytes::from(vec![b'x'; 100]), 1);
        }
        assert!(cache.get(1, &k(1)).is_none(), "the least recently used answer left first");
        assert!(cache.get(1, &k(12)).is_some());
        assert!(cache.get(2, &k(12)).is_none(), "a new generation serves nothing older");
        // An answer built before the newest generation is not kept.
        cache.put(1, k(13), Bytes::from_static(b"old"), 1);
        assert!(cache.get(2, &k(13)).is_none());
    }

    #[tokio::test]
    async fn one_request_builds_an_answer_while_the_others_wait_for_it() {
        let cache = std::sync::Arc::new(ResponseCache::new(1 << 20));
        let key = [1; 32];
        let Miss::Build(builder) = cache.build_or_wait(key, std::time::Duration::from_secs(5)).await else {
            panic!("the first miss builds");
        };
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let miss = cache.build_or_wait(key, std::time::Duration::from_secs(5)).await;
                (matches!(miss, Miss::Retry), cache.get(1, &key).is_some(), started.elapsed())
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        cache.put(1, key, Bytes::from_static(b"{}"), 1);
        drop(builder);
        let (retried, found, waited) = waiter.await.expect("joins");
        assert!(retried && found, "the waiter finds the built answer");
        assert!(waited >= std::time::Duration::from_millis(40), "it waited for it");
        // Released: the next miss builds again.
        assert!(matches!(cache.build_or_wait([2; 32], std::time::Duration::from_secs(1)).await, Miss::Build(_)));
    }

    #[test]
    fn entity_tags_are_strong_and_match_lists() {
        let tag = etag(b"{}");
        assert!(tag.to_str().is_ok_and(|t| t.starts_with('"') && t.len() == 34));
        let t = tag.to_str().unwrap_or_default().to_owned();
        assert!(matches(&t, &tag));
        assert!(matches(&format!("\"x\", {t}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("\"other\"", &tag));
        assert_ne!(etag(b"{}"), etag(b"{ }"));
    }
}
