//! Rejection responses and `RateLimit-*` / `Retry-After` headers.

use core::time::Duration;
use std::hash::Hash;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use weir::{Clock, LimiterError};

use crate::{GuardBody, GuardLimiter};

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The in-flight cap that binds `key`, and how much of it is left.
pub(crate) fn capacity<K: Hash + Eq + Clone>(
    limiter: &GuardLimiter<K>,
    key: &K,
) -> Option<(usize, usize)> {
    match limiter.limits() {
        (_, Some(per_key)) => Some((per_key, per_key.saturating_sub(limiter.in_flight_of(key)))),
        (Some(global), None) => Some((global, global.saturating_sub(limiter.stats().in_flight))),
        (None, None) => None,
    }
}

/// `RateLimit-Limit` / `RateLimit-Remaining` for an admitted request.
pub(crate) fn admitted(headers: &mut HeaderMap, capacity: Option<(usize, usize)>) {
    if let Some((limit, remaining)) = capacity {
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(remaining));
    }
}

/// Whole seconds, rounded up, at least 1.
fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// The immediate answer to a request the limiter turned away.
pub(crate) fn rejection<K: Hash + Eq + Clone, B>(
    limiter: &GuardLimiter<K>,
    key: &K,
    why: Option<LimiterError>,
    status: StatusCode,
    busy_retry_after: Duration,
) -> Response<GuardBody<B, K>> {
    let wait = match why {
        Some(LimiterError::RateLimited { not_until }) => not_until - limiter.timer().now(),
        _ => busy_retry_after,
    };
    let secs = ceil_secs(wait);
    let text = format!(
        "{} {}: over the limit for this client, retry after {secs} s\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Rejected"),
    );
    let mut resp = Response::new(GuardBody::rejected(Bytes::from(text)));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some((limit, _)) = capacity(limiter, key) {
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(limit));
    }
    headers.insert(RATELIMIT_REMAINING, HeaderValue::from(0u32));
    headers.insert(RATELIMIT_RESET, HeaderValue::from(secs));
    resp
}

#[cfg(test)]
mod tests {
    use super::ceil_secs;
    use core::time::Duration;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(ceil_secs(Duration::ZERO), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(1)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1001)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(10)), 10);
    }
}
