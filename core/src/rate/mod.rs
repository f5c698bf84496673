//! GCRA rate limiting: "`limit` per `interval`, bursts of `burst`".
//!
//! - [`Quota`]: the rate, as an exact fraction (no drift);
//! - [`Gcra`]: one pure cell (theoretical arrival time arithmetic);
//! - [`KeyedGcra`]: pure cells per key, with pauses and idle-key eviction;
//! - [`RateLimiter`]: global + per-key quotas with `check` and async `acquire`;
//!   with a single global quota, checks run lock-free (`lock_free.rs`) while
//!   no pause or waiter needs the lock.
//!
//! Every check of cost `c` either consumes from all applicable quotas at once
//! or from none, answering [`Denied::NotUntil`] with the exact first instant
//! it would pass. A fresh cell is full; in every window of length `w` the
//! admitted cost is at most `burst + limit·w/interval`.

mod acquire;
mod divide;
mod error;
mod gcra;
mod keyed;
mod limiter;
mod lock_free;
mod packed;
mod pair;
mod quota;
mod ramp;

pub(crate) use acquire::Acquire as RateWait;
pub use acquire::{RateAcquire, RateAcquireOwned};
pub use error::Denied;
pub use gcra::Gcra;
pub use keyed::KeyedGcra;
pub use limiter::RateLimiter;
pub use quota::{Quota, QuotaError};
