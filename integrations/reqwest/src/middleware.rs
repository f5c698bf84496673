//! The middleware: key, acquire, send, maybe retry, hand the permit to the body.

use std::sync::Arc;
use std::time::SystemTime;

use http::{Extensions, StatusCode};
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{Error, Middleware, Next, Result};
use weir::{Clock, ConfigError, Limiter, LimiterConfig, LimiterPermit, Timer, TokioTimer};

use crate::hosts::Hosts;
use crate::sync_rng::Rng;
use crate::{host_key, parse_retry_after, HostLimiter, HostStats, PermitBody, RetryPolicy};

type KeyFn = dyn Fn(&Request) -> String + Send + Sync;

/// reqwest middleware enforcing a [`weir::Limiter`] per host, with retries.
///
/// Cheap to clone (all clones share one limiter). See the
/// [crate docs](crate) for an example.
#[derive(Clone)]
pub struct LimitMiddleware {
    shared: Arc<Shared>,
}

struct Shared {
    limiter: Arc<HostLimiter>,
    key_fn: Box<KeyFn>,
    retry: RetryPolicy,
    release_at_headers: bool,
    hosts: Hosts,
    rng: Rng,
}

impl std::fmt::Debug for LimitMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitMiddleware")
            .field("limiter", &self.shared.limiter)
            .field("retry", &self.shared.retry)
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
///     .retry(RetryPolicy { max_retries: 2, ..RetryPolicy::default() })
///     .release_at_headers(false)
///     .build()
///     .unwrap();
/// assert_eq!(mw.limiter().limits(), (None, Some(4)));
///
/// // Bad limits are refused up front, naming the option:
/// let err = LimitMiddleware::new(LimiterConfig { per_key: Some(0), ..Default::default() });
/// assert_eq!(err.unwrap_err().field, "per_key");
/// ```
pub struct LimitMiddlewareBuilder {
    config: LimiterConfig,
    limiter: Option<Arc<HostLimiter>>,
    key_fn: Box<KeyFn>,
    retry: RetryPolicy,
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

    /// The retry policy (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
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

    /// The middleware, or the first invalid option.
    pub fn build(self) -> std::result::Result<LimitMiddleware, ConfigError> {
        self.retry.validate()?;
        let limiter = match self.limiter {
            Some(limiter) => limiter,
            None => Arc::new(Limiter::new(self.config, TokioTimer::new())?),
        };
        Ok(LimitMiddleware {
            shared: Arc::new(Shared {
                limiter,
                key_fn: self.key_fn,
                hosts: Hosts::new(self.retry.budget),
                retry: self.retry,
                release_at_headers: self.release_at_headers,
                rng: Rng::seeded(),
            }),
        })
    }
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
            release_at_headers: false,
        }
    }

    /// The limiter underneath (for `stats()`, `set_limits`, `pause_until`).
    pub fn limiter(&self) -> &Arc<HostLimiter> {
        &self.shared.limiter
    }

    /// Figures for one key (as produced by the key function, e.g.
    /// `"example.com:443"`).
    pub fn host_stats(&self, key: &str) -> HostStats {
        let mut stats = self.shared.hosts.stats(key);
        stats.in_flight = self.shared.limiter.in_flight_of(&key.to_owned());
        stats
    }
}

/// What to do after an attempt.
enum Verdict {
    /// Hand the result to the caller.
    Done,
    /// Retry; the host was paused by `Retry-After` (no extra backoff).
    RetryPaused,
    /// Retry after a jittered backoff.
    RetryBackoff,
}

impl Shared {
    fn now(&self) -> weir::Instant {
        self.limiter.timer().now()
    }

    fn judge(&self, key: &String, result: &Result<Response>) -> Verdict {
        match result {
            Ok(resp) if self.retry.statuses.contains(&resp.status()) => {
                let verdict = match parse_retry_after(resp.headers(), SystemTime::now()) {
                    Some(wait) => {
                        let until = self.now() + wait.min(self.retry.max_delay);
                        self.limiter.pause_until(key, until);
                        Verdict::RetryPaused
                    }
                    None => Verdict::RetryBackoff,
                };
                // Counted after the pause is in force, so whoever sees the
                // count also sees the pause.
                if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                    self.hosts.rate_limited(key, self.now());
                }
                verdict
            }
            Err(Error::Reqwest(e)) if self.retry.network_errors && is_network_error(e) => {
                Verdict::RetryBackoff
            }
            _ => Verdict::Done,
        }
    }

    fn finish(&self, resp: Response, permit: LimiterPermit<String>) -> Response {
        if self.release_at_headers {
            return resp;
        }
        let url = resp.url().clone();
        let (mut parts, body) = http::Response::<reqwest::Body>::from(resp).into_parts();
        // The conversion drops the URL; put it back.
        if let Ok(with_url) = http::Response::builder().url(url).body(()) {
            parts.extensions.extend(with_url.into_parts().0.extensions);
        }
        let body = reqwest::Body::wrap(PermitBody::new(body, permit));
        Response::from(http::Response::from_parts(parts, body))
    }
}

fn is_network_error(e: &reqwest::Error) -> bool {
    !(e.is_builder() || e.is_redirect() || e.is_status() || e.is_decode())
}

#[async_trait::async_trait]
impl Middleware for LimitMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let s = &*self.shared;
        let key = (s.key_fn)(&req);
        let retryable = s.retry.max_retries > 0 && s.retry.methods.contains(req.method());
        s.hosts.request(&key, s.now());
        let mut req = req;
        let mut attempt = 0u32;
        loop {
            let spare = if retryable && attempt < s.retry.max_retries {
                req.try_clone()
            } else {
                None
            };
            let permit = s
                .limiter
                .acquire(key.clone(), 1)
                .await
                .map_err(Error::middleware)?;
            s.hosts.sent(&key, s.now());
            let result = next.clone().run(req, extensions).await;
            let verdict = s.judge(&key, &result);
            let retry = match (verdict, spare) {
                (Verdict::Done, _) | (_, None) => None,
                (verdict, Some(spare)) if s.hosts.spend_retry(&key, s.now()) => {
                    Some((verdict, spare))
                }
                _ => None,
            };
            let Some((verdict, spare)) = retry else {
                return result.map(|resp| s.finish(resp, permit));
            };
            drop(result);
            drop(permit);
            if let Verdict::RetryBackoff = verdict {
                let wait = s.retry.backoff(attempt, &s.rng);
                s.limiter.timer().sleep_until(s.now() + wait).await;
            }
            attempt += 1;
            req = spare;
        }
    }
}
