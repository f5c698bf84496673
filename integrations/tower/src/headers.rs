//! Rejection responses and `RateLimit-*` / `Retry-After` headers.

use core::time::Duration;
use std::hash::Hash;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use std::cell::RefCell;
use std::sync::OnceLock;

use weir::guard::Shed;
use weir::limiter::RateStatus;
use weir::Quota;

use crate::{GuardBody, GuardLimiter};

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Header values of small numbers, made once (cloning one allocates nothing);
/// a larger one is remembered per thread, as consecutive responses tend to
/// repeat it (e.g. `RateLimit-Remaining` of a roomy quota).
pub(crate) fn number(n: u64) -> HeaderValue {
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
        Self::from_quotas(
            limiter
                .rate_quotas()
                .iter()
                .chain(limiter.per_key_rate_quotas()),
        )
    }

    /// The table of `quotas`, in order.
    pub(crate) fn from_quotas<'a>(quotas: impl Iterator<Item = &'a Quota>) -> Self {
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

    /// Where `quota` is in the table. With one quota (the common case) the
    /// limiter's figures can only be about that one: no comparison needed.
    fn index(&self, quota: &Quota) -> Option<usize> {
        if self.0.len() == 1 {
            debug_assert!(self.0[0].0 == *quota);
            return Some(0);
        }
        self.0.iter().position(|(q, _, _)| q == quota)
    }

    /// `(RateLimit-Limit, RateLimit-Policy)` of `quota`.
    fn get(&self, quota: &Quota) -> (HeaderValue, Option<HeaderValue>) {
        match self.index(quota) {
            Some(i) => self.values(i),
            None => (number(u64::from(quota.limit())), None),
        }
    }

    /// `(RateLimit-Limit, RateLimit-Policy)` of the quota at `i`.
    pub(crate) fn values(&self, i: usize) -> (HeaderValue, Option<HeaderValue>) {
        let (_, limit, policy) = &self.0[i];
        (limit.clone(), policy.clone())
    }
}

/// What the `RateLimit-*` headers of one response say, as plain numbers
/// (small: it rides in every admitted response future); the header values
/// are made when the response is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Figures {
    /// A rate quota is set: the core's exact figures for the key's tightest
    /// quota ([`weir::Limiter::rate_status`]), as the JS guard sends them.
    Rate {
        /// Where the quota is in [`Policies`] (its `RateLimit-Limit` and
        /// `RateLimit-Policy` values), or `None`: then only its limit.
        policy: Option<u16>,
        /// The quota's limit.
        limit: u32,
        /// Units a request could take now.
        remaining: u32,
        /// Whole seconds (rounded up) until the quota is full again.
        reset_secs: u64,
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

    pub(crate) fn get(&self, status: StatusCode, secs: u64) -> Bytes {
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
    if let Some(s) = status {
        return Some(Figures::Rate {
            policy: policies.index(&s.quota).and_then(|i| u16::try_from(i).ok()),
            limit: s.quota.limit(),
            remaining: s.remaining,
            reset_secs: reset_secs(s.reset_after),
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

/// Whole seconds, rounded up (`RateLimit-Reset`).
pub(crate) fn reset_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `RateLimit-Limit` / `-Remaining` / `-Reset` / `-Policy` of a quota.
pub(crate) fn rate_headers(
    headers: &mut HeaderMap,
    (limit, policy): (HeaderValue, Option<HeaderValue>),
    remaining: u32,
    reset_secs: u64,
) {
    headers.reserve(4);
    headers.insert(RATELIMIT_LIMIT, limit);
    headers.insert(RATELIMIT_REMAINING, number(u64::from(remaining)));
    headers.insert(RATELIMIT_RESET, number(reset_secs));
    if let Some(policy) = policy {
        headers.insert(RATELIMIT_POLICY, policy);
    }
}

/// The `RateLimit-*` headers of an admitted request.
pub(crate) fn admitted(headers: &mut HeaderMap, figures: Option<Figures>, policies: &Policies) {
    match figures {
        Some(Figures::Rate {
            policy,
            limit,
            remaining,
            reset_secs,
        }) => {
            let values = match policy {
                Some(i) => policies.values(usize::from(i)),
                None => (number(u64::from(limit)), None),
            };
            rate_headers(headers, values, remaining, reset_secs);
        }
        Some(Figures::InFlight { limit, remaining }) => {
            headers.reserve(2);
            headers.insert(RATELIMIT_LIMIT, number(limit as u64));
            headers.insert(RATELIMIT_REMAINING, number(remaining as u64));
        }
        None => {}
    }
}

/// The immediate answer to a request the limiter turned away, as the core's
/// guard rule decided it (`shed`: why, and `Retry-After` seconds). Allocates
/// only the header map: the body text and header values are shared, and
/// without a rate quota no lock is taken beyond reading the caps.
pub(crate) fn rejection<K: Hash + Eq + Clone, B>(
    limiter: &GuardLimiter<K>,
    policies: &Policies,
    texts: &Texts,
    key: &K,
    shed: Shed,
    status: StatusCode,
) -> Response<GuardBody<B, K>> {
    let secs = shed.retry_after_secs;
    let mut resp = shed_response(texts, status, secs);
    let headers = resp.headers_mut();
    match limiter.rate_status(key) {
        Some(status) => {
            let values = policies.get(&status.quota);
            rate_headers(
                headers,
                values,
                status.remaining,
                reset_secs(status.reset_after),
            );
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

/// A shed request's response without the `RateLimit-*` headers: the status,
/// `Retry-After: secs` and the shared text.
pub(crate) fn shed_response<B, K: Hash + Eq + Clone>(
    texts: &Texts,
    status: StatusCode,
    secs: u64,
) -> Response<GuardBody<B, K>> {
    let mut resp = Response::new(GuardBody::rejected(texts.get(status, secs)));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.reserve(6);
    headers.insert(http::header::RETRY_AFTER, number(secs));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The `RateLimit-*` headers from a shared store's figures (the core's
/// formulas over the store's TATs): the tightest quota's limit, remaining
/// and reset. Nothing without quotas.
#[cfg(feature = "redis")]
pub(crate) fn store_figures(
    headers: &mut HeaderMap,
    figures: Option<&weir_redis::Figures>,
    policies: &Policies,
) {
    let Some(f) = figures else { return };
    let (Some(i), Some(remaining)) = (f.tightest, f.remaining) else {
        return;
    };
    if i < policies.0.len() {
        rate_headers(
            headers,
            policies.values(i),
            remaining,
            reset_secs(f.reset_after),
        );
    }
}
