//! # weir-limiter-tower — shed load per client with 429 + `Retry-After`
//!
//! A tower [`Layer`](tower_layer::Layer) that puts every request through a
//! [`weir::Limiter`] keyed by the client (its IP address by default) and,
//! when the client is over its in-flight or rate limit, answers at once with
//! `429 Too Many Requests` (or `503`) and a `Retry-After`, instead of
//! queueing — the native twin of the JS `guard`.
//!
//! - **Key**: the client IP from axum's `ConnectInfo<SocketAddr>` or a
//!   `SocketAddr` request extension, or a header you name (e.g.
//!   `x-forwarded-for` behind a trusted proxy); or any key function.
//! - **No queueing** by default; optionally a short bounded wait
//!   ([`GuardBuilder::max_wait`]).
//! - **Release when the response body has finished streaming**, not when the
//!   handler returns: a slow download keeps its slot.
//! - **Headers**: `Retry-After` (whole seconds, rounded up, from the core's
//!   exact "not until" instant for rate limits; a fixed estimate,
//!   [`GuardBuilder::busy_retry_after`], when the client is at its in-flight
//!   cap) and IETF-draft `RateLimit-Limit` / `RateLimit-Remaining` /
//!   `RateLimit-Reset` / `RateLimit-Policy` — exact from the core
//!   ([`weir::Limiter::rate_status`]) when a rate quota is set, as the JS
//!   guard sends them; an in-flight approximation otherwise — see
//!   [`GuardLayer`].
//!
//! With the `redis` feature, [`SharedGuardLayer`] makes the same answers
//! from limits shared by a fleet of servers (`weir-limiter-redis`'s
//! `SharedLimiter`): one client is shed by one fleet-wide quota and cap.
//!
//! No limiting logic lives here: this crate maps HTTP to keys and back.
//!
//! ```no_run
//! # #[tokio::main] async fn main() {
//! use std::net::SocketAddr;
//! use axum::{routing::get, Router};
//! use weir::{LimiterConfig, Quota};
//! use weir_tower::GuardLayer;
//!
//! let guard = GuardLayer::new(LimiterConfig {
//!     concurrency: Some(512),                             // whole server
//!     per_key: Some(8),                                   // per client IP
//!     per_key_rate: vec![Quota::per_second(20).unwrap()], // per client IP
//!     ..Default::default()
//! })
//! .expect("valid limits");
//! let app = Router::new().route("/", get(|| async { "hello" })).layer(guard);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
//!     .await
//!     .unwrap();
//! # }
//! ```

#![warn(missing_docs)]

mod body;
mod error;
mod future;
mod headers;
mod key;
mod layer;
mod service;
#[cfg(feature = "redis")]
mod shared;

pub use body::GuardBody;
pub use error::GuardError;
pub use future::ResponseFuture;
pub use key::{client_ip, Key};
pub use layer::{GuardBuilder, GuardLayer};
pub use service::Guard;
#[cfg(feature = "redis")]
pub use shared::{SharedGuard, SharedGuardBuilder, SharedGuardLayer, SharedResponseFuture};

/// The limiter a guard drives: keyed by `K`, on tokio's clock.
pub type GuardLimiter<K> = weir::Limiter<K, weir::TokioTimer>;
