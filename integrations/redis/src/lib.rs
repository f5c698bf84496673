//! Shared weir limits across processes and machines, on Redis / Valkey (and
//! servers speaking its protocol).
//!
//! The rules stay in the core (`weir::rate`'s GCRA, to the nanosecond); the
//! store answers decisions with Lua scripts that live once in `lua/` and are
//! embedded by this crate and by the JS `RedisStore`:
//! - `gcra.lua`: every quota of a request (global + per key) decided and
//!   consumed all-or-none on the server's clock, with shared pauses;
//! - `lease.lua`: concurrency caps as leases that come back when a holder
//!   dies;
//! - `pause.lua`: a shared `Retry-After` cooldown.
//!
//! [`SharedLimiter`] puts them together behind `acquire` / `try_acquire`;
//! [`RedisStore`] is the connection with its timeout, health counters and
//! release notifications. Edge runtimes have no Redis socket: this is for
//! servers and workers.
//!
//! The HTTP integrations take a [`SharedLimiter`] with their `redis`
//! feature: `weir-reqwest`'s `LimitMiddlewareBuilder::shared` (per-host
//! [`SharedLimiter::acquire`], and [`SharedLimiter::pause`] on a 429's
//! `Retry-After`, for the fleet) and `weir-tower`'s `SharedGuardLayer`
//! ([`SharedLimiter::try_admit`]: one decision with the figures of its
//! `RateLimit-*` headers).
//!
//! Rate decisions of concurrent callers are batched: those arriving while a
//! `gcra.lua` call is in flight go out as one call ([`batch`],
//! [`RedisStore::decide`]), decided in arrival order exactly as one by one.

#![warn(missing_docs)]

pub mod batch;
pub mod cache;
pub mod error;
pub mod health;
pub mod keys;
pub mod lease;
mod limiter;
pub mod pause;
mod permit;
pub mod policy;
pub mod rate;
pub mod scripts;
mod store;

pub use error::{SharedError, StoreError, StoreFailure};
pub use health::{Mode, StoreStats};
pub use limiter::{Admission, SharedConfig, SharedLimiter};
pub use permit::SharedPermit;
pub use policy::FailurePolicy;
pub use rate::{Cell, Figures, RateCall, RateReply, RateRequest};
pub use store::{RedisStore, StoreOptions};
