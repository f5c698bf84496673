//! # weir — one limiter core
//!
//! Three controls every high-concurrency program needs, written once as pure
//! state machines over an injected clock, with thin async adapters on top:
//!
//! - [`KeyedSemaphore`]: a global in-flight cap plus a per-key cap, FIFO within
//!   a key, round-robin across keys, no head-of-line blocking between keys.
//! - [`RateLimiter`]: GCRA token buckets ("20 per second, bursts of 20"),
//!   several quotas at once, keyed or not, with exact "not until" answers.
//! - [`limited_as_completed`]: run a lazily pulled stream of futures with at
//!   most `limit` in flight, results in completion order, memory flat.
//!
//! [`Limiter`] combines them and is the single entry point the bindings use.
//! [`guard`] holds the server guard's rule (wait briefly or shed, and the
//! `Retry-After` of a shed request), shared by the JS `guard` and the tower
//! `GuardLayer`.
//!
//! The crate is `#![no_std]` + `alloc` and runtime-agnostic: hosts supply a
//! [`Clock`] and a [`Timer`]. The `std` feature (default) adds [`FastClock`]
//! (the default clock: a calibrated TSC where safe) and [`StdClock`],
//! `tokio` adds `TokioTimer`, `testing` adds `ManualClock`, a fake clock
//! and timer for deterministic tests.
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

extern crate alloc;

pub mod adaptive;
pub mod as_completed;
pub mod guard;
pub mod hash;
pub mod limiter;
pub mod rate;
pub mod retry;
pub mod semaphore;
mod sync;
pub mod time;

pub use as_completed::{
    limited_as_completed, limited_as_completed_keyed, limited_as_completed_keyed_stream,
    limited_as_completed_stream, limited_ordered, limited_ordered_stream, LimitedAsCompleted,
    LimitedAsCompletedKeyed, LimitedOrdered, ZeroLimit,
};
pub use limiter::{
    AdaptiveLimits, ConfigError, InFlight, Limiter, LimiterAcquire, LimiterConfig, LimiterError,
    LimiterGrant, LimiterPermit, LimiterStats,
};
pub use rate::{Denied, Quota, QuotaError, RateAcquire, RateAcquireOwned, RateLimiter};
pub use retry::{Decision, FetchStats, RetryController, RetryPolicy};
pub use semaphore::{
    AcquireError, KeyedSemaphore, LimitError, OwnedPermit, Permit, SemaphoreStats, TryAcquireError,
};
#[cfg(any(test, feature = "testing"))]
pub use time::ManualClock;
#[cfg(feature = "tokio")]
pub use time::TokioTimer;
pub use time::{Clock, Instant, Timer};
#[cfg(feature = "std")]
pub use time::{FastClock, StdClock};
