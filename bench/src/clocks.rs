//! A cheap fake clock and timer for weir, for benchmarking only.
//!
//! [`AtomicClock`] reads one `AtomicU64` per `now()`, like governor's
//! `FakeRelativeClock`; it is what lets the GCRA cores be compared without
//! either side paying for a real clock read. (weir's own `ManualClock` takes
//! a mutex per `now()`: right for tests, wrong for timing the algorithm.)

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use weir::{Clock, Instant, Timer};

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
        self.nanos.fetch_add(weir::time::duration_nanos(d), Ordering::Relaxed);
    }
}

impl Clock for AtomicClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

/// The sleep of an [`AtomicClock`]: ready once the clock reaches the
/// deadline; until then it asks to be polled again (no timer wheel — the
/// benchmarks never wait on it).
#[derive(Debug)]
pub struct AtomicSleep {
    clock: AtomicClock,
    deadline: Instant,
}

impl Future for AtomicSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.deadline {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Timer for AtomicClock {
    type Sleep = AtomicSleep;
    fn sleep_until(&self, deadline: Instant) -> AtomicSleep {
        AtomicSleep { clock: self.clone(), deadline }
    }
}

/// weir's [`weir::StdClock`] made a [`Timer`] (the sleep re-polls until due),
/// so the rate limiter can be timed on the real monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdTimer(pub weir::StdClock);

impl Clock for StdTimer {
    #[inline]
    fn now(&self) -> Instant {
        self.0.now()
    }
}

/// The sleep of a [`StdTimer`].
#[derive(Debug)]
pub struct StdSleep {
    clock: weir::StdClock,
    deadline: Instant,
}

impl Future for StdSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.deadline {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Timer for StdTimer {
    type Sleep = StdSleep;
    fn sleep_until(&self, deadline: Instant) -> StdSleep {
        StdSleep { clock: self.0, deadline }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_clock_moves_only_when_advanced_and_sleep_honours_it() {
        let clock = AtomicClock::new();
        assert_eq!(clock.now(), Instant::ZERO);
        let mut sleep = Box::pin(clock.sleep_until(Instant::from_nanos(10)));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        clock.advance(Duration::from_nanos(10));
        assert_eq!(clock.now().as_nanos(), 10);
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
    }
}
