//! # weir-limiter-reqwest — per-host limits and polite retries for reqwest
//!
//! A [`reqwest_middleware::Middleware`] that puts every request through a
//! [`weir::Limiter`] keyed by the target host (`host:port`):
//!
//! - **caps and quotas per host** (and globally), straight from
//!   [`weir::LimiterConfig`]: `per_key` in-flight requests per host,
//!   `per_key_rate` quotas per host, `concurrency` / `rate` for everything;
//! - **the permit is held until the response body is fully read** (or errors,
//!   or the response is dropped), as aiohttp holds a connection, unless you opt
//!   to [release at headers](LimitMiddlewareBuilder::release_at_headers);
//! - **retries** decided by core's [`weir::retry::RetryController`] under a
//!   [`RetryPolicy`] — the same brain as the JS `limiter.fetch`: idempotent
//!   methods on 429 / 503 and network errors; a `Retry-After` (seconds or
//!   HTTP date, capped by `max_delay`) pauses the whole host in the limiter
//!   ([`weir::Limiter::pause_until`]), so every queued request for that host
//!   waits too; otherwise exponential back-off with full jitter; a per-host
//!   retry budget ([`BudgetPolicy`]) bounds amplification;
//! - **figures per host** ([`HostStats`] = core's [`FetchStats`]): sent,
//!   retried, 429s, network errors, in flight, queued, cooldown, latency
//!   p50 / p95 / p99.
//!
//! No limiting or retry logic lives here: this crate maps HTTP to keys and
//! attempts, and does what core decides.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use weir::{LimiterConfig, Quota};
//! use weir_reqwest::LimitMiddleware;
//!
//! let limits = LimitMiddleware::new(LimiterConfig {
//!     concurrency: Some(100),                            // all hosts together
//!     per_key: Some(6),                                  // per host
//!     per_key_rate: vec![Quota::per_second(20).unwrap()], // per host
//!     ..Default::default()
//! })?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(limits.clone())
//!     .build();
//! let body = client.get("http://127.0.0.1:8080/").send().await?.text().await?;
//! println!("{body} — {:?}", limits.host_stats("127.0.0.1:8080"));
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod body;
mod key;
mod middleware;
mod retry;

pub use body::PermitBody;
pub use key::host_key;
pub use middleware::{LimitMiddleware, LimitMiddlewareBuilder};
pub use retry::parse_retry_after;
pub use weir::retry::{BudgetPolicy, FetchStats, RetryPolicy};

/// One host's figures: core's [`FetchStats`] (the name this crate had first).
pub type HostStats = FetchStats;

/// The per-host retry budget: core's [`BudgetPolicy`] (the name this crate
/// had first; its fields are `ratio`, `min_per_window`, `window`).
pub type RetryBudget = BudgetPolicy;

/// The limiter this middleware drives: keyed by `host:port`, on tokio's clock.
pub type HostLimiter = weir::Limiter<String, weir::TokioTimer>;
