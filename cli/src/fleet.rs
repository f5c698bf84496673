//! `weir fetch --redis URL`: fleet mode. Every limit of the run — the caps
//! (`--concurrency`, `--per-host`), the quotas (`--rate`, `--per-host-rate`)
//! and `Retry-After` cooldowns — is enforced by a [`weir_redis::SharedLimiter`]
//! on that Redis, shared by every `weir fetch` (native or Node) that uses the
//! same URL, `--redis-prefix` and limits.
//!
//! Invariants:
//! - No limiting logic here: admission is the shared limiter's (its Lua
//!   scripts run core's GCRA), retries and back-off stay core's retry
//!   controller in the [`weir_reqwest::LimitMiddleware`] outside this one.
//!   This file keys attempts (`host:port`, [`weir_reqwest::host_key`], the
//!   JS `limiter.fetch` key), holds each attempt's shared permit until its
//!   body ends, and tells the fleet about a server's `Retry-After`.
//! - Every attempt that reaches the network was admitted by the store (or,
//!   while the store fails, by the `--redis-policy`): `closed` fails the
//!   attempt with the store's error (its row says so), `open` sends it
//!   without the shared limits, `local` admits it through this process's own
//!   in-memory limiter with the same limits.
//! - The store is checked once at start ([`connect`]): an unreachable or
//!   refusing server ends the run before any URL is read (exit 2, naming
//!   the URL with any password masked).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use weir::LimiterConfig;
use weir_redis::{
    scripts, FailurePolicy, RedisStore, SharedConfig, SharedLimiter, StoreError, StoreFailure,
    StoreOptions,
};
use weir_reqwest::{host_key, parse_retry_after, PermitBody, RetryPolicy};

/// How long the start check waits for the server.
const CONNECT: Duration = Duration::from_secs(1);

/// `--redis-policy`: what an attempt does while the store fails.
pub fn parse_policy(t: &str) -> Result<FailurePolicy, String> {
    match t {
        "closed" => Ok(FailurePolicy::Closed),
        "open" => Ok(FailurePolicy::Open),
        "local" => Ok(FailurePolicy::Local),
        _ => Err(format!("expected closed, open or local, got '{t}'")),
    }
}

/// `--redis`: a `redis://` URL (checked again by the client at start).
pub fn parse_url(t: &str) -> Result<String, String> {
    match reqwest::Url::parse(t) {
        Ok(u) if u.scheme() == "redis" && u.host_str().is_some_and(|h| !h.is_empty()) => {
            Ok(t.to_owned())
        }
        _ => Err(format!(
            "expected a URL like redis://host:6379/0, got '{}'",
            shown(t)
        )),
    }
}

/// `url` as error messages show it: its password (if any) masked.
///
/// ```text
/// redis://:secret@h:6379/0 → redis://:***@h:6379/0
/// ```
pub fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The shared limiter on `url` under `prefix`, checked with a `PING`; an
/// error message naming the URL when the server cannot be reached.
pub async fn connect(
    url: &str,
    prefix: &str,
    policy: FailurePolicy,
    limits: LimiterConfig,
) -> Result<Arc<SharedLimiter>, String> {
    let client = redis::Client::open(url)
        .map_err(|e| format!("--redis: not a usable Redis URL '{}' ({e})", shown(url)))?;
    let options = StoreOptions {
        prefix: prefix.to_owned(),
        ..StoreOptions::default()
    };
    let store = RedisStore::new(client, options)
        .map_err(|e| format!("--redis: cannot connect to {} ({e})", shown(url)))?;
    // The start check, on the store's own connection, so that the first
    // admissions find it open and the scripts loaded (one pipeline: PING,
    // SCRIPT LOAD × 3). Each call has the store's 200 ms; a slow first
    // connection is given up to CONNECT in all, a refusal ends it at once.
    let deadline = tokio::time::Instant::now() + CONNECT;
    loop {
        let warm = store
            .call("ping", |mut c| async move {
                redis::pipe()
                    .cmd("PING")
                    .cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(scripts::GCRA_LUA)
                    .cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(scripts::LEASE_LUA)
                    .cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(scripts::PAUSE_LUA)
                    .query_async::<(String, String, String, String)>(&mut c)
                    .await
            })
            .await;
        match warm {
            Ok(_) => break,
            Err(e) if timed_out(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                return Err(format!(
                    "--redis: cannot connect to {} ({})",
                    shown(url),
                    cause(&e)
                ))
            }
        }
    }
    let config = SharedConfig {
        limits,
        on_store_error: policy,
        local_share: 1,
    };
    SharedLimiter::new(store, config)
        .map(Arc::new)
        .map_err(|e| format!("{}: {}", e.field, e.problem))
}

/// Whether a store call failed for want of an answer in time.
fn timed_out(e: &StoreError) -> bool {
    match &e.cause {
        StoreFailure::Timeout(_) => true,
        StoreFailure::Redis(_) => false,
        StoreFailure::Degraded(last) => timed_out(last),
    }
}

/// The cause of a store error as one line, without the store's prefix.
fn cause(e: &StoreError) -> String {
    match &e.cause {
        StoreFailure::Timeout(_) => format!("no answer within {} ms", CONNECT.as_millis()),
        StoreFailure::Redis(text) => text.split_whitespace().collect::<Vec<_>>().join(" "),
        StoreFailure::Degraded(last) => cause(last),
    }
}

/// The middleware: each attempt admitted by the shared limiter, its permit
/// held until the body ends.
#[derive(Clone, Debug)]
pub struct SharedLimits {
    limiter: Arc<SharedLimiter>,
    /// Longest `Retry-After` pause shared with the fleet (the retry
    /// policy's `max_delay`, as the local pause is capped).
    max_pause: Duration,
}

impl SharedLimits {
    /// Attempts through `limiter`.
    pub fn new(limiter: Arc<SharedLimiter>, retry: &RetryPolicy) -> Self {
        SharedLimits {
            limiter,
            max_pause: retry.max_delay,
        }
    }
}

#[async_trait::async_trait]
impl Middleware for SharedLimits {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let key = host_key(req.url());
        let permit = self
            .limiter
            .acquire(key.as_str(), 1)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let resp = next.run(req, extensions).await?;
        let status = resp.status().as_u16();
        if status == 429 || status == 503 {
            if let Some(wait) = parse_retry_after(resp.headers(), SystemTime::now()) {
                // Failures count in the store's figures; the local pause
                // (the LimitMiddleware's) holds this process either way.
                let _ = self.limiter.pause(&key, wait.min(self.max_pause)).await;
            }
        }
        Ok(hold(resp, permit))
    }
}

/// `resp` with `permit` held until its body ends (or fails, or is dropped).
fn hold(resp: Response, permit: weir_redis::SharedPermit) -> Response {
    use reqwest::ResponseBuilderExt;
    let url = resp.url().clone();
    let (mut parts, body) = http::Response::<reqwest::Body>::from(resp).into_parts();
    // The conversion drops the URL; put it back.
    if let Ok(with_url) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(with_url.into_parts().0.extensions);
    }
    let body = reqwest::Body::wrap(PermitBody::new(body, permit));
    Response::from(http::Response::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_policies() {
        assert!(parse_url("redis://127.0.0.1:6379/0").is_ok());
        assert!(parse_url("redis://h").is_ok());
        let e = parse_url("http://h:6379").unwrap_err();
        assert!(
            e.contains("redis://host:6379/0") && e.contains("http://h:6379"),
            "{e}"
        );
        assert!(parse_url("localhost:6379").is_err());
        let e = parse_url("rediss://:pw@h").unwrap_err();
        assert!(e.contains("***") && !e.contains("pw@"), "{e}");
        assert_eq!(shown("redis://:s3cret@h:1/2"), "redis://:***@h:1/2");
        assert_eq!(shown("redis://u:s3cret@h:1/2"), "redis://u:***@h:1/2");
        assert_eq!(shown("redis://h:1/2"), "redis://h:1/2");
        assert_eq!(parse_policy("local"), Ok(FailurePolicy::Local));
        assert!(parse_policy("lax").unwrap_err().contains("'lax'"));
    }
}
