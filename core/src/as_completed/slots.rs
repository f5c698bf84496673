//! [`Slots`]: the fixed-capacity engine under every `limited_*` stream.
//!
//! `capacity` future slots, each with a tag and a waker, are allocated once.
//! A future is polled only when its slot is marked: on insertion, or when its
//! waker fires. Marked slots are visited round-robin (a cursor walks the local
//! batch and re-reads the shared ready set only when it wraps), so a future
//! that wakes itself constantly is polled once per lap and cannot starve the
//! others, and a freshly inserted future is polled within the current lap.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::ready::{locate, words_for, ReadySet};
use super::slot_waker::slot_waker;
use crate::sync::Arc;

const BITS: usize = usize::BITS as usize;

/// At least this many futures are polled per call before yielding back to
/// the executor, even for tiny capacities.
const MIN_BUDGET: usize = 32;

/// Fixed-capacity storage of futures, each with a tag returned on completion.
pub(super) struct Slots<F, T> {
    /// Pinned in place: the boxed slice never moves or reallocates, and a
    /// future is only ever dropped in place (by assignment or with the box).
    futures: Box<[Option<F>]>,
    tags: Box<[Option<T>]>,
    wakers: Box<[Waker]>,
    ready: Arc<ReadySet>,
    /// Slots to visit this lap (plain bits, owned by the stream).
    batch: Box<[usize]>,
    /// Next bit of `batch` to look at.
    cursor: usize,
    /// Indices of empty slots; pops the lowest first.
    free: Vec<usize>,
    len: usize,
}

impl<F: Future, T> Slots<F, T> {
    /// `capacity` empty slots; `capacity` must be at least 1.
    pub(super) fn new(capacity: usize) -> Self {
        debug_assert!(capacity > 0);
        let ready = Arc::new(ReadySet::new(capacity));
        Self {
            futures: (0..capacity).map(|_| None).collect(),
            tags: (0..capacity).map(|_| None).collect(),
            wakers: (0..capacity).map(|i| slot_waker(&ready, i)).collect(),
            ready,
            batch: alloc::vec![0; words_for(capacity)].into_boxed_slice(),
            cursor: 0,
            free: (0..capacity).rev().collect(),
            len: 0,
        }
    }

    /// Number of futures held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether every slot is taken (the streams ask their pull rule, which
    /// never lets more in than there are slots).
    #[cfg(all(test, not(loom)))]
    pub(super) fn is_full(&self) -> bool {
        self.free.is_empty()
    }

    /// Stores `future` in a free slot; it is polled on the next
    /// [`poll_next`](Self::poll_next). Panics if full (a caller bug).
    pub(super) fn insert(&mut self, tag: T, future: F) {
        let index = self.free.pop().expect("Slots::insert on a full set");
        // The slot is empty, so nothing pinned is overwritten.
        self.futures[index] = Some(future);
        self.tags[index] = Some(tag);
        self.len += 1;
        let (word, mask) = locate(index);
        self.batch[word] |= mask;
    }

    /// Polls marked futures until one completes, and returns its tag and
    /// output. `Ready(None)` when empty; `Pending` when no marked future is
    /// ready (the task is woken when one is), or after a budget of polls
    /// (the task is woken at once, to let others run).
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(T, F::Output)>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        // Before looking at the ready set, so no wake-up is lost in between.
        self.ready.register(cx.waker());
        let mut budget = self.futures.len().max(MIN_BUDGET);
        while let Some(index) = self.next_marked() {
            if let Some(future) = self.futures[index].as_mut() {
                // SAFETY: the future lives in the boxed slice, which is never
                // moved or reallocated, and it is never moved out: it is
                // dropped in place below, or with the slice.
                let future = unsafe { Pin::new_unchecked(future) };
                let mut slot_cx = Context::from_waker(&self.wakers[index]);
                if let Poll::Ready(output) = future.poll(&mut slot_cx) {
                    // Drops the finished future in place.
                    self.futures[index] = None;
                    let tag = self.tags[index].take().expect("occupied slot has a tag");
                    self.free.push(index);
                    self.len -= 1;
                    return Poll::Ready(Some((tag, output)));
                }
            }
            budget -= 1;
            if budget == 0 {
                // Out of budget: come back at once if anything is marked.
                let marked = self.batch.iter().any(|&w| w != 0);
                if marked || self.ready.drain_into(&mut self.batch) {
                    cx.waker().wake_by_ref();
                }
                return Poll::Pending;
            }
        }
        Poll::Pending
    }

    /// Next marked slot at or after the cursor; on wrapping, takes in what
    /// the slot wakers marked meanwhile and starts a new lap.
    fn next_marked(&mut self) -> Option<usize> {
        let found = match self.find_from(self.cursor) {
            Some(index) => Some(index),
            None => {
                self.ready.drain_into(&mut self.batch);
                self.find_from(0)
            }
        }?;
        let (word, mask) = locate(found);
        self.batch[word] &= !mask;
        self.cursor = found + 1;
        Some(found)
    }

    /// Lowest marked bit of `batch` at index `start` or above.
    fn find_from(&self, start: usize) -> Option<usize> {
        let mut word = start / BITS;
        let mut bits = *self.batch.get(word)? & (usize::MAX << (start % BITS));
        loop {
            if bits != 0 {
                return Some(word * BITS + bits.trailing_zeros() as usize);
            }
            word += 1;
            bits = *self.batch.get(word)?;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use core::future::{pending, ready, Pending, Ready};
    use futures::task::noop_waker;

    #[test]
    fn find_from_walks_words_and_stops_at_the_end() {
        let mut slots: Slots<Ready<()>, ()> = Slots::new(130);
        assert_eq!(slots.find_from(0), None);
        slots.batch[0] = 1 << 3;
        slots.batch[2] = 1;
        assert_eq!(slots.find_from(0), Some(3));
        assert_eq!(slots.find_from(4), Some(128));
        assert_eq!(slots.find_from(129), None);
        assert_eq!(slots.find_from(10_000), None);
    }

    #[test]
    fn inserted_futures_complete_and_free_their_slot() {
        let mut slots = Slots::new(2);
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        slots.insert('a', ready(1));
        slots.insert('b', ready(2));
        assert!(slots.is_full());
        assert_eq!(slots.poll_next(&mut cx), Poll::Ready(Some(('a', 1))));
        assert!(!slots.is_full());
        slots.insert('c', ready(3));
        // Round-robin: 'b' comes before the refilled slot 0.
        assert_eq!(slots.poll_next(&mut cx), Poll::Ready(Some(('b', 2))));
        assert_eq!(slots.poll_next(&mut cx), Poll::Ready(Some(('c', 3))));
        assert_eq!(slots.poll_next(&mut cx), Poll::Ready(None));
        assert_eq!(slots.len(), 0);
    }

    #[test]
    fn unwoken_pending_futures_are_not_polled_again() {
        let mut slots: Slots<Pending<()>, ()> = Slots::new(3);
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        slots.insert((), pending());
        assert_eq!(slots.poll_next(&mut cx), Poll::Pending);
        assert!(slots.batch.iter().all(|&w| w == 0));
        assert!(!slots.ready.drain_into(&mut [0]));
    }
}
