//! Rejection responses and `RateLimit-*` / `Retry-After` headers.

use core::time::Duration;
use std::hash::Hash;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use std::cell::RefCell;
use std::sync::OnceLock;

use weir::limiter::RateStatus;
use weir::{Clock, LimiterError, Quota};

use crate::{GuardBody, GuardLimiter};

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Header values of small numbers, made once (cloning one allocates nothing);
/// a larger one is remembered per thread, as consecutive responses tend to
/// repeat it (e.g. `RateLimit-Remaining` of a roomy quota).
fn number(n: u64) -> HeaderValue {
    const CACHED: u64 = 1024;
    static SMALL: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    if n < CACHED {
        let small = SMALL.get_or_init(|| (0..CACHED).map(HeaderValue::from).collect());
        return small[n as usize].clone();
    }
    thread_local! {
        static LAST: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((m, value)) if *m == n => value.clone(),
            _ => {
                let value = HeaderValue::from(n);
                *last = Some((n, value.clone()));
                value
            }
        }
    })
}

/// The `RateLimit-Limit` value and the `RateLimit-Policy` value
/// (`<limit>;w=<secs>`; none for a window that is not whole seconds) of
/// every quota of a limiter, made once.
#[derive(Debug, Default)]
pub(crate) struct Policies(Vec<(Quota, HeaderValue, Option<HeaderValue>)>);

impl Policies {
    pub(crate) fn of<K: Hash + Eq + Clone>(limiter: &GuardLimiter<K>) -> Self {
        let quotas = limiter
            .rate_quotas()
            .iter()
            .chain(limiter.per_key_rate_quotas());
        Policies(
            quotas
                .map(|q| {
                    let limit = HeaderValue::from(q.limit());
                    let policy = Some(q)
                        .filter(|q| q.interval().subsec_nanos() == 0)
                        .and_then(|q| {
                            let text = format!("{};w={}", q.limit(), q.interval().as_secs());
                            HeaderValue::from_str(&text).ok()
                        });
                    (*q, limit, policy)
                })
                .collect(),
        )
    }

    /// `(RateLimit-Limit, RateLimit-Policy)` of `quota`.
    fn get(&self, quota: &Quota) -> (HeaderValue, Option<HeaderValue>) {
        match self.0.iter().find(|(q, _, _)| q == quota) {
            Some((_, limit, policy)) => (limit.clone(), policy.clone()),
            None => (number(u64::from(quota.limit())), None),
        }
    }
}

/// What the `RateLimit-*` headers of one response say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Figures {
    /// A rate quota is set: the core's exact figures for the key's tightest
    /// quota ([`weir::Limiter::rate_status`]), as the JS guard sends them,
    /// and that quota's `RateLimit-Policy`.
    Rate {
        /// The core's figures.
        status: RateStatus,
        /// The quota's limit, as a header value.
        limit: HeaderValue,
        /// `<limit>;w=<secs>`, when the window is whole seconds.
        policy: Option<HeaderValue>,
    },
    /// No rate quota: the in-flight cap that binds the key (per client, else
    /// global) and how much of it is left — an approximation.
    InFlight {
        /// The cap.
        limit: usize,
        /// What is left of it.
        remaining: usize,
    },
}

/// The rejection texts for `Retry-After` values below this, made once per layer.
const CACHED_TEXTS: u64 = 64;

/// A rejection's body text (`<status> <reason>: … retry after <secs> s`),
/// shared for small `secs` (cloning `Bytes` allocates nothing).
#[derive(Debug, Default)]
pub(crate) struct Texts(Vec<Bytes>);

impl Texts {
    pub(crate) fn of(status: StatusCode) -> Self {
        Texts(
            (0..CACHED_TEXTS)
                .map(|secs| Bytes::from(text(status, secs)))
                .collect(),
        )
    }

    fn get(&self, status: StatusCode, secs: u64) -> Bytes {
        match self.0.get(secs as usize) {
            Some(bytes) => bytes.clone(),
            None => Bytes::from(text(status, secs)),
        }
    }
}

fn text(status: StatusCode, secs: u64) -> String {
    format!(
        "{} {}: over the limit for this client, retry after {secs} s\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Rejected"),
    )
}

/// The figures for `key` now, or `None` with neither quotas nor caps.
pub(crate) fn figures<K: Hash + Eq + Clone>(
    limiter: &GuardLimiter<K>,
    policies: &Policies,
    key: &K,
) -> Option<Figures> {
    figures_with(limiter.rate_status(key), limiter, policies, key)
}

/// The figures for `key`, given its rate figures when there are quotas
/// (from [`weir::Limiter::try_acquire_with_status`]).
pub(crate) fn figures_with<K: Hash + Eq + Clone>(
    status: Option<RateStatus>,
    limiter: &GuardLimiter<K>,
    policies: &Policies,
    key: &K,
) -> Option<Figures> {
    if let Some(status) = status {
        let (limit, policy) = policies.get(&status.quota);
        return Some(Figures::Rate {
            status,
            limit,
            policy,
        });
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
/// reset rounded up to whole seconds.
fn rate_headers(
    headers: &mut HeaderMap,
    s: &RateStatus,
    limit: HeaderValue,
    policy: Option<HeaderValue>,
) {
    headers.reserve(4);
    headers.insert(RATELIMIT_LIMIT, limit);
    headers.insert(RATELIMIT_REMAINING, number(u64::from(s.remaining)));
    let reset = s.reset_after;
    let reset_secs = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
    headers.insert(RATELIMIT_RESET, number(reset_secs));
    if let Some(policy) = policy {
        headers.insert(RATELIMIT_POLICY, policy);
    }
}

/// The `RateLimit-*` headers of an admitted request.
pub(crate) fn admitted(headers: &mut HeaderMap, figures: Option<Figures>) {
    match figures {
        Some(Figures::Rate {
            status,
            limit,
            policy,
        }) => rate_headers(headers, &status, limit, policy),
        Some(Figures::InFlight { limit, remaining }) => {
            headers.reserve(2);
            headers.insert(RATELIMIT_LIMIT, number(limit as u64));
            headers.insert(RATELIMIT_REMAINING, number(remaining as u64));
        }
        None => {}
    }
}

/// Whole seconds, rounded up, at least 1.
fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// The immediate answer to a request the limiter turned away. Allocates
/// only the header map: the body text and header values are shared, and
/// without a rate quota no lock is taken beyond reading the caps.
pub(crate) fn rejection<K: Hash + Eq + Clone, B>(
    limiter: &GuardLimiter<K>,
    policies: &Policies,
    texts: &Texts,
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
    let mut resp = Response::new(GuardBody::rejected(texts.get(status, secs)));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.reserve(6);
    headers.insert(http::header::RETRY_AFTER, number(secs));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    match limiter.rate_status(key) {
        Some(status) => {
            let (limit, policy) = policies.get(&status.quota);
            rate_headers(headers, &status, limit, policy);
        }
        None => {
            // Only the binding cap is said: what is left of it is 0.
            let (global, per_key) = limiter.limits();
            if let Some(limit) = per_key.or(global) {
                headers.insert(RATELIMIT_LIMIT, number(limit as u64));
            }
            headers.insert(RATELIMIT_REMAINING, number(0));
            headers.insert(RATELIMIT_RESET, number(secs));
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
