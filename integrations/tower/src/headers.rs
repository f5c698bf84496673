//! Rejection responses and `RateLimit-*` / `Retry-After` headers.

use core::time::Duration;
use std::hash::Hash;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use weir::limiter::RateStatus;
use weir::{Clock, LimiterError};

use crate::{GuardBody, GuardLimiter};

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// What the `RateLimit-*` headers of one response say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Figures {
    /// A rate quota is set: the core's exact figures for the key's tightest
    /// quota ([`weir::Limiter::rate_status`]), as the JS guard sends them.
    Rate(RateStatus),
    /// No rate quota: the in-flight cap that binds the key (per client, else
    /// global) and how much of it is left — an approximation.
    InFlight {
        /// The cap.
        limit: usize,
        /// What is left of it.
        remaining: usize,
    },
}

/// The figures for `key` now, or `None` with neither quotas nor caps.
pub(crate) fn figures<K: Hash + Eq + Clone>(limiter: &GuardLimiter<K>, key: &K) -> Option<Figures> {
    if let Some(status) = limiter.rate_status(key) {
        return Some(Figures::Rate(status));
    }
    let (limit, in_flight) = match limiter.limits() {
        (_, Some(per_key)) => (per_key, limiter.in_flight_of(key)),
        (Some(global), None) => (global, limiter.stats().in_flight),
        (None, None) => return None,
    };
    Some(Figures::InFlight {
        limit,
        remaining: limit.saturating_sub(in_flight),
    })
}

/// `RateLimit-Limit` / `-Remaining` / `-Reset` / `-Policy` of a quota, the
/// reset rounded up to whole seconds, the policy's window only when whole.
fn rate_headers(headers: &mut HeaderMap, s: &RateStatus) {
    let limit = s.quota.limit();
    headers.insert(RATELIMIT_LIMIT, HeaderValue::from(limit));
    headers.insert(RATELIMIT_REMAINING, HeaderValue::from(s.remaining));
    let reset = s.reset_after;
    let reset_secs = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
    headers.insert(RATELIMIT_RESET, HeaderValue::from(reset_secs));
    let window = s.quota.interval();
    if window.subsec_nanos() == 0 {
        let policy = format!("{limit};w={}", window.as_secs());
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(RATELIMIT_POLICY, value);
        }
    }
}

/// The `RateLimit-*` headers of an admitted request.
pub(crate) fn admitted(headers: &mut HeaderMap, figures: Option<Figures>) {
    match figures {
        Some(Figures::Rate(status)) => rate_headers(headers, &status),
        Some(Figures::InFlight { limit, remaining }) => {
            headers.insert(RATELIMIT_LIMIT, HeaderValue::from(limit));
            headers.insert(RATELIMIT_REMAINING, HeaderValue::from(remaining));
        }
        None => {}
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
    match figures(limiter, key) {
        Some(Figures::Rate(status)) => rate_headers(headers, &status),
        approx => {
            if let Some(Figures::InFlight { limit, .. }) = approx {
                headers.insert(RATELIMIT_LIMIT, HeaderValue::from(limit));
            }
            headers.insert(RATELIMIT_REMAINING, HeaderValue::from(0u32));
            headers.insert(RATELIMIT_RESET, HeaderValue::from(secs));
        }
    }
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
