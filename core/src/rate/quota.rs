//! [`Quota`]: how much cost a cell admits per interval, and how much at once.

use core::fmt;
use core::time::Duration;

use crate::time::{duration_nanos, Instant};

/// A rate: `limit` units of cost per `interval`, with bursts of up to `burst`
/// units (by default `burst == limit`).
///
/// The rate is kept as the exact fraction `limit / interval`: nothing is
/// rounded to whole nanoseconds per unit, so "3 per second" is exactly 3 per
/// second in the long run. (On a nanosecond clock, admissions after the
/// bucket has emptied start on a whole nanosecond; with `burst ≥ 2` and
/// `(burst − 1)·interval/limit ≥ 1 ns` this costs nothing at all, otherwise at
/// most one nanosecond per admission.) Durations longer than `u64::MAX` nanoseconds
/// (≈ 584 years) are clamped to that.
///
/// ```
/// use core::time::Duration;
/// use weir::Quota;
/// let q = Quota::per_second(20)?.with_burst(5)?;
/// assert_eq!((q.limit(), q.interval(), q.burst()), (20, Duration::from_secs(1), 5));
/// assert!(Quota::new(0, Duration::from_secs(1)).is_err());
/// # Ok::<(), weir::QuotaError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    limit: u32,
    interval_ns: u64,
    burst: u32,
}

/// Why a [`Quota`] could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuotaError {
    /// `limit` was zero.
    ZeroLimit,
    /// `interval` was shorter than one nanosecond.
    ZeroInterval,
    /// `burst` was zero.
    ZeroBurst,
}

impl fmt::Display for QuotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuotaError::ZeroLimit => "quota limit must be at least 1",
            QuotaError::ZeroInterval => "quota interval must be at least 1 ns",
            QuotaError::ZeroBurst => "quota burst must be at least 1",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for QuotaError {}

impl Quota {
    /// `limit` per `interval`, burst `limit`. Errors on a zero limit or an
    /// interval under one nanosecond.
    ///
    /// ```
    /// # use core::time::Duration;
    /// let q = weir::Quota::new(3, Duration::from_millis(500))?;
    /// assert_eq!(q.burst(), 3);
    /// # Ok::<(), weir::QuotaError>(())
    /// ```
    pub fn new(limit: u32, interval: Duration) -> Result<Quota, QuotaError> {
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        let interval_ns = duration_nanos(interval);
        if interval_ns == 0 {
            return Err(QuotaError::ZeroInterval);
        }
        Ok(Quota {
            limit,
            interval_ns,
            burst: limit,
        })
    }

    /// `limit` per second.
    pub fn per_second(limit: u32) -> Result<Quota, QuotaError> {
        Quota::new(limit, Duration::from_secs(1))
    }

    /// `limit` per minute.
    pub fn per_minute(limit: u32) -> Result<Quota, QuotaError> {
        Quota::new(limit, Duration::from_secs(60))
    }

    /// `limit` per hour.
    pub fn per_hour(limit: u32) -> Result<Quota, QuotaError> {
        Quota::new(limit, Duration::from_secs(3600))
    }

    /// The same rate with bursts of up to `burst` (which may be below or
    /// above `limit`). Errors on zero.
    pub fn with_burst(self, burst: u32) -> Result<Quota, QuotaError> {
        if burst == 0 {
            return Err(QuotaError::ZeroBurst);
        }
        Ok(Quota { burst, ..self })
    }

    /// Units of cost per [`interval`](Quota::interval).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The interval over which [`limit`](Quota::limit) units are admitted.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns)
    }

    /// The most cost admitted at once by a full cell.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    // --- scaled arithmetic -------------------------------------------------
    //
    // Time is measured in "scaled units": nanoseconds × limit. One unit of
    // cost then takes exactly `interval_ns` scaled units, so no division (and
    // no rounding) is ever needed except when answering an instant.

    /// `now` in scaled units.
    #[inline]
    pub(crate) fn scaled(&self, now: Instant) -> u128 {
        u128::from(now.as_nanos()) * u128::from(self.limit)
    }

    /// The interval in nanoseconds (the scaled span of one unit).
    #[inline]
    pub(crate) fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// The scaled span that `cost` units occupy.
    #[inline]
    pub(crate) fn span(&self, cost: u64) -> u128 {
        u128::from(cost).saturating_mul(u128::from(self.interval_ns))
    }

    /// The scaled burst tolerance: how far the TAT may run ahead of now.
    #[inline]
    pub(crate) fn tolerance(&self) -> u128 {
        u128::from(self.burst) * u128::from(self.interval_ns)
    }

    /// The first instant whose scaled value is at least `scaled`.
    #[inline]
    pub(crate) fn instant_at_or_after(&self, scaled: u128) -> Instant {
        Instant::from_nanos(super::divide::ceil_div_u32(scaled, self.limit))
    }
}
