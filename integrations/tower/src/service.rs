//! The `Service`: key the request, ask the limiter, answer or pass it on.

use core::task::{Context, Poll};
use std::hash::Hash;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body::Body;
use tower_service::Service;
use weir::guard::{GuardPolicy, Shed, Verdict};
use weir::{Clock, LimiterGrant};

use crate::future::ResponseFuture;
use crate::headers::Figures;
use crate::{headers, GuardBody, GuardLimiter};

pub(crate) type KeyFn<K> = Box<dyn Fn(&Parts) -> K + Send + Sync>;

/// What every guard service made by one layer shares.
pub(crate) struct Shared<K: Hash + Eq + Clone> {
    pub(crate) limiter: Arc<GuardLimiter<K>>,
    pub(crate) key_fn: KeyFn<K>,
    pub(crate) reject_status: StatusCode,
    /// The core's rule for denied requests: wait (bounded) or shed, and the
    /// `Retry-After` of a shed one.
    pub(crate) policy: GuardPolicy,
    pub(crate) policies: headers::Policies,
    pub(crate) texts: headers::Texts,
}

impl<K: Hash + Eq + Clone + std::fmt::Debug> std::fmt::Debug for Shared<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("limiter", &self.limiter)
            .field("reject_status", &self.reject_status)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone> Shared<K> {
    pub(crate) fn reject<B>(&self, key: &K, shed: Shed) -> Response<GuardBody<B, K>> {
        headers::rejection(
            &self.limiter,
            &self.policies,
            &self.texts,
            key,
            shed,
            self.reject_status,
        )
    }

    /// The answer after a wait that gave no permit: as the key stands now.
    fn after_wait(&self, key: &K) -> Shed {
        let rate_wait = self
            .limiter
            .rate_status(key)
            .map(|status| status.retry_after);
        self.policy.after_wait(rate_wait)
    }
}

/// Admitted work as the guard keeps it: the limiter's plain grant and the
/// layer's shared state (which owns the limiter), released on drop — one
/// `Arc` and no key clone, where a [`weir::LimiterPermit`] holds both.
pub(crate) struct Held<K: Hash + Eq + Clone> {
    shared: Arc<Shared<K>>,
    grant: Option<LimiterGrant>,
}

impl<K: Hash + Eq + Clone> Held<K> {
    fn new(shared: Arc<Shared<K>>, grant: LimiterGrant) -> Self {
        Held {
            shared,
            grant: Some(grant),
        }
    }
}

impl<K: Hash + Eq + Clone> Drop for Held<K> {
    fn drop(&mut self) {
        if let Some(grant) = self.grant.take() {
            self.shared.limiter.release(grant);
        }
    }
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for Held<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field(
                "permits",
                &self.grant.as_ref().map_or(0, LimiterGrant::permits),
            )
            .finish_non_exhaustive()
    }
}

/// Hands the permit to the response body and adds the `RateLimit-*` headers.
pub(crate) fn admit<B: Body, K: Hash + Eq + Clone>(
    resp: Response<B>,
    held: Held<K>,
    figures: Option<Figures>,
) -> Response<GuardBody<B, K>> {
    let (mut parts, body) = resp.into_parts();
    headers::admitted(&mut parts.headers, figures, &held.shared.policies);
    Response::from_parts(parts, GuardBody::held(body, held))
}

/// The guarded service made by [`GuardLayer`](crate::GuardLayer).
pub struct Guard<S, K: Hash + Eq + Clone> {
    inner: S,
    shared: Arc<Shared<K>>,
}

impl<S, K: Hash + Eq + Clone> Guard<S, K> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<K>>) -> Self {
        Self { inner, shared }
    }

    /// The limiter underneath.
    pub fn limiter(&self) -> &Arc<GuardLimiter<K>> {
        &self.shared.limiter
    }
}

impl<S: Clone, K: Hash + Eq + Clone> Clone for Guard<S, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: std::fmt::Debug, K: Hash + Eq + Clone + std::fmt::Debug> std::fmt::Debug for Guard<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for Guard<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Body + Send + 'static,
    ResBody::Data: From<Bytes>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    type Response = Response<GuardBody<ResBody, K>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, K, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let key = (self.shared.key_fn)(&parts);
        let req = Request::from_parts(parts, body);
        let limiter = &self.shared.limiter;
        // One call: admission and the key's rate figures under one lock.
        match limiter.try_acquire_grant_with_status(&key, 1) {
            Ok((grant, status)) => {
                let figures = headers::figures_with(status, limiter, &self.shared.policies, &key);
                let held = Held::new(Arc::clone(&self.shared), grant);
                ResponseFuture::admitted(self.inner.call(req), held, figures)
            }
            Err(why) => match self.shared.policy.on_denial(why, limiter.timer().now()) {
                Verdict::Wait => {
                    // The ready service goes with the request; a clone stays.
                    let fresh = self.inner.clone();
                    let ready = std::mem::replace(&mut self.inner, fresh);
                    ResponseFuture::waiting(Box::pin(wait_then_call(
                        ready,
                        Arc::clone(&self.shared),
                        key,
                        req,
                    )))
                }
                Verdict::Shed(shed) => ResponseFuture::rejected(self.shared.reject(&key, shed)),
            },
        }
    }
}

/// The bounded-wait path: `acquire` under a timeout, then the handler.
async fn wait_then_call<S, K, ReqBody, ResBody>(
    mut inner: S,
    shared: Arc<Shared<K>>,
    key: K,
    req: Request<ReqBody>,
) -> Result<Response<GuardBody<ResBody, K>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    let max_wait = shared.policy.max_wait().unwrap_or_default();
    // Dropped by the timeout, the acquire leaves the queue and gives back
    // whatever it took.
    let acquire = shared.limiter.acquire_grant(key.clone(), 1);
    match tokio::time::timeout(max_wait, acquire).await {
        Ok(Ok(grant)) => {
            let held = Held::new(Arc::clone(&shared), grant);
            let figures = headers::figures(&shared.limiter, &shared.policies, &key);
            let resp = inner.call(req).await?;
            Ok(admit(resp, held, figures))
        }
        // The queue was full, or the time ran out: answered as the key stands.
        Ok(Err(_)) | Err(_) => Ok(shared.reject(&key, shared.after_wait(&key))),
    }
}
