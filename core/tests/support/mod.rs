//! Shared helpers for the integration tests: futures the test opens by
//! hand, sources that count their pulls, wakers that count their wakes.
//! Included by the other test files with `#[path]`; has no tests itself.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

pub use futures::Stream;

#[derive(Default)]
struct GateState {
    value: Option<u32>,
    waker: Option<Waker>,
    polls: usize,
    drops: usize,
}

/// A set of hand-opened futures: `gates.future(id)` is pending until
/// `gates.open(id)`, then yields `id`.
#[derive(Clone, Default)]
pub struct Gates {
    states: Arc<Mutex<Vec<GateState>>>,
}

impl Gates {
    pub fn new(n: usize) -> Self {
        let states = (0..n).map(|_| GateState::default()).collect();
        Self {
            states: Arc::new(Mutex::new(states)),
        }
    }

    pub fn future(&self, id: usize) -> GateFuture {
        GateFuture {
            id,
            gates: self.clone(),
        }
    }

    /// Completes gate `id` (its output is `id`) and wakes it.
    pub fn open(&self, id: usize) {
        let waker = {
            let mut states = self.states.lock().unwrap();
            states[id].value = Some(id as u32);
            states[id].waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes gate `id` without completing it.
    pub fn nudge(&self, id: usize) {
        let waker = self.states.lock().unwrap()[id].waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// A clone of the last waker gate `id` was polled with.
    pub fn waker_of(&self, id: usize) -> Option<Waker> {
        self.states.lock().unwrap()[id].waker.clone()
    }

    pub fn polls(&self, id: usize) -> usize {
        self.states.lock().unwrap()[id].polls
    }

    pub fn drops(&self, id: usize) -> usize {
        self.states.lock().unwrap()[id].drops
    }

    pub fn total_drops(&self) -> usize {
        self.states.lock().unwrap().iter().map(|s| s.drops).sum()
    }

    /// Gates polled at least once and not dropped: the ones running.
    pub fn running(&self) -> Vec<usize> {
        let states = self.states.lock().unwrap();
        (0..states.len())
            .filter(|&i| states[i].polls > 0 && states[i].drops == 0)
            .collect()
    }
}

pub struct GateFuture {
    id: usize,
    gates: Gates,
}

impl Future for GateFuture {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut states = self.gates.states.lock().unwrap();
        let state = &mut states[self.id];
        state.polls += 1;
        match state.value {
            Some(v) => Poll::Ready(v),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for GateFuture {
    fn drop(&mut self) {
        self.gates.states.lock().unwrap()[self.id].drops += 1;
    }
}

/// An iterator that counts how many items were taken from it.
pub struct Counted<I> {
    inner: I,
    pulls: Arc<AtomicUsize>,
}

impl<I> Counted<I> {
    pub fn new(inner: I) -> (Self, Arc<AtomicUsize>) {
        let pulls = Arc::new(AtomicUsize::new(0));
        (
            Self {
                inner,
                pulls: pulls.clone(),
            },
            pulls,
        )
    }
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.inner.next();
        if item.is_some() {
            self.pulls.fetch_add(1, Ordering::SeqCst);
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Queued items, closed flag, waker of the pending reader.
type FeedState<T> = (VecDeque<T>, bool, Option<Waker>);

/// A stream fed by hand: pending while empty, ends once closed and empty.
pub struct Feed<T> {
    state: Arc<Mutex<FeedState<T>>>,
}

impl<T> Clone for Feed<T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new((VecDeque::new(), false, None))),
        }
    }
}

impl<T> Feed<T> {
    pub fn push(&self, item: T) {
        let waker = {
            let mut s = self.state.lock().unwrap();
            s.0.push_back(item);
            s.2.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub fn close(&self) {
        let waker = {
            let mut s = self.state.lock().unwrap();
            s.1 = true;
            s.2.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub fn queued(&self) -> usize {
        self.state.lock().unwrap().0.len()
    }
}

impl<T> Stream for Feed<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.state.lock().unwrap();
        if let Some(item) = s.0.pop_front() {
            return Poll::Ready(Some(item));
        }
        if s.1 {
            return Poll::Ready(None);
        }
        s.2 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
pub struct WakeCounter(AtomicUsize);

impl WakeCounter {
    pub fn new() -> (Arc<Self>, Waker) {
        let counter = Arc::new(Self::default());
        let waker = Waker::from(counter.clone());
        (counter, waker)
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `stream` once with `waker`.
pub fn poll_once<S: Stream + Unpin>(stream: &mut S, waker: &Waker) -> Poll<Option<S::Item>> {
    Pin::new(stream).poll_next(&mut Context::from_waker(waker))
}

/// A future that is pending on its first poll (waking itself), then ready.
pub struct YieldOnce<T>(pub Option<T>, pub bool);

impl<T: Unpin> Future for YieldOnce<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.1 {
            Poll::Ready(self.0.take().expect("polled after completion"))
        } else {
            self.1 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A future that wakes itself on every poll and never completes.
pub struct Spin {
    pub polls: Arc<AtomicUsize>,
}

impl Future for Spin {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls an `Unpin` future once with `waker`.
pub fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// A `Limiter` on a fresh `ManualClock` (and the clock, to move it by hand).
pub fn manual_limiter<K: std::hash::Hash + Eq + Clone>(
    config: weir::LimiterConfig,
) -> (Arc<weir::Limiter<K, weir::ManualClock>>, weir::ManualClock) {
    let clock = weir::ManualClock::new();
    let limiter = weir::Limiter::new(config, clock.clone()).unwrap();
    (Arc::new(limiter), clock)
}
