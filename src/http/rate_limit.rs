//! Rate limits in query cost, per caller: each signed-in principal (organisation and subject)
//! and each anonymous client address has an allowance of points per hour, and each request
//! spends its query cost (as `extensions.cost` reports it; at least one point). The
//! allowance refills continuously (GCRA, by the `governor` crate): a caller who has spent
//! half of it has half back after half an hour. A request that would overspend is refused
//! with `RATE_LIMITED`, status 429, and `Retry-After`; every answer says where the caller
//! stands in `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (when the
//! allowance will be full again, in seconds since the epoch), as GitHub's API does.
//!
//! Each server process counts on its own: behind a load balancer with N replicas, a caller
//! may spend up to N allowances an hour (sticky sessions, or limits divided by N, keep the
//! total). Limits are set by `RATE_LIMIT_POINTS_PER_HOUR` and
//! `RATE_LIMIT_ANONYMOUS_POINTS_PER_HOUR`; 0 turns one off.

use std::{
    num::NonZeroU32,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

type Limiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// A token's principal: its organisation and subject.
    Principal(String),
    /// An anonymous client, by its address.
    Anonymous(String),
}

/// Where a caller stands after a request was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the allowance is full again.
    pub full_in: u64,
}

/// A request refused: what the caller must wait before its cost fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub standing: Standing,
    pub retry_after: u64,
}

pub struct RateLimits {
    signed: Option<(Limiter, u32)>,
    anonymous: Option<(Limiter, u32)>,
}

fn limiter(per_hour: u32) -> Option<(Limiter, u32)> {
    let n = NonZeroU32::new(per_hour)?;
    Some((RateLimiter::keyed(Quota::per_hour(n)).with_middleware::<StateInformationMiddleware>(), per_hour))
}

impl RateLimits {
    /// Allowances in points per hour for signed-in and anonymous callers (0: unlimited).
    pub fn new(signed_per_hour: u32, anonymous_per_hour: u32) -> Self {
        Self { signed: limiter(signed_per_hour), anonymous: limiter(anonymous_per_hour) }
    }

    /// Spends `cost` points of the caller's allowance; `None` when the caller has no limit.
    pub fn spend(&self, caller: &Caller, cost: u64) -> Option<Result<Standing, Refusal>> {
        let ((limiter, limit), key) = match caller {
            Caller::Principal(k) => (self.signed.as_ref()?, k),
            Caller::Anonymous(k) => (self.anonymous.as_ref()?, k),
        };
        let limit = *limit;
        let per_point = Duration::from_secs(3600) / limit;
        let full_in = |remaining: u32| (per_point * (limit - remaining.min(limit))).as_secs();
        // A cost beyond the whole allowance can never fit: it spends all of it.
        let points = u32::try_from(cost).unwrap_or(u32::MAX).clamp(1, limit);
        let n = NonZeroU32::new(points).unwrap_or(NonZeroU32::MIN);
        match limiter.check_key_n(key, n) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Some(Ok(Standing { limit, remaining, full_in: full_in(remaining) }))
            }
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                // The points that have come back so far: the wait is for the rest of the cost.
                let back = u32::try_from(wait.as_nanos() / per_point.as_nanos().max(1)).unwrap_or(u32::MAX);
                let remaining = points.saturating_sub(back.saturating_add(1));
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Some(Err(Refusal {
                    standing: Standing { limit, remaining, full_in: full_in(remaining) },
                    retry_after: retry_after.max(1),
                }))
            }
            Err(_) => None,
        }
    }

    /// Forgets callers whose allowance is full again, so that the table holds only callers
    /// seen within the hour.
    pub fn forget_idle(&self) {
        for (l, _) in [&self.signed, &self.anonymous].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// One request's account: who is counted, and the outcome once its cost is known (the
/// checks extension spends it between validation and execution).
pub struct RateSlot {
    limits: std::sync::Arc<RateLimits>,
    caller: Caller,
    outcome: std::sync::Mutex<Option<Result<Standing, Refusal>>>,
}

impl RateSlot {
    pub fn new(limits: std::sync::Arc<RateLimits>, caller: Caller) -> Self {
        Self { limits, caller, outcome: std::sync::Mutex::default() }
    }

    /// Spends `cost` and keeps the outcome; false when the request is refused.
    pub fn spend(&self, cost: u64) -> bool {
        let outcome = self.limits.spend(&self.caller, cost);
        let refused = matches!(outcome, Some(Err(_)));
        *self.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = outcome;
        !refused
    }

    pub fn outcome(&self) -> Option<Result<Standing, Refusal>> {
        *self.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `X-RateLimit-*` headers of a standing.
pub fn headers(standing: &Standing, into: &mut HeaderMap) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    for (name, value) in [
        ("x-ratelimit-limit", u64::from(standing.limit)),
        ("x-ratelimit-remaining", u64::from(standing.remaining)),
        ("x-ratelimit-reset", now + standing.full_in),
    ] {
        into.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowance_is_spent_in_query_cost_and_refused_when_it_would_overspend() {
        let limits = RateLimits::new(1_000, 0);
        let me = Caller::Principal("camden/analyst".into());
        let first = limits.spend(&me, 600).expect("limited").expect("fits");
        assert_eq!((first.limit, first.remaining), (1_000, 400));
        // An hour's allowance refills at 1,000 points an hour: 600 spent are full in 36 minutes.
        assert!((2_150..=2_160).contains(&first.full_in), "{first:?}");
        let refused = limits.spend(&me, 600).expect("limited").expect_err("over the allowance");
        assert!(refused.standing.remaining <= 400);
        // 200 more points come back in 12 minutes.
        assert!((700..=725).contains(&refused.retry_after), "{refused:?}");
        // A cheaper request still fits; another caller has its own allowance.
        assert!(limits.spend(&me, 300).expect("limited").is_ok());
        let other = Caller::Principal("hackney/analyst".into());
        assert_eq!(limits.spend(&other, 600).expect("limited").expect("fits").remaining, 400);
    }

    #[test]
    fn anonymous_callers_are_counted_apart_and_a_zero_limit_is_none() {
        let limits = RateLimits::new(0, 10);
        assert!(limits.spend(&Caller::Principal("gla/x".into()), 1_000_000).is_none());
        let anon = Caller::Anonymous("192.0.2.1".into());
        for _ in 0..10 {
            assert!(limits.spend(&anon, 0).expect("limited").is_ok(), "a free request costs one point");
        }
        assert!(limits.spend(&anon, 1).expect("limited").is_err());
        assert!(limits.spend(&Caller::Anonymous("192.0.2.2".into()), 1).expect("limited").is_ok());
        // A cost beyond the allowance spends all of it, once it is full.
        let limits = RateLimits::new(0, 10);
        assert_eq!(limits.spend(&anon, 50).expect("limited").expect("fits").remaining, 0);
    }

    #[test]
    fn headers_say_where_the_caller_stands() {
        let mut h = HeaderMap::new();
        headers(&Standing { limit: 5_000, remaining: 4_990, full_in: 7 }, &mut h);
        assert_eq!(h["x-ratelimit-limit"], "5000");
        assert_eq!(h["x-ratelimit-remaining"], "4990");
        let reset: u64 = h["x-ratelimit-reset"].to_str().expect("ascii").parse().expect("number");
        assert!(reset > 1_700_000_000);
    }
}
