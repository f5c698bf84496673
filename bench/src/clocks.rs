//! A cheap fake clock for weir, for benchmarking only.
//!
//! [`AtomicClock`] reads one `AtomicU64` per `now()`, like governor's
//! `FakeRelativeClock`; it is what lets the GCRA cores be compared without
//! either side paying for a real clock read. (weir's own `ManualClock` takes
//! a mutex per `now()`: right for tests, wrong for timing the algorithm.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weir::{Clock, Instant};

/// A fake clock shared by its clones; time moves only by [`AtomicClock::advance`].
#[derive(Clone, Debug, Default)]
pub struct AtomicClock {
    nanos: Arc<AtomicU64>,
}

impl AtomicClock {
    /// A clock at the origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.nanos
            .fetch_add(weir::time::duration_nanos(d), Ordering::Relaxed);
    }
}

impl Clock for AtomicClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_clock_moves_only_when_advanced_and_clones_share_it() {
        let clock = AtomicClock::new();
        let other = clock.clone();
        assert_eq!(clock.now(), Instant::ZERO);
        other.advance(Duration::from_nanos(10));
        assert_eq!(clock.now().as_nanos(), 10);
        assert_eq!(clock.now(), clock.now());
    }
}
