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

    /// Moves `permits` of this grant's permits into a grant of their own, to
    /// be released apart from the rest (see
    /// [`Limiter::try_acquire_grants`](super::Limiter::try_acquire_grants)).
    ///
    /// # Panics
    /// If the grant holds fewer than `permits`.
    pub fn split_off(&mut self, permits: usize) -> LimiterGrant {
        LimiterGrant(self.0.split_off(permits))
    }

    /// Adds `other`'s permits (from the same limiter) to this grant. An empty
    /// grant takes on `other`'s key; grants of two different keys do not
    /// merge and `other` comes back unchanged.
    ///
    /// ```
    /// use weir::{Limiter, LimiterConfig, ManualClock};
    /// let limiter = Limiter::new(LimiterConfig::default(), ManualClock::new()).unwrap();
    /// let mut a = limiter.try_acquire_grant(&"k", 1).unwrap();
    /// let b = limiter.try_acquire_grant(&"k", 2).unwrap();
    /// a.merge(b).unwrap();
    /// assert_eq!(a.permits(), 3);
    /// let other = limiter.try_acquire_grant(&"other", 1).unwrap();
    /// let other = a.merge(other).unwrap_err();
    /// limiter.release(other);
    /// limiter.release(a);
    /// assert_eq!(limiter.stats().in_flight, 0);
    /// ```
    pub fn merge(&mut self, other: LimiterGrant) -> Result<(), LimiterGrant> {
        self.0.merge(other.0).map_err(LimiterGrant)
    }
}
