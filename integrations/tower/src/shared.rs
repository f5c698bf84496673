//! [`SharedGuardLayer`] (feature `redis`): the guard with its decisions made
//! by a fleet-wide [`weir_redis::SharedLimiter`], so every server of a fleet
//! sheds one client by one shared quota and one shared cap.
//!
//! Invariants:
//! - one decision per request, never waiting ([`SharedLimiter::try_admit`]:
//!   a lease per cap, then one batched `gcra.lua` decision); the answers are
//!   the local guard's: `429` (or the configured status) with `Retry-After`
//!   (the core's [`retry_after_secs`] of the store's exact wait, or
//!   `busy_retry_after` at a cap) and the `RateLimit-*` figures the store
//!   returns (the core's formulas; see `weir_redis::rate`);
//! - the permit (its leases) is held until the response body has finished
//!   streaming, as in the local guard;
//! - a store failure follows the limiter's [`weir_redis::FailurePolicy`]:
//!   `Closed` sheds with the reject status and `busy_retry_after` (as the JS
//!   guard does, reason "store"), `Open` serves, `Local` decides with the
//!   in-memory limiter (its refusal shed by the core's [`GuardPolicy`]).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, Request, Response, StatusCode};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;
use weir::guard::retry_after_secs;
use weir_redis::{Admission, SharedError, SharedLimiter};

use crate::headers::{self, Policies, Texts};
use crate::{client_ip, GuardBody, GuardError};

type KeyFn = Box<dyn Fn(&Parts) -> String + Send + Sync>;

struct State {
    limiter: Arc<SharedLimiter>,
    key_fn: KeyFn,
    reject_status: StatusCode,
    busy_retry_after: Duration,
    policies: Policies,
    texts: Texts,
}

/// A tower layer shedding load by limits shared across a fleet.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use weir::{LimiterConfig, Quota};
/// use weir_redis::{RedisStore, SharedConfig, SharedLimiter, StoreOptions};
/// use weir_tower::SharedGuardLayer;
///
/// let store = RedisStore::new(redis::Client::open("redis://127.0.0.1/")?, StoreOptions::default())?;
/// let limits = LimiterConfig { per_key_rate: vec![Quota::per_second(20)?], ..Default::default() };
/// let limiter = Arc::new(SharedLimiter::new(store, SharedConfig { limits, ..Default::default() })?);
/// let guard = SharedGuardLayer::new(limiter)?; // per client IP, fleet-wide
/// let app: axum::Router = axum::Router::new().route("/", axum::routing::get(|| async { "hi" })).layer(guard);
/// # drop(app); Ok(()) }
/// ```
#[derive(Clone)]
pub struct SharedGuardLayer {
    state: Arc<State>,
}

impl std::fmt::Debug for SharedGuardLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedGuardLayer")
            .field("limiter", &self.state.limiter)
            .field("reject_status", &self.state.reject_status)
            .finish_non_exhaustive()
    }
}

impl SharedGuardLayer {
    /// A guard keyed by client IP ([`client_ip`]), answering 429 at once.
    pub fn new(limiter: Arc<SharedLimiter>) -> Result<Self, GuardError> {
        Self::builder(limiter).build()
    }

    /// A builder with the defaults.
    pub fn builder(limiter: Arc<SharedLimiter>) -> SharedGuardBuilder {
        SharedGuardBuilder {
            limiter,
            key_fn: Box::new(|parts: &Parts| client_ip(parts, None).to_string()),
            reject_status: StatusCode::TOO_MANY_REQUESTS,
            busy_retry_after: Duration::from_secs(1),
        }
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &Arc<SharedLimiter> {
        &self.state.limiter
    }
}

/// Builds a [`SharedGuardLayer`].
pub struct SharedGuardBuilder {
    limiter: Arc<SharedLimiter>,
    key_fn: KeyFn,
    reject_status: StatusCode,
    busy_retry_after: Duration,
}

impl std::fmt::Debug for SharedGuardBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedGuardBuilder")
            .field("reject_status", &self.reject_status)
            .field("busy_retry_after", &self.busy_retry_after)
            .finish_non_exhaustive()
    }
}

impl SharedGuardBuilder {
    /// Keys requests with `f` (an API key, a tenant…) instead of the client IP.
    pub fn key_fn(mut self, f: impl Fn(&Parts) -> String + Send + Sync + 'static) -> Self {
        self.key_fn = Box::new(f);
        self
    }

    /// Reads the client IP from the first address in `header` (only a header
    /// a proxy you trust sets).
    pub fn client_ip_header(mut self, header: HeaderName) -> Self {
        self.key_fn = Box::new(move |parts: &Parts| client_ip(parts, Some(&header)).to_string());
        self
    }

    /// The status of a rejection: 429 (default) or any 4xx/5xx.
    pub fn reject_status(mut self, status: StatusCode) -> Self {
        self.reject_status = status;
        self
    }

    /// The `Retry-After` at a shared cap or while the store is down under
    /// the closed policy (default 1 s).
    pub fn busy_retry_after(mut self, after: Duration) -> Self {
        self.busy_retry_after = after;
        self
    }

    /// The layer, or what is wrong with it.
    pub fn build(self) -> Result<SharedGuardLayer, GuardError> {
        if !(self.reject_status.is_client_error() || self.reject_status.is_server_error()) {
            return Err(GuardError::RejectStatus(self.reject_status));
        }
        let c = self.limiter.config();
        if c.concurrency.is_none()
            && c.per_key.is_none()
            && c.rate.is_empty()
            && c.per_key_rate.is_empty()
        {
            return Err(GuardError::NoLimit);
        }
        let policies = Policies::from_quotas(c.rate.iter().chain(&c.per_key_rate));
        Ok(SharedGuardLayer {
            state: Arc::new(State {
                limiter: self.limiter,
                key_fn: self.key_fn,
                reject_status: self.reject_status,
                busy_retry_after: self.busy_retry_after,
                policies,
                texts: Texts::of(self.reject_status),
            }),
        })
    }
}

impl<S> Layer<S> for SharedGuardLayer {
    type Service = SharedGuard<S>;

    fn layer(&self, inner: S) -> SharedGuard<S> {
        SharedGuard {
            inner,
            state: Arc::clone(&self.state),
        }
    }
}

/// The service made by [`SharedGuardLayer`].
#[derive(Clone)]
pub struct SharedGuard<S> {
    inner: S,
    state: Arc<State>,
}

impl<S> std::fmt::Debug for SharedGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedGuard").finish_non_exhaustive()
    }
}

/// The response future of a [`SharedGuard`].
pub type SharedResponseFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<GuardBody<B, String>>, E>> + Send>>;

impl State {
    fn shed<B>(
        &self,
        secs: u64,
        figures: Option<&weir_redis::Figures>,
    ) -> Response<GuardBody<B, String>> {
        let mut resp = headers::shed_response(&self.texts, self.reject_status, secs);
        let h = resp.headers_mut();
        headers::store_figures(h, figures, &self.policies);
        if figures.is_none() {
            h.insert(
                http::HeaderName::from_static("ratelimit-remaining"),
                headers::number(0),
            );
        }
        resp
    }

    fn busy_secs(&self) -> u64 {
        retry_after_secs(self.busy_retry_after)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SharedGuard<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Body + Send + 'static,
    ResBody::Data: From<Bytes>,
{
    type Response = Response<GuardBody<ResBody, String>>;
    type Error = S::Error;
    type Future = SharedResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let key = (self.state.key_fn)(&parts);
        let req = Request::from_parts(parts, body);
        // The ready service goes with the request; a clone stays.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            match state.limiter.try_admit(key, 1).await {
                Ok(Admission::Admitted { permit, figures }) => {
                    let resp = inner.call(req).await?;
                    let (mut parts, body) = resp.into_parts();
                    headers::store_figures(&mut parts.headers, figures.as_ref(), &state.policies);
                    Ok(Response::from_parts(parts, GuardBody::shared(body, permit)))
                }
                Ok(Admission::RateLimited {
                    retry_after,
                    figures,
                }) => Ok(state.shed(retry_after_secs(retry_after), figures.as_ref())),
                Ok(Admission::Busy) | Err(SharedError::Store(_)) => {
                    Ok(state.shed(state.busy_secs(), None))
                }
                // A cost no limit admits, or the local queue is full.
                Err(_) => Ok(state.shed(state.busy_secs(), None)),
            }
        })
    }
}
