//! When and how long to wait before trying again.

use core::time::Duration;
use std::time::SystemTime;

use http::{HeaderMap, Method, StatusCode};

use crate::sync_rng::Rng;

/// Which requests are retried, how often, and how long to wait.
///
/// `Default`: up to 3 retries of `GET HEAD OPTIONS PUT DELETE` on 429 and 503
/// and on network errors, backoff from 100 ms doubling up to `max_delay` =
/// 30 s (full jitter), within a [`RetryBudget::default`]. A request whose
/// body cannot be cloned (a stream) is never retried.
///
/// ```
/// use std::time::Duration;
/// use weir_reqwest::RetryPolicy;
/// let policy = RetryPolicy {
///     max_retries: 5,
///     max_delay: Duration::from_secs(10),
///     ..RetryPolicy::default()
/// };
/// assert!(policy.statuses.contains(&http::StatusCode::TOO_MANY_REQUESTS));
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub max_retries: u32,
    /// Methods that may be retried (idempotent ones by default).
    pub methods: Vec<Method>,
    /// Response statuses that are retried; a `Retry-After` on one of them
    /// also pauses the host, whatever the method.
    pub statuses: Vec<StatusCode>,
    /// Whether network errors (connect, timeout, reset) are retried (for
    /// retryable methods only).
    pub network_errors: bool,
    /// First backoff ceiling; it doubles per attempt, capped by `max_delay`.
    pub base_delay: Duration,
    /// Cap on any wait: backoff ceiling and honoured `Retry-After` alike.
    pub max_delay: Duration,
    /// Bound on retries relative to requests, per host.
    pub budget: RetryBudget,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            methods: vec![
                Method::GET,
                Method::HEAD,
                Method::OPTIONS,
                Method::PUT,
                Method::DELETE,
            ],
            statuses: vec![
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::SERVICE_UNAVAILABLE,
            ],
            network_errors: true,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            budget: RetryBudget::default(),
        }
    }
}

impl RetryPolicy {
    /// Never retry (a `Retry-After` on 429 / 503 still pauses the host).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The backoff before retry number `attempt` (0-based): uniform in
    /// `[0, min(max_delay, base_delay · 2^attempt)]` ("full jitter").
    pub(crate) fn backoff(&self, attempt: u32, rng: &Rng) -> Duration {
        let ceiling = self
            .base_delay
            .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.below_inclusive(nanos))
    }

    pub(crate) fn validate(&self) -> Result<(), weir::ConfigError> {
        let budget = &self.budget;
        if !(budget.ratio.is_finite() && budget.ratio >= 0.0) {
            return Err(weir::ConfigError {
                field: "retry.budget.ratio",
                problem: "must be a finite number ≥ 0",
            });
        }
        if budget.window.is_zero() {
            return Err(weir::ConfigError {
                field: "retry.budget.window",
                problem: "must be > 0",
            });
        }
        Ok(())
    }
}

/// A per-host bound on retries: within the current and previous `window`,
/// retries ≤ `min_retries + ratio × requests` (requests counted once, not
/// per attempt). With the default (10 %, 3, 10 s) a host that fails
/// everything gets at most ~1.1× the requests plus 3, not 4×.
///
/// ```
/// let budget = weir_reqwest::RetryBudget::default();
/// assert_eq!((budget.ratio, budget.min_retries), (0.1, 3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudget {
    /// Retries allowed per request in the window (0.1: one per ten).
    pub ratio: f64,
    /// Retries allowed in a window regardless of traffic.
    pub min_retries: u32,
    /// The accounting window.
    pub window: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            ratio: 0.1,
            min_retries: 3,
            window: Duration::from_secs(10),
        }
    }
}

/// The wait a `Retry-After` header asks for, read at wall-clock `now`:
/// delta-seconds (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`;
/// a date in the past means no wait). `None` when absent or malformed.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::{HeaderMap, HeaderValue};
/// use weir_reqwest::parse_retry_after;
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
/// let mut h = HeaderMap::new();
/// h.insert("retry-after", HeaderValue::from_static("120"));
/// assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(120)));
/// h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
/// assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(10)));
/// ```
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_the_doubling_ceiling_and_max_delay() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        let rng = Rng::new(7);
        for _ in 0..200 {
            assert!(policy.backoff(0, &rng) <= Duration::from_millis(100));
            assert!(policy.backoff(1, &rng) <= Duration::from_millis(200));
            assert!(policy.backoff(40, &rng) <= Duration::from_millis(350));
        }
        // Full jitter actually spreads: not all draws are equal.
        let draws: Vec<_> = (0..20).map(|_| policy.backoff(3, &rng)).collect();
        assert!(draws.iter().any(|d| *d != draws[0]));
    }

    #[test]
    fn retry_after_rejects_garbage_and_clamps_past_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_490);
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("retry-after", "-5".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
    }

    #[test]
    fn bad_budget_is_refused() {
        let mut p = RetryPolicy::default();
        p.budget.ratio = f64::NAN;
        assert_eq!(p.validate().unwrap_err().field, "retry.budget.ratio");
        p.budget.ratio = 0.1;
        p.budget.window = Duration::ZERO;
        assert_eq!(p.validate().unwrap_err().field, "retry.budget.window");
    }
}
