//! [`LimiterAcquire`]: the waiting acquire of a [`Limiter`] as a small,
//! named future (no boxed sub-futures unless a sleep is needed).
//!
//! Stages, in admission order (see the module docs of `limiter`):
//! `Start` → `Rate` (only when the rate state is engaged) → `Permits` →
//! done. The queue place taken when the first attempt fails is held until
//! the acquire finishes or is dropped.
//!
//! Invariants:
//! - no concurrency permit is held while waiting for time: `Rate` holds
//!   nothing; when the tokens turn out to be gone once the permits are
//!   granted (other keys spent a global quota meanwhile, a pause came), the
//!   permits go straight back and the wait returns to `Rate`;
//! - FIFO per key: the rate wait keeps its place at the head of the key's
//!   rate queue from the moment it is ready until its tokens are taken, so
//!   later waiters of the key stay behind it;
//! - all or nothing: the tokens of every quota are taken in one step, at the
//!   instant the permits are granted (work starts obey every quota).

use core::fmt;
use core::future::Future;
use core::hash::Hash;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::{denied, Limiter, LimiterError, LimiterGrant};
use crate::rate::{Denied, RateWait};
use crate::semaphore::{AcquireError, Request};
use crate::sync::Ordering;
use crate::Timer;
use alloc::boxed::Box;
use alloc::sync::Arc;

/// The rate stages are boxed: they occur only with quotas or pauses, and
/// unboxed they would double the size of every waiting acquire (the bindings
/// park a million of them).
enum Stage<K, S> {
    /// Not yet polled: nothing taken, not queued.
    Start(K),
    /// Waiting (holding nothing) until the key's pause is over and its rate
    /// tokens are there, as the head of the key's rate queue.
    Rate(Box<RateWait<K, S>>),
    /// Waiting for concurrency permits; with the rate state engaged, the
    /// ready rate wait keeps its place meanwhile.
    Permits(Request<K>, Option<Box<RateWait<K, S>>>),
    /// Finished (or between stages).
    Done,
}

/// The future of [`Limiter::acquire_grant`]: resolves to a [`LimiterGrant`]
/// once every limit admits the work.
///
/// Dropping it before it resolves leaves the queue at once and gives back
/// whatever it held (permits granted meanwhile pass on to the next waiter).
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use weir::{Limiter, LimiterConfig, ManualClock};
/// let limiter = Arc::new(Limiter::new(
///     LimiterConfig { concurrency: Some(1), ..Default::default() },
///     ManualClock::new(),
/// ).unwrap());
/// let first = limiter.acquire_grant("k", 1).await.unwrap();
/// let mut second = Box::pin(limiter.acquire_grant("k", 1));
/// assert!(futures::poll!(second.as_mut()).is_pending());
/// assert_eq!(limiter.stats().queued, 1);
/// limiter.release(first);
/// let second = second.await.unwrap();
/// limiter.release(second);
/// assert_eq!(limiter.stats().in_flight, 0);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct LimiterAcquire<K: Hash + Eq + Clone, T: Timer> {
    limiter: Arc<Limiter<K, T>>,
    cost: u32,
    /// Whether this acquire holds a place in the bounded queue.
    queued: bool,
    stage: Stage<K, T::Sleep>,
}

impl<K: Hash + Eq + Clone, T: Timer> LimiterAcquire<K, T> {
    pub(crate) fn new(limiter: Arc<Limiter<K, T>>, key: K, cost: u32) -> Self {
        LimiterAcquire {
            limiter,
            cost,
            queued: false,
            stage: Stage::Start(key),
        }
    }

    /// The key being waited for (`None` once finished).
    pub fn key(&self) -> Option<&K> {
        match &self.stage {
            Stage::Start(key) => Some(key),
            Stage::Rate(wait) => Some(wait.key()),
            Stage::Permits(request, _) => request.key(),
            Stage::Done => None,
        }
    }

    fn finish(
        &mut self,
        outcome: Result<LimiterGrant, LimiterError>,
    ) -> Poll<Result<LimiterGrant, LimiterError>> {
        self.stage = Stage::Done;
        self.leave_queue();
        Poll::Ready(outcome)
    }

    fn leave_queue(&mut self) {
        if self.queued {
            self.queued = false;
            self.limiter.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

// Nothing is structurally pinned: sleeps are boxed inside the rate waits.
impl<K: Hash + Eq + Clone, T: Timer> Unpin for LimiterAcquire<K, T> {}

impl<K: Hash + Eq + Clone, T: Timer> Future for LimiterAcquire<K, T> {
    type Output = Result<LimiterGrant, LimiterError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match core::mem::replace(&mut this.stage, Stage::Done) {
                Stage::Start(key) => {
                    match this.limiter.try_acquire_grant(&key, this.cost) {
                        Err(LimiterError::Busy | LimiterError::RateLimited { .. }) => {}
                        done => return this.finish(done),
                    }
                    // The place is given back by `leave_queue`, not a guard.
                    let entered = this.limiter.enter_queue().map(core::mem::forget);
                    if let Err(full) = entered {
                        return this.finish(Err(full));
                    }
                    this.queued = true;
                    this.stage = if this.limiter.rate_engaged() {
                        Stage::Rate(Box::new(RateWait::holding(key, this.cost)))
                    } else {
                        Stage::Permits(Request::new(key, this.cost as usize), None)
                    };
                }
                Stage::Rate(mut wait) => match wait.poll(&this.limiter.rate, cx) {
                    Poll::Pending => {
                        this.stage = Stage::Rate(wait);
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(d)) => return this.finish(Err(denied(d))),
                    Poll::Ready(Ok(())) => {
                        // Ready, still first in the key's rate queue.
                        let request = Request::new(wait.key().clone(), this.cost as usize);
                        this.stage = Stage::Permits(request, Some(wait));
                    }
                },
                Stage::Permits(mut request, wait) => {
                    match request.poll_grant(&this.limiter.semaphore, cx) {
                        Poll::Pending => {
                            this.stage = Stage::Permits(request, wait);
                            return Poll::Pending;
                        }
                        Poll::Ready(Err(AcquireError::TooLarge { requested, limit })) => {
                            if let Some(mut wait) = wait {
                                wait.cancel(&this.limiter.rate);
                            }
                            return this.finish(Err(LimiterError::TooLarge { requested, limit }));
                        }
                        Poll::Ready(Ok(grant)) => {
                            let grant = LimiterGrant(grant);
                            let taken = match wait {
                                Some(mut wait) => match wait.take(&this.limiter.rate) {
                                    Ok(()) => Ok(()),
                                    Err(_) => Err(wait),
                                },
                                // The rate state was engaged (a pause) while
                                // this waited for permits only.
                                None if this.limiter.rate_engaged() => {
                                    match this.limiter.rate.check(
                                        request.key().expect("key present until taken"),
                                        this.cost,
                                    ) {
                                        Ok(()) => Ok(()),
                                        Err(Denied::ExceedsBurst { cost, burst }) => {
                                            this.limiter.release(grant);
                                            return this.finish(Err(LimiterError::ExceedsBurst {
                                                cost,
                                                burst,
                                            }));
                                        }
                                        Err(Denied::NotUntil(_)) => Err(Box::new(
                                            RateWait::holding(request.take_key(), this.cost),
                                        )),
                                    }
                                }
                                None => Ok(()),
                            };
                            match taken {
                                Ok(()) => return this.finish(Ok(grant)),
                                Err(wait) => {
                                    // The tokens went elsewhere: no permit is
                                    // held while waiting for them.
                                    this.limiter.release(grant);
                                    this.stage = Stage::Rate(wait);
                                }
                            }
                        }
                    }
                }
                Stage::Done => panic!("limiter acquire polled after completion"),
            }
        }
    }
}

impl<K: Hash + Eq + Clone, T: Timer> Drop for LimiterAcquire<K, T> {
    fn drop(&mut self) {
        match core::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Start(_) | Stage::Done => {}
            Stage::Rate(mut wait) => wait.cancel(&self.limiter.rate),
            Stage::Permits(mut request, wait) => {
                request.cancel(&self.limiter.semaphore);
                if let Some(mut wait) = wait {
                    wait.cancel(&self.limiter.rate);
                }
            }
        }
        self.leave_queue();
    }
}

impl<K: Hash + Eq + Clone + fmt::Debug, T: Timer> fmt::Debug for LimiterAcquire<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimiterAcquire")
            .field("key", &self.key())
            .field("cost", &self.cost)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}
