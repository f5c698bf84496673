//! The `Layer` and its builder.

use core::time::Duration;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use http::request::Parts;
use http::{HeaderName, StatusCode};
use tower_layer::Layer;
use weir::guard::GuardPolicy;
use weir::{Limiter, LimiterConfig, TokioTimer};

use crate::service::Shared;
use crate::{client_ip, Guard, GuardError, GuardLimiter};

use crate::service::KeyFn;

/// A tower [`Layer`] that sheds load per client: see the [crate docs](crate).
///
/// Cheap to clone; every service it makes shares one limiter.
///
/// **Headers** (the same as the JS `guard`'s).
///
/// - With a rate quota set (`rate` or `per_key_rate`), every response —
///   admitted or rejected — carries the core's exact figures for the
///   client's tightest quota ([`weir::Limiter::rate_status`]):
///   `RateLimit-Limit` (the quota's limit), `RateLimit-Remaining` (units a
///   request could take now), `RateLimit-Reset` (whole seconds, rounded up,
///   until the quota is full again) and `RateLimit-Policy: <limit>;w=<secs>`
///   (when the window is whole seconds).
/// - With no rate quota, the figures approximate the *in-flight* cap: an
///   admitted response gets `RateLimit-Limit` (the per-client cap, else the
///   global one) and `RateLimit-Remaining` (what is left of it after this
///   request); a rejection gets `RateLimit-Remaining: 0`, the same limit and
///   `RateLimit-Reset` equal to `Retry-After`.
///
/// A rejection's `Retry-After` is exact for a rate limit (the core's "not
/// until" instant, rounded up to whole seconds) and
/// [`GuardBuilder::busy_retry_after`] at an in-flight cap.
///
/// ```
/// use std::time::Duration;
/// use http::StatusCode;
/// use weir::LimiterConfig;
/// use weir_tower::GuardLayer;
/// let guard = GuardLayer::builder(LimiterConfig { per_key: Some(4), ..Default::default() })
///     .client_ip_header(http::HeaderName::from_static("x-forwarded-for"))
///     .reject_status(StatusCode::SERVICE_UNAVAILABLE)
///     .max_wait(Duration::from_millis(50))
///     .build()
///     .unwrap();
/// assert_eq!(guard.limiter().limits(), (None, Some(4)));
/// ```
pub struct GuardLayer<K: Hash + Eq + Clone = IpAddr> {
    shared: Arc<Shared<K>>,
}

impl<K: Hash + Eq + Clone> Clone for GuardLayer<K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K: Hash + Eq + Clone + std::fmt::Debug> std::fmt::Debug for GuardLayer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardLayer")
            .field("shared", &self.shared)
            .finish()
    }
}

impl GuardLayer<IpAddr> {
    /// A guard keyed by client IP ([`client_ip`]) enforcing `config`,
    /// answering 429 at once when over the limit.
    pub fn new(config: LimiterConfig) -> Result<Self, GuardError> {
        Self::builder(config).build()
    }

    /// A builder starting from `config`, keyed by client IP.
    pub fn builder(config: LimiterConfig) -> GuardBuilder<IpAddr> {
        GuardBuilder {
            config,
            limiter: None,
            key_fn: Box::new(|parts: &Parts| client_ip(parts, None)),
            reject_status: StatusCode::TOO_MANY_REQUESTS,
            max_wait: None,
            busy_retry_after: Duration::from_secs(1),
        }
    }
}

impl<K: Hash + Eq + Clone> GuardLayer<K> {
    /// The limiter underneath (for `stats()`, `set_limits`, `pause_until`).
    pub fn limiter(&self) -> &Arc<GuardLimiter<K>> {
        &self.shared.limiter
    }
}

impl<S, K: Hash + Eq + Clone> Layer<S> for GuardLayer<K> {
    type Service = Guard<S, K>;

    fn layer(&self, inner: S) -> Guard<S, K> {
        Guard::new(inner, Arc::clone(&self.shared))
    }
}

/// Builds a [`GuardLayer`]; every check happens in [`build`](Self::build).
pub struct GuardBuilder<K: Hash + Eq + Clone> {
    config: LimiterConfig,
    limiter: Option<Arc<GuardLimiter<K>>>,
    key_fn: KeyFn<K>,
    reject_status: StatusCode,
    max_wait: Option<Duration>,
    busy_retry_after: Duration,
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for GuardBuilder<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardBuilder")
            .field("config", &self.config)
            .field("reject_status", &self.reject_status)
            .field("max_wait", &self.max_wait)
            .field("busy_retry_after", &self.busy_retry_after)
            .finish_non_exhaustive()
    }
}

impl GuardBuilder<IpAddr> {
    /// Reads the client IP from the first address in `header` (e.g.
    /// `x-forwarded-for`), falling back to the connection's peer address.
    /// Only name a header that a proxy you trust sets.
    pub fn client_ip_header(mut self, header: HeaderName) -> Self {
        self.key_fn = Box::new(move |parts: &Parts| client_ip(parts, Some(&header)));
        self
    }
}

impl<K: Hash + Eq + Clone> GuardBuilder<K> {
    /// Keys requests with `f` instead (an API key, a tenant, a route…).
    pub fn key_fn<K2: Hash + Eq + Clone>(
        self,
        f: impl Fn(&Parts) -> K2 + Send + Sync + 'static,
    ) -> GuardBuilder<K2> {
        GuardBuilder {
            config: self.config,
            limiter: None,
            key_fn: Box::new(f),
            reject_status: self.reject_status,
            max_wait: self.max_wait,
            busy_retry_after: self.busy_retry_after,
        }
    }

    /// Shares an existing limiter (the builder's config is then ignored).
    pub fn limiter(mut self, limiter: Arc<GuardLimiter<K>>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The status of a rejection: 429 (default) or 503 (any 4xx/5xx).
    pub fn reject_status(mut self, status: StatusCode) -> Self {
        self.reject_status = status;
        self
    }

    /// Wait up to `wait` for room before rejecting (default: reject at once).
    /// A rate limit that lifts later than `wait` is rejected at once.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = Some(wait).filter(|w| !w.is_zero());
        self
    }

    /// The `Retry-After` given when the client is at its in-flight cap
    /// (when a permit frees is unknowable; default 1 s).
    pub fn busy_retry_after(mut self, after: Duration) -> Self {
        self.busy_retry_after = after;
        self
    }

    /// The layer, or what is wrong with the configuration.
    pub fn build(self) -> Result<GuardLayer<K>, GuardError> {
        if !(self.reject_status.is_client_error() || self.reject_status.is_server_error()) {
            return Err(GuardError::RejectStatus(self.reject_status));
        }
        let limiter = match self.limiter {
            Some(limiter) => limiter,
            None => {
                let c = &self.config;
                c.validate()?;
                if c.concurrency.is_none()
                    && c.per_key.is_none()
                    && c.rate.is_empty()
                    && c.per_key_rate.is_empty()
                {
                    return Err(GuardError::NoLimit);
                }
                Arc::new(Limiter::new(self.config, TokioTimer::new())?)
            }
        };
        Ok(GuardLayer {
            shared: Arc::new(Shared {
                policies: crate::headers::Policies::of(&limiter),
                texts: crate::headers::Texts::of(self.reject_status),
                limiter,
                key_fn: self.key_fn,
                reject_status: self.reject_status,
                policy: GuardPolicy::new(self.max_wait, self.busy_retry_after),
            }),
        })
    }
}
