//! The futures returned by [`RateLimiter::acquire`] and
//! [`RateLimiter::acquire_owned`].

use alloc::boxed::Box;
use core::fmt;
use core::future::Future;
use core::hash::Hash;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::error::Denied;
use super::limiter::{FirstPoll, HeadPoll, RateLimiter};
// A method receiver must be a std pointer type, so under loom the owned
// future keeps std's `Arc` (the limiter's own locking still goes through loom).
#[cfg(not(loom))]
use crate::sync::Arc;
use crate::time::{Instant, Timer};
#[cfg(loom)]
use alloc::sync::Arc;

/// How many times one poll may find its sleep already over and re-check
/// before yielding (guards against a timer that fires early).
const MAX_RECHECKS: usize = 4;

/// Where an acquire is.
enum Phase {
    /// Not polled yet.
    Start,
    /// In the key's queue under this id.
    Queued(u64),
    /// Resolved.
    Done,
}

/// The state shared by both acquire futures; the limiter is passed in.
/// One rate wait, driven against a borrowed limiter by the public futures
/// here and by the combined limiter's acquire.
///
/// A *holding* wait (see [`Acquire::holding`]) resolves when it is the head
/// of its key's queue and `cost` is admissible, but keeps its place and
/// consumes nothing until [`Acquire::take`].
pub(crate) struct Acquire<K, S> {
    key: K,
    cost: u32,
    /// Resolve when ready, keeping the place (no consuming).
    hold: bool,
    phase: Phase,
    /// The head waiter's sleep and its deadline (only the head has one).
    sleep: Option<(Instant, Pin<Box<S>>)>,
}

impl<K: Hash + Eq + Clone, S: Future<Output = ()>> Acquire<K, S> {
    pub(crate) fn new(key: K, cost: u32) -> Self {
        Acquire {
            key,
            cost,
            hold: false,
            phase: Phase::Start,
            sleep: None,
        }
    }

    /// A wait that queues even when `cost` would pass now, resolves once it
    /// is the key's head and `cost` is admissible, and then holds that place
    /// (consuming nothing) until [`take`](Self::take) or cancel.
    pub(crate) fn holding(key: K, cost: u32) -> Self {
        Acquire {
            hold: true,
            ..Acquire::new(key, cost)
        }
    }

    /// A ready holding wait consumes its `cost` now and leaves the queue
    /// (waking the next head), or — when capacity went to others meanwhile
    /// (global quotas, a new pause) — answers when to try again, still
    /// holding its place: poll it again to sleep until then.
    pub(crate) fn take<T: Timer<Sleep = S>>(
        &mut self,
        limiter: &RateLimiter<K, T>,
    ) -> Result<(), Instant> {
        let Phase::Queued(id) = self.phase else {
            panic!("take on a rate wait that holds no place");
        };
        match limiter.poll_queued(&self.key, id, self.cost, None, true) {
            HeadPoll::Granted(next) => {
                if let Some(next) = next {
                    next.wake();
                }
                self.phase = Phase::Done;
                self.sleep = None;
                Ok(())
            }
            HeadPoll::NotUntil(at) => Err(at),
            HeadPoll::Queued => unreachable!("a ready holder is the head of its key"),
        }
    }

    /// The key waited for.
    pub(crate) fn key(&self) -> &K {
        &self.key
    }

    pub(crate) fn poll<T: Timer<Sleep = S>>(
        &mut self,
        limiter: &RateLimiter<K, T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Denied>> {
        for _ in 0..MAX_RECHECKS {
            let deadline = match self.phase {
                Phase::Done => panic!("rate acquire polled after completion"),
                Phase::Start if self.hold => match limiter.join(&self.key, self.cost, cx.waker()) {
                    Err(denied) => return self.finish(Err(denied)),
                    Ok((id, poll)) => {
                        self.phase = Phase::Queued(id);
                        match poll {
                            HeadPoll::Granted(_) => return Poll::Ready(Ok(())),
                            HeadPoll::Queued => return Poll::Pending,
                            HeadPoll::NotUntil(deadline) => deadline,
                        }
                    }
                },
                Phase::Start => match limiter.first_poll(&self.key, self.cost, cx.waker()) {
                    Err(denied) => return self.finish(Err(denied)),
                    Ok(FirstPoll::Granted) => return self.finish(Ok(())),
                    Ok(FirstPoll::Queued(id, deadline)) => {
                        self.phase = Phase::Queued(id);
                        match deadline {
                            Some(deadline) => deadline,
                            None => return Poll::Pending,
                        }
                    }
                },
                Phase::Queued(id) => {
                    match limiter.poll_queued(
                        &self.key,
                        id,
                        self.cost,
                        Some(cx.waker()),
                        !self.hold,
                    ) {
                        // A holder stays queued: ready, nothing consumed.
                        HeadPoll::Granted(_) if self.hold => {
                            self.sleep = None;
                            return Poll::Ready(Ok(()));
                        }
                        HeadPoll::Granted(next) => {
                            if let Some(next) = next {
                                next.wake();
                            }
                            return self.finish(Ok(()));
                        }
                        HeadPoll::Queued => return Poll::Pending,
                        HeadPoll::NotUntil(deadline) => deadline,
                    }
                }
            };
            // We are the head: sleep until the deadline (one timer per key).
            let sleep = match &mut self.sleep {
                Some((at, sleep)) if *at == deadline => sleep,
                slot => {
                    &mut slot
                        .insert((deadline, Box::pin(limiter.timer().sleep_until(deadline))))
                        .1
                }
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn finish(&mut self, result: Result<(), Denied>) -> Poll<Result<(), Denied>> {
        self.phase = Phase::Done;
        self.sleep = None;
        Poll::Ready(result)
    }

    pub(crate) fn cancel<T: Timer<Sleep = S>>(&mut self, limiter: &RateLimiter<K, T>) {
        if let Phase::Queued(id) = self.phase {
            self.phase = Phase::Done;
            let next = limiter.cancel(&self.key, id);
            self.sleep = None;
            if let Some(next) = next {
                next.wake();
            }
        }
    }
}

/// Future of [`RateLimiter::acquire`]: resolves once `cost` has been admitted
/// (and consumed) for its key, or at once with [`Denied::ExceedsBurst`].
///
/// Cancel-safe: dropping it before it resolves consumes nothing and passes
/// the key's timer role to the next waiter.
#[must_use = "futures do nothing unless polled"]
pub struct RateAcquire<'a, K: Hash + Eq + Clone, T: Timer> {
    limiter: &'a RateLimiter<K, T>,
    inner: Acquire<K, T::Sleep>,
}

impl<'a, K: Hash + Eq + Clone, T: Timer> RateAcquire<'a, K, T> {
    pub(crate) fn new(limiter: &'a RateLimiter<K, T>, key: K, cost: u32) -> Self {
        RateAcquire {
            limiter,
            inner: Acquire::new(key, cost),
        }
    }
}

impl<K: Hash + Eq + Clone, T: Timer> Future for RateAcquire<'_, K, T> {
    type Output = Result<(), Denied>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.inner.poll(this.limiter, cx)
    }
}

impl<K: Hash + Eq + Clone, T: Timer> Drop for RateAcquire<'_, K, T> {
    fn drop(&mut self) {
        self.inner.cancel(self.limiter);
    }
}

// Nothing is structurally pinned: the sleep is boxed.
impl<K: Hash + Eq + Clone, T: Timer> Unpin for RateAcquire<'_, K, T> {}

impl<K: Hash + Eq + Clone + fmt::Debug, T: Timer> fmt::Debug for RateAcquire<'_, K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateAcquire")
            .field("key", &self.inner.key)
            .field("cost", &self.inner.cost)
            .finish_non_exhaustive()
    }
}

/// Future of [`RateLimiter::acquire_owned`]: like [`RateAcquire`], but holds
/// an `Arc` of the limiter, so it is `'static`.
#[must_use = "futures do nothing unless polled"]
pub struct RateAcquireOwned<K: Hash + Eq + Clone, T: Timer> {
    limiter: Arc<RateLimiter<K, T>>,
    inner: Acquire<K, T::Sleep>,
}

impl<K: Hash + Eq + Clone, T: Timer> RateAcquireOwned<K, T> {
    pub(crate) fn new(limiter: Arc<RateLimiter<K, T>>, key: K, cost: u32) -> Self {
        RateAcquireOwned {
            limiter,
            inner: Acquire::new(key, cost),
        }
    }
}

impl<K: Hash + Eq + Clone, T: Timer> Future for RateAcquireOwned<K, T> {
    type Output = Result<(), Denied>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.inner.poll(&this.limiter, cx)
    }
}

impl<K: Hash + Eq + Clone, T: Timer> Drop for RateAcquireOwned<K, T> {
    fn drop(&mut self) {
        self.inner.cancel(&self.limiter);
    }
}

impl<K: Hash + Eq + Clone, T: Timer> Unpin for RateAcquireOwned<K, T> {}

impl<K: Hash + Eq + Clone + fmt::Debug, T: Timer> fmt::Debug for RateAcquireOwned<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateAcquireOwned")
            .field("key", &self.inner.key)
            .field("cost", &self.inner.cost)
            .finish_non_exhaustive()
    }
}
