use super::{Clock, Instant};

/// The `std` monotonic clock, measured from the moment it was created.
///
/// ```
/// use weir::{Clock, StdClock};
/// let clock = StdClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct StdClock {
    origin: std::time::Instant,
}

impl StdClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }

    /// The `std::time::Instant` that this clock's `instant` stands for.
    pub fn to_std(&self, instant: Instant) -> std::time::Instant {
        self.origin + core::time::Duration::from_nanos(instant.as_nanos())
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for StdClock {
    #[inline]
    fn now(&self) -> Instant {
        // One `clock_gettime` (vDSO) is the floor; the conversion stays in
        // u64 (saturating, as `duration_nanos` does) instead of u128.
        let d = std::time::Instant::now().saturating_duration_since(self.origin);
        let nanos = d
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()));
        Instant::from_nanos(nanos)
    }
}
