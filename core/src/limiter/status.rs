//! [`RateStatus`]: what a rate-limited key has left, for the IETF
//! `RateLimit-*` response headers and `Retry-After`.

use core::time::Duration;

use crate::rate::Quota;

/// The rate figures of one key at one moment, read without consuming
/// anything: those of the *tightest* quota that applies to the key (global
/// or per key; the one with the fewest units left, the later reset on a tie).
///
/// ```
/// use std::time::Duration;
/// use weir::limiter::RateStatus;
/// use weir::{RateLimiter, ManualClock, Quota};
/// let clock = ManualClock::new();
/// let limiter = RateLimiter::new(&[], &[Quota::per_second(4)?], clock.clone());
/// limiter.check(&"client", 1).unwrap();
/// let s: RateStatus = limiter.status(&"client").unwrap();
/// assert_eq!((s.quota.limit(), s.remaining), (4, 3));
/// assert_eq!(s.reset_after, Duration::from_millis(250)); // full again then
/// assert_eq!(s.retry_after, Duration::ZERO);             // one unit passes now
/// # Ok::<(), weir::QuotaError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateStatus {
    /// The tightest quota (its `limit` is the `RateLimit-Limit`).
    pub quota: Quota,
    /// Units a check of this key would admit now (0 while paused or while
    /// waiters queued on the key have it spoken for).
    pub remaining: u32,
    /// Time until that quota is full again (and any pause is over).
    pub reset_after: Duration,
    /// Time until a check of one unit would pass (zero when it passes now);
    /// the exact `Retry-After` for a denied request of cost 1.
    pub retry_after: Duration,
}

/// Figures of one cell, before they are combined.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CellStatus {
    pub(crate) quota: Quota,
    pub(crate) remaining: u64,
    pub(crate) reset_after: Duration,
}

impl CellStatus {
    /// The tighter of two cells: fewer units left, then the later reset.
    pub(crate) fn tighter(self, other: CellStatus) -> CellStatus {
        let key = |c: &CellStatus| (c.remaining, core::cmp::Reverse(c.reset_after));
        if key(&other) < key(&self) {
            other
        } else {
            self
        }
    }
}
