//! Time seams: the only things a host must supply.
//!
//! Every algorithm in this crate reads time through a [`Clock`] and waits
//! through a [`Timer`]; neither is ever called while a lock is held. Time is
//! integer nanoseconds on a monotonic axis whose origin the host chooses.

use core::future::Future;
use core::ops::{Add, Sub};
use core::time::Duration;

#[cfg(feature = "std")]
mod fast_clock;
#[cfg(any(test, feature = "testing"))]
mod manual;
#[cfg(feature = "std")]
mod std_clock;
#[cfg(feature = "tokio")]
mod tokio_timer;

#[cfg(feature = "std")]
pub use fast_clock::FastClock;
#[cfg(any(test, feature = "testing"))]
pub use manual::{ManualClock, ManualSleep};
#[cfg(feature = "std")]
pub use std_clock::StdClock;
#[cfg(feature = "tokio")]
pub use tokio_timer::TokioTimer;

/// A point on a host's monotonic time axis, in whole nanoseconds.
///
/// Arithmetic saturates: a clock can never make it wrap or panic.
///
/// ```
/// use core::time::Duration;
/// use weir::Instant;
/// let t = Instant::from_nanos(1_000);
/// assert_eq!((t + Duration::from_nanos(500)).as_nanos(), 1_500);
/// assert_eq!(t - Instant::from_nanos(4_000), Duration::ZERO); // saturates
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The origin of the axis.
    pub const ZERO: Instant = Instant(0);
    /// The far future: a deadline that never comes.
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `nanos` nanoseconds after the origin.
    #[inline]
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// Nanoseconds since the origin.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// An instant from fractional milliseconds, as JS hosts' `performance.now()`
    /// gives them. NaN and negatives map to the origin; rounding is to the
    /// nearest nanosecond.
    ///
    /// ```
    /// assert_eq!(weir::Instant::from_millis_f64(1.5).as_nanos(), 1_500_000);
    /// ```
    pub fn from_millis_f64(ms: f64) -> Self {
        if ms.is_nan() || ms <= 0.0 {
            return Instant(0);
        }
        let ns = ms * 1_000_000.0 + 0.5;
        if ns >= u64::MAX as f64 {
            Instant(u64::MAX)
        } else {
            Instant(ns as u64)
        }
    }

    /// Fractional milliseconds since the origin.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    #[inline]
    pub fn saturating_add(self, d: Duration) -> Self {
        Instant(self.0.saturating_add(duration_nanos(d)))
    }

    /// `self - earlier`, or zero when `earlier` is later.
    #[inline]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    #[inline]
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// A duration as whole nanoseconds, saturating at `u64::MAX` (≈ 584 years).
#[inline]
pub fn duration_nanos(d: Duration) -> u64 {
    // The same as `u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)`, in u64
    // arithmetic: `as_nanos` multiplies in u128, a libcall (`__multi3`) on
    // wasm32, inlined at every use.
    const MAX_SECS: u64 = u64::MAX / 1_000_000_000;
    let secs = d.as_secs();
    if secs > MAX_SECS {
        return u64::MAX;
    }
    (secs * 1_000_000_000).saturating_add(u64::from(d.subsec_nanos()))
}

/// A monotonic clock.
///
/// It may stand still (workerd freezes time during CPU work) or, if the host
/// is careless, step back; every algorithm here tolerates both without
/// over-admitting or panicking.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// A clock that can also sleep: what a host supplies to the async adapters.
///
/// The sleep future must complete at or after `deadline` (by this timer's own
/// clock) and must be cancel-safe: dropping it cancels the sleep.
pub trait Timer: Clock {
    /// The future returned by [`Timer::sleep_until`].
    type Sleep: Future<Output = ()>;
    /// Sleep until `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<T: Timer + ?Sized> Timer for &T {
    type Sleep = T::Sleep;
    #[inline]
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        (**self).sleep_until(deadline)
    }
}

impl<C: Clock + ?Sized> Clock for alloc::sync::Arc<C> {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<T: Timer + ?Sized> Timer for alloc::sync::Arc<T> {
    type Sleep = T::Sleep;
    #[inline]
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        (**self).sleep_until(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_nanos_saturates_like_as_nanos() {
        let max_secs = u64::MAX / 1_000_000_000;
        for d in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::new(1, 999_999_999),
            Duration::from_nanos(u64::MAX),
            Duration::from_nanos(u64::MAX - 1),
            Duration::new(max_secs, 0),
            Duration::new(max_secs, 709_551_615),
            Duration::new(max_secs, 709_551_616),
            Duration::new(max_secs, 999_999_999),
            Duration::new(max_secs + 1, 0),
            Duration::MAX,
        ] {
            let want = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            assert_eq!(duration_nanos(d), want, "{d:?}");
        }
    }
}
