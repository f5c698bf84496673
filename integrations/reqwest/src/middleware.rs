//! The middleware: key, acquire, send, report to core's retry controller,
//! do what it decides, hand the permit to the body.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use http::Extensions;
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{Error, Middleware, Next, Result};
use weir::retry::{Attempt, Decision, Outcome, PolicyError, RetryController, RetryPolicy};
use weir::{
    Clock, ConfigError, InFlight, Instant, Limiter, LimiterConfig, LimiterPermit, Timer, TokioTimer,
};

use crate::{host_key, HostLimiter, HostStats, PermitBody};

type KeyFn = dyn Fn(&Request) -> String + Send + Sync;

/// reqwest middleware enforcing a [`weir::Limiter`] per host, with retries
/// decided by core's [`RetryController`].
///
/// Cheap to clone (all clones share one limiter and one controller). See the
/// [crate docs](crate) for an example.
#[derive(Clone)]
pub struct LimitMiddleware {
    shared: Arc<Shared>,
}

struct Shared {
    limiter: Arc<HostLimiter>,
    /// The limiter has an adaptive cap (`LimiterConfig::adaptive` or
    /// `per_key_adaptive`): every attempt is reported to it, with its key.
    adaptive: bool,
    key_fn: Box<KeyFn>,
    retry: Mutex<RetryController<String>>,
    release_at_headers: bool,
}

impl std::fmt::Debug for LimitMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitMiddleware")
            .field("limiter", &self.shared.limiter)
            .field("retry", self.shared.controller().policy())
            .field("release_at_headers", &self.shared.release_at_headers)
            .finish_non_exhaustive()
    }
}

/// Builds a [`LimitMiddleware`]; every check happens in [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use weir::LimiterConfig;
/// use weir_reqwest::{LimitMiddleware, RetryPolicy};
/// let mw = LimitMiddleware::builder(LimiterConfig { per_key: Some(4), ..Default::default() })
///     .key_fn(|req| req.url().host_str().unwrap_or("").to_owned()) // host, any port
///     .retry(RetryPolicy { attempts: 3, ..RetryPolicy::default() })
///     .release_at_headers(false)
///     .build()
///     .unwrap();
/// assert_eq!(mw.limiter().limits(), (None, Some(4)));
///
/// // Bad limits are refused up front, naming the option:
/// let err = LimitMiddleware::new(LimiterConfig { per_key: Some(0), ..Default::default() });
/// assert_eq!(err.unwrap_err().field, "per_key");
/// let err = LimitMiddleware::builder(LimiterConfig::default())
///     .retry(RetryPolicy { attempts: 0, ..RetryPolicy::default() })
///     .build();
/// assert_eq!(err.unwrap_err().field, "retry.attempts");
/// ```
pub struct LimitMiddlewareBuilder {
    config: LimiterConfig,
    limiter: Option<Arc<HostLimiter>>,
    key_fn: Box<KeyFn>,
    retry: RetryPolicy,
    seed: Option<u64>,
    release_at_headers: bool,
}

impl std::fmt::Debug for LimitMiddlewareBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitMiddlewareBuilder")
            .field("config", &self.config)
            .field("retry", &self.retry)
            .field("release_at_headers", &self.release_at_headers)
            .finish_non_exhaustive()
    }
}

impl LimitMiddlewareBuilder {
    /// Keys requests with `f` instead of [`host_key`] (`host:port`).
    pub fn key_fn(mut self, f: impl Fn(&Request) -> String + Send + Sync + 'static) -> Self {
        self.key_fn = Box::new(f);
        self
    }

    /// The retry policy (default: [`RetryPolicy::default`], 3 attempts in
    /// all). `attempts: 1` never retries.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Seeds the back-off jitter (default: a seed that differs per
    /// middleware and run), for reproducible retry timing.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// `true`: release the permit as soon as the response headers arrive,
    /// instead of when the body has been read (default `false`).
    pub fn release_at_headers(mut self, yes: bool) -> Self {
        self.release_at_headers = yes;
        self
    }

    /// Shares an existing limiter (its config wins over the builder's).
    pub fn limiter(mut self, limiter: Arc<HostLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The middleware, or the first invalid option (retry options are
    /// named `retry.<field>`, e.g. `retry.budget.ratio`).
    pub fn build(self) -> std::result::Result<LimitMiddleware, ConfigError> {
        let seed = self.seed.unwrap_or_else(random_seed);
        let retry = RetryController::new(self.retry, seed).map_err(config_error)?;
        let limiter = match self.limiter {
            Some(limiter) => limiter,
            None => Arc::new(Limiter::new(self.config, TokioTimer::new())?),
        };
        Ok(LimitMiddleware {
            shared: Arc::new(Shared {
                adaptive: limiter.is_adaptive(),
                limiter,
                key_fn: self.key_fn,
                retry: Mutex::new(retry),
                release_at_headers: self.release_at_headers,
            }),
        })
    }
}

/// Core's policy error as a [`ConfigError`] naming `retry.<field>`.
fn config_error(e: PolicyError) -> ConfigError {
    let field = match e.field {
        "attempts" => "retry.attempts",
        "statuses" => "retry.statuses",
        "methods" => "retry.methods",
        "base_delay" => "retry.base_delay",
        "max_delay" => "retry.max_delay",
        "budget.ratio" => "retry.budget.ratio",
        "budget.window" => "retry.budget.window",
        _ => "retry",
    };
    ConfigError {
        field,
        problem: e.problem,
    }
}

/// A seed that differs between middlewares and runs (std's hasher keys are
/// random per process and per `RandomState`).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5EED);
    h.finish()
}

impl LimitMiddleware {
    /// A middleware enforcing `config` per [`host_key`], with the default
    /// [`RetryPolicy`].
    pub fn new(config: LimiterConfig) -> std::result::Result<Self, ConfigError> {
        Self::builder(config).build()
    }

    /// A builder starting from `config` and the defaults.
    pub fn builder(config: LimiterConfig) -> LimitMiddlewareBuilder {
        LimitMiddlewareBuilder {
            config,
            limiter: None,
            key_fn: Box::new(|req: &Request| host_key(req.url())),
            retry: RetryPolicy::default(),
            seed: None,
            release_at_headers: false,
        }
    }

    /// The limiter underneath (for `stats()`, `set_limits`, `pause_until`).
    pub fn limiter(&self) -> &Arc<HostLimiter> {
        &self.shared.limiter
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.shared.controller().policy().clone()
    }

    /// Figures for one key (as produced by the key function, e.g.
    /// `"example.com:443"`): counters, in flight / queued, cooldown and
    /// latency percentiles. All zero for a key not (or no longer) resident.
    pub fn host_stats(&self, key: &str) -> HostStats {
        let now = self.shared.now();
        self.shared
            .controller()
            .stats(&key.to_owned(), now)
            .unwrap_or_default()
    }

    /// Every resident key with its figures.
    pub fn all_host_stats(&self) -> Vec<(String, HostStats)> {
        let now = self.shared.now();
        self.shared.controller().all_stats(now)
    }

    /// Forgets idle keys now (keys also go on their own, amortised, as the
    /// map grows): nothing queued or in flight, no cooldown, no activity for
    /// a budget window.
    pub fn evict_idle(&self) {
        let now = self.shared.now();
        self.shared.controller().evict_idle(now);
    }
}

impl Shared {
    fn now(&self) -> Instant {
        self.limiter.timer().now()
    }

    fn controller(&self) -> MutexGuard<'_, RetryController<String>> {
        self.retry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A permit for `key`: at once when free, else counted as queued while
    /// it waits (uncounted again if the wait is dropped).
    async fn permit(self: &Arc<Self>, key: &str) -> Result<LimiterPermit<String>> {
        if let Ok(permit) = self.limiter.try_acquire(key.to_owned(), 1) {
            return Ok(permit);
        }
        let now = self.now();
        self.controller().queued(&key.to_owned(), now);
        let _queued = Queued { shared: self, key };
        self.limiter
            .acquire(key.to_owned(), 1)
            .await
            .map_err(Error::middleware)
    }

    /// Reports how an attempt ended and returns core's decision. When it
    /// says to pause the key (`Retry-After`), the pause is put in force
    /// before the controller's lock is let go, so whoever sees the counted
    /// 429 also sees the pause (`pause_until` only reads tokio's clock).
    fn decide(&self, key: &String, attempt: &Attempt<'_>) -> Decision {
        let now = self.now();
        let mut ctl = self.controller();
        let decision = ctl.decide(key, now, attempt);
        // Retried or not: a `Retry-After` holds the whole host.
        if let Some(until) = decision.pause_key_until() {
            self.limiter.pause_until(key, until);
        }
        decision
    }

    /// Feeds the limiter's adaptive cap one attempt, timed from sending to
    /// the response headers: 429/503 and network errors are overload (a
    /// timeout as such), any other status is served.
    fn report(&self, key: &String, sent_at: Instant, started: InFlight, result: &Result<Response>) {
        use weir::adaptive::Outcome as Signal;
        let outcome = match result {
            Ok(resp) => Signal::from_status(resp.status().as_u16()),
            Err(Error::Reqwest(e)) if e.is_timeout() => Signal::Timeout,
            Err(Error::Reqwest(e)) if is_network_error(e) => Signal::Dropped,
            Err(_) => Signal::Cancelled,
        };
        self.limiter
            .report(key, started, self.now() - sent_at, outcome);
    }

    fn finish(&self, resp: Response, held: Held) -> Response {
        if self.release_at_headers {
            return resp;
        }
        let url = resp.url().clone();
        let (mut parts, body) = http::Response::<reqwest::Body>::from(resp).into_parts();
        // The conversion drops the URL; put it back.
        if let Ok(with_url) = http::Response::builder().url(url).body(()) {
            parts.extensions.extend(with_url.into_parts().0.extensions);
        }
        let body = reqwest::Body::wrap(PermitBody::new(body, held));
        Response::from(http::Response::from_parts(parts, body))
    }
}

/// A waiting request, counted in the controller's `queued` until dropped.
struct Queued<'a> {
    shared: &'a Shared,
    key: &'a str,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let now = self.shared.now();
        self.shared.controller().unqueued(&self.key.to_owned(), now);
    }
}

/// One attempt's permit: released, then reported `done` to the controller,
/// when dropped (after the body, at headers, or on any early exit).
struct Held {
    permit: Option<LimiterPermit<String>>,
    shared: Arc<Shared>,
    key: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.permit.take());
        let now = self.shared.now();
        self.shared.controller().done(&self.key, now);
    }
}

fn is_network_error(e: &reqwest::Error) -> bool {
    !(e.is_builder() || e.is_redirect() || e.is_status() || e.is_decode())
}

/// Whether the request can be sent again: no body, or a buffered one.
fn replayable(req: &Request) -> bool {
    req.body().is_none_or(|b| b.as_bytes().is_some())
}

#[async_trait::async_trait]
impl Middleware for LimitMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let s = &self.shared;
        let key = (s.key_fn)(&req);
        let method = req.method().as_str().to_owned();
        let can_replay = replayable(&req);
        let (attempts, may_repeat) = {
            let ctl = s.controller();
            (ctl.policy().attempts, ctl.policy().retries_method(&method))
        };
        let mut req = req;
        for retry in 0u32.. {
            // A copy for the next attempt, only when one could happen.
            let spare = if can_replay && may_repeat && retry + 1 < attempts {
                req.try_clone()
            } else {
                None
            };
            let permit = s.permit(&key).await?;
            let started = {
                let now = s.now();
                s.controller().sent(&key, now, retry)
            };
            let held = Held {
                permit: Some(permit),
                shared: Arc::clone(s),
                key: key.clone(),
            };
            let in_flight = if s.adaptive {
                s.limiter.in_flight_now(&key)
            } else {
                InFlight::default()
            };
            let sent_at = s.now();
            let result = next.clone().run(req, extensions).await;
            if s.adaptive {
                s.report(&key, sent_at, in_flight, &result);
            }
            let (outcome, retry_after) = match &result {
                Ok(resp) => (
                    Outcome::Status(resp.status().as_u16()),
                    crate::parse_retry_after(resp.headers(), SystemTime::now()),
                ),
                Err(Error::Reqwest(e)) if is_network_error(e) => (Outcome::NetworkError, None),
                Err(_) => return result,
            };
            let attempt = Attempt {
                method: &method,
                outcome,
                retry,
                retry_after,
                replayable: spare.is_some(),
                started,
            };
            let decision = s.decide(&key, &attempt);
            let (
                Decision::Retry {
                    after,
                    pause_key_until,
                },
                Some(spare),
            ) = (decision, spare)
            else {
                return result.map(|resp| s.finish(resp, held));
            };
            drop(result);
            drop(held);
            // With a pause, the next acquire waits it out; else back off.
            if pause_key_until.is_none() && !after.is_zero() {
                let until = s.now() + after;
                s.limiter.timer().sleep_until(until).await;
            }
            req = spare;
        }
        unreachable!("the retry counter ran out")
    }
}
