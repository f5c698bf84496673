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
        Instant::from_nanos(super::duration_nanos(self.origin.elapsed()))
    }
}
