//! Prometheus metrics (the `prometheus` crate), served at `/metrics` in the text format:
//! GraphQL requests and their latency by operation, errors by code, query cost, database
//! pool use, rate-limit refusals, and the counters of HTTP requests and SQL statements.
//!
//! Operation names come from callers: only well-formed names label a series, and only the
//! first `OPERATIONS` distinct ones; the rest count as `other`, so that no caller can grow
//! the metrics without bound.

use std::{collections::HashSet, sync::Mutex, time::Duration};

use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

/// How many distinct operation names get a series of their own.
pub const OPERATIONS: usize = 200;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    errors: IntCounterVec,
    cost: HistogramVec,
    rate_limited: IntCounter,
    pool: IntGaugeVec,
    named: Mutex<HashSet<String>>,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("london_vision_graphql_requests_total", "GraphQL requests answered, by operation and kind."),
            &["operation", "kind"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("london_vision_graphql_request_duration_seconds", "Time to answer a GraphQL request.")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["operation", "kind"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new("london_vision_graphql_errors_total", "Errors in GraphQL answers, by extensions.code."),
            &["code"],
        )?;
        let cost = HistogramVec::new(
            HistogramOpts::new("london_vision_graphql_query_cost", "Query cost of GraphQL requests.")
                .buckets(vec![1.0, 10.0, 50.0, 100.0, 500.0, 1_000.0, 5_000.0, 10_000.0, 20_000.0]),
            &["kind"],
        )?;
        let rate_limited =
            IntCounter::new("london_vision_rate_limited_total", "Requests refused because an allowance was spent.")?;
        let pool = IntGaugeVec::new(
            Opts::new("london_vision_db_pool_connections", "Database pool connections, by state."),
            &["state"],
        )?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(errors.clone()),
            Box::new(cost.clone()),
            Box::new(rate_limited.clone()),
            Box::new(pool.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(Self { registry, requests, latency, errors, cost, rate_limited, pool, named: Mutex::default() })
    }

    /// The label an operation name is counted under.
    fn label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation.filter(|n| well_formed(n)) else { return "anonymous".into() };
        let mut named = self.named.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if named.contains(name) || (named.len() < OPERATIONS && named.insert(name.to_owned())) {
            name.to_owned()
        } else {
            "other".into()
        }
    }

    /// Records one answered GraphQL request.
    pub fn graphql(
        &self,
        operation: Option<&str>,
        mutation: bool,
        took: Duration,
        cost: Option<u64>,
        codes: &[String],
    ) {
        let label = self.label(operation);
        let kind = if mutation { "mutation" } else { "query" };
        self.requests.with_label_values(&[label.as_str(), kind]).inc();
        self.latency.with_label_values(&[label.as_str(), kind]).observe(took.as_secs_f64());
        if let Some(cost) = cost {
            self.cost.with_label_values(&[kind]).observe(cost as f64);
        }
        for code in codes {
            self.errors.with_label_values(&[code.as_str()]).inc();
        }
    }

    pub fn rate_limited(&self) {
        self.rate_limited.inc();
        self.errors.with_label_values(&[crate::error::code::RATE_LIMITED]).inc();
    }

    /// The text format, with the pool's state now and the counters kept elsewhere.
    pub fn render(&self, pool: (u32, u32), http_requests: u64, statements: u64) -> String {
        self.pool.with_label_values(&["in_use"]).set(i64::from(pool.0));
        self.pool.with_label_values(&["idle"]).set(i64::from(pool.1));
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        let mut text = String::from_utf8(out).unwrap_or_default();
        text.push_str(&format!(
            "# HELP london_vision_http_requests_total HTTP requests received.\n\
             # TYPE london_vision_http_requests_total counter\n\
             london_vision_http_requests_total {http_requests}\n\
             # HELP london_vision_sql_statements_total SQL statements run against the database.\n\
             # TYPE london_vision_sql_statements_total counter\n\
             london_vision_sql_statements_total {statements}\n"
        ));
        text
    }
}

/// A GraphQL name: a letter or underscore, then letters, digits or underscores, at most 64.
fn well_formed(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded_and_well_formed() {
        let m = Metrics::new().expect("metrics");
        assert_eq!(m.label(Some("AirQuality")), "AirQuality");
        assert_eq!(m.label(Some("bad name\n")), "anonymous");
        assert_eq!(m.label(None), "anonymous");
        for i in 0..OPERATIONS {
            m.label(Some(&format!("Op{i}")));
        }
        assert_eq!(m.label(Some("OneTooMany")), "other");
        assert_eq!(m.label(Some("AirQuality")), "AirQuality", "a name seen before keeps its series");
    }

    #[test]
    fn the_text_format_carries_every_series() {
        let m = Metrics::new().expect("metrics");
        m.graphql(Some("Q"), false, Duration::from_millis(3), Some(12), &["NOT_FOUND".into()]);
        m.rate_limited();
        let text = m.render((2, 3), 10, 20);
        for line in [
            "london_vision_graphql_requests_total{kind=\"query\",operation=\"Q\"} 1",
            "london_vision_graphql_errors_total{code=\"NOT_FOUND\"} 1",
            "london_vision_graphql_errors_total{code=\"RATE_LIMITED\"} 1",
            "london_vision_rate_limited_total 1",
            "london_vision_db_pool_connections{state=\"in_use\"} 2",
            "london_vision_db_pool_connections{state=\"idle\"} 3",
            "london_vision_graphql_query_cost_sum{kind=\"query\"} 12",
            "london_vision_http_requests_total 10",
            "london_vision_sql_statements_total 20",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(text.contains("london_vision_graphql_request_duration_seconds_bucket"));
    }
}
