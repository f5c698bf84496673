//! [`LimiterGrant`]: admitted work as plain data, for hosts that keep
//! permits in their own tables (the wasm bindings) instead of RAII guards.

use crate::semaphore::Grant;

/// Work admitted by [`Limiter::try_acquire_grant`](super::Limiter::try_acquire_grant)
/// or [`Limiter::acquire_grant`](super::Limiter::acquire_grant): the
/// concurrency permits it holds, as plain data with no destructor.
///
/// Hand it back with [`Limiter::release`](super::Limiter::release) exactly
/// once, to the limiter that issued it. Dropping it instead keeps its permits
/// taken for good (it is `#[must_use]` for that reason); use
/// [`LimiterPermit`](super::LimiterPermit) when RAII suits the host better.
///
/// ```
/// use weir::{Limiter, LimiterConfig, ManualClock};
/// let limiter = Limiter::new(
///     LimiterConfig { concurrency: Some(1), ..Default::default() },
///     ManualClock::new(),
/// ).unwrap();
/// let grant = limiter.try_acquire_grant(&"k", 1).unwrap();
/// assert_eq!(grant.permits(), 1);
/// assert!(limiter.try_acquire_grant(&"k", 1).is_err()); // the cap is held
/// limiter.release(grant);
/// assert_eq!(limiter.stats().in_flight, 0);
/// ```
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a grant holds its permits until it is passed to Limiter::release"]
pub struct LimiterGrant(pub(crate) Grant);

impl LimiterGrant {
    /// How many concurrency permits it holds (its cost).
    pub fn permits(&self) -> usize {
        self.0.permits()
    }
}
