use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use super::{Clock, Instant, Timer};
use crate::sync::{Arc, Mutex};

/// A fake clock and timer for deterministic tests (feature `testing`).
///
/// Time moves only when you call [`advance`](ManualClock::advance) or
/// [`set`](ManualClock::set) — which may also step it *back*, to test that
/// algorithms tolerate a misbehaving host clock. Sleepers whose deadline has
/// been reached are woken by `advance`/`set`. Clones share one clock.
///
/// ```
/// use core::time::Duration;
/// use weir::{Clock, Instant, ManualClock, Timer};
/// let clock = ManualClock::new();
/// let mut sleep = Box::pin(clock.sleep_until(Instant::from_nanos(10)));
/// let waker = futures::task::noop_waker();
/// let mut cx = core::task::Context::from_waker(&waker);
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// assert_eq!(clock.pending_sleeps(), 1);
/// clock.advance(Duration::from_nanos(10));
/// assert!(sleep.as_mut().poll(&mut cx).is_ready());
/// # use core::future::Future;
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    now: Instant,
    next_id: u64,
    /// Registered sleepers: (id, deadline, waker).
    sleepers: Vec<(u64, Instant, Waker)>,
}

impl ManualClock {
    /// A clock at [`Instant::ZERO`].
    pub fn new() -> Self {
        Self::starting_at(Instant::ZERO)
    }

    /// A clock at `now`.
    pub fn starting_at(now: Instant) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                now,
                ..State::default()
            })),
        }
    }

    /// Move time forward by `d` and wake every sleeper now due.
    pub fn advance(&self, d: Duration) {
        let now = self.now() + d;
        self.set(now);
    }

    /// Put the clock at `now` (forward or back) and wake every sleeper now due.
    pub fn set(&self, now: Instant) {
        let due: Vec<Waker> = {
            let mut s = self.inner.lock();
            s.now = now;
            let mut due = Vec::new();
            s.sleepers.retain(|(_, deadline, waker)| {
                if *deadline <= now {
                    due.push(waker.clone());
                    false
                } else {
                    true
                }
            });
            due
        };
        due.into_iter().for_each(Waker::wake);
    }

    /// How many sleep futures are currently registered (polled, not yet due,
    /// not dropped). Lets tests assert "one timer per key".
    pub fn pending_sleeps(&self) -> usize {
        self.inner.lock().sleepers.len()
    }

    /// The earliest registered deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.inner.lock().sleepers.iter().map(|(_, d, _)| *d).min()
    }

    /// Advance straight to the earliest registered deadline (if it is in the
    /// future) and wake its sleepers. Returns the new now, or `None` when
    /// nobody sleeps.
    pub fn advance_to_next(&self) -> Option<Instant> {
        let next = self.next_deadline()?;
        let now = self.now().max(next);
        self.set(now);
        Some(now)
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.inner.lock().now
    }
}

impl Timer for ManualClock {
    type Sleep = ManualSleep;
    fn sleep_until(&self, deadline: Instant) -> ManualSleep {
        ManualSleep {
            clock: self.clone(),
            deadline,
            id: None,
        }
    }
}

/// The sleep future of [`ManualClock`]. Dropping it unregisters it.
#[derive(Debug)]
pub struct ManualSleep {
    clock: ManualClock,
    deadline: Instant,
    id: Option<u64>,
}

impl Future for ManualSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut s = this.clock.inner.lock();
        if s.now >= this.deadline {
            if let Some(id) = this.id.take() {
                s.sleepers.retain(|(i, _, _)| *i != id);
            }
            return Poll::Ready(());
        }
        match this.id {
            Some(id) => {
                if let Some(entry) = s.sleepers.iter_mut().find(|(i, _, _)| *i == id) {
                    entry.2.clone_from(cx.waker());
                } else {
                    // Woken by `set` but time stepped back below the deadline: re-register.
                    let deadline = this.deadline;
                    s.sleepers.push((id, deadline, cx.waker().clone()));
                }
            }
            None => {
                let id = s.next_id;
                s.next_id += 1;
                this.id = Some(id);
                let deadline = this.deadline;
                s.sleepers.push((id, deadline, cx.waker().clone()));
            }
        }
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.clock
                .inner
                .lock()
                .sleepers
                .retain(|(i, _, _)| *i != id);
        }
    }
}
