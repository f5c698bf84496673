//! [`Lookahead`]: the admission rule of the keyed form — at most `limit`
//! items running, at most `per_key` per key, and a bounded look-ahead
//! buffer so that a saturated key does not stall the others.
//!
//! Invariants:
//! - `running() <= limit()` and, for every key, `running_for(key) <= per_key`:
//!   an item starts (is handed back by [`offer`](Lookahead::offer) or
//!   [`next_start`](Lookahead::next_start)) only when both have room.
//! - `waiting() <= lookahead()` as long as the driver pulls only while
//!   [`can_pull`](Lookahead::can_pull) (with at most one pull under way):
//!   when the buffer is full, or every slot runs, the pull stops. Nothing is
//!   dropped: a buffered item stays until it can start.
//! - Per-key order: waiting items start oldest first, and an offered item
//!   is buffered (not started) while an older item of its key waits, so the
//!   items of one key start in the order they were pulled.
//! - Memory: the buffer is allocated once (`lookahead` items); the per-key
//!   counts (running and waiting) forget a key when both drop to 0, so at
//!   most `limit + lookahead` keys are counted.
//! - After [`finish`](Lookahead::finish) the driver calls `next_start` until
//!   `None` and starts what it returns; the scan resumes where it stopped,
//!   so draining after each finish costs one pass over the buffer.
//!
//! [`LimitedAsCompletedKeyed`](super::LimitedAsCompletedKeyed) drives it with
//! futures; the JS `limitedAsCompleted` with a `key` function and `perKey`
//! drives a `Lookahead<u32, u32>` (key and item numbers) through the wasm
//! bindings.

use core::hash::Hash;

use crate::hash::HashMap;
use alloc::vec::Vec;

use super::{Count, KeyCounts, ZeroLimit};

/// Which keyed items may start, and which wait.
///
/// ```
/// use weir::as_completed::Lookahead;
///
/// // 3 slots, 1 per key, 4 items of look-ahead.
/// let mut keys = Lookahead::new(3, 1, 4).unwrap();
/// assert_eq!(keys.offer("a", 1), Some(("a", 1)), "starts");
/// assert_eq!(keys.offer("a", 2), None, "waits: key a is saturated");
/// assert_eq!(keys.offer("b", 3), Some(("b", 3)), "another key is not blocked");
/// keys.finish(&"a");
/// assert_eq!(keys.next_start(), Some(("a", 2)));
/// assert_eq!(keys.next_start(), None);
/// ```
#[derive(Debug)]
pub struct Lookahead<K, T, C = HashMap<K, Count>> {
    limit: usize,
    per_key: usize,
    lookahead: usize,
    running: usize,
    /// Running and waiting items per key; keys at (0, 0) are forgotten.
    counts: C,
    _keys: core::marker::PhantomData<fn(K)>,
    /// Items that could not start when offered, oldest first (a `Vec`:
    /// items leave from anywhere, not only the front).
    waiting: Vec<(K, T)>,
    /// Where `next_start` resumes: the items before it cannot start until
    /// something finishes (which resets it to 0).
    cursor: usize,
}

impl<K: Hash + Eq + Clone, T> Lookahead<K, T> {
    /// `limit` slots, `per_key` per key, `lookahead` buffered items (0 is
    /// taken as 1: an item that found its key saturated has to be held
    /// somewhere). [`ZeroLimit`] if `limit` or `per_key` is 0.
    pub fn new(limit: usize, per_key: usize, lookahead: usize) -> Result<Self, ZeroLimit> {
        // At most `limit + lookahead` keys are counted at once. Twice that
        // keeps every insert within hashbrown's in-place rehash, so it never
        // reallocates.
        let keys = limit
            .saturating_add(lookahead.max(1))
            .saturating_mul(2)
            .saturating_add(2);
        Self::with_counts(
            limit,
            per_key,
            lookahead,
            HashMap::with_capacity_and_hasher(keys, Default::default()),
        )
    }
}

impl<K, T, C: KeyCounts<K>> Lookahead<K, T, C> {
    /// Like [`new`](Lookahead::new), keeping the per-key counts in `counts`
    /// (e.g. [`DenseKeys`](super::DenseKeys) for numbered keys).
    pub fn with_counts(
        limit: usize,
        per_key: usize,
        lookahead: usize,
        counts: C,
    ) -> Result<Self, ZeroLimit> {
        if limit == 0 || per_key == 0 {
            return Err(ZeroLimit);
        }
        let lookahead = lookahead.max(1);
        Ok(Self {
            limit,
            per_key,
            lookahead,
            running: 0,
            counts,
            _keys: core::marker::PhantomData,
            waiting: Vec::with_capacity(lookahead),
            cursor: 0,
        })
    }

    /// The bound on running items.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The bound on buffered items.
    pub fn lookahead(&self) -> usize {
        self.lookahead
    }

    /// Items started and not yet finished.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Items started and not yet finished for `key`.
    pub fn running_for(&self, key: &K) -> usize {
        self.counts.get(key).running
    }

    /// Items buffered because their key (or every slot) was busy.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Whether one more item may be pulled: a slot is free and the buffer
    /// has room.
    pub fn can_pull(&self) -> bool {
        self.running < self.limit && self.waiting.len() < self.lookahead
    }

    /// A pulled item: handed back to be started now (and counted as
    /// running), or `None` when it was buffered.
    pub fn offer(&mut self, key: K, item: T) -> Option<(K, T)> {
        let count = self.counts.entry(&key);
        // Behind an older item of its key it waits even with room: a key's
        // items start in pull order.
        if count.waiting == 0 && count.running < self.per_key && self.running < self.limit {
            count.running += 1;
            self.running += 1;
            return Some((key, item));
        }
        count.waiting += 1;
        self.waiting.push((key, item));
        None
    }

    /// A started item of `key` finished: its slot and its key's place are
    /// free again. `true` when nothing of `key` runs or waits any more (the
    /// key is forgotten; a driver that names keys by number may reuse its
    /// number). A key with nothing running is left alone (`false`).
    pub fn finish(&mut self, key: &K) -> bool {
        if self.counts.get(key).running == 0 {
            return false; // not started: a driver bug, ignored
        }
        let count = self.counts.entry(key);
        count.running -= 1;
        let forgotten = count.running == 0 && count.waiting == 0;
        self.running -= 1;
        self.cursor = 0;
        if forgotten {
            self.counts.forget(key);
        }
        forgotten
    }

    /// The oldest buffered item that can start now (counted as running), or
    /// `None`.
    pub fn next_start(&mut self) -> Option<(K, T)> {
        // The items before the cursor were passed over because their key
        // was saturated; starting items only saturates keys further, so
        // they stay passed over until a finish resets the cursor. Hence the
        // first item of a key found here is its key's oldest waiting one.
        while self.running < self.limit && self.cursor < self.waiting.len() {
            let count = self.counts.entry(&self.waiting[self.cursor].0);
            if count.running < self.per_key {
                count.running += 1;
                count.waiting -= 1;
                self.running += 1;
                return Some(self.waiting.remove(self.cursor));
            }
            self.cursor += 1;
        }
        None
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::DenseKeys;
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    #[test]
    fn zero_caps_are_refused_and_zero_lookahead_holds_one() {
        assert!(Lookahead::<u8, ()>::new(0, 1, 1).is_err());
        assert!(Lookahead::<u8, ()>::new(1, 0, 1).is_err());
        assert_eq!(Lookahead::<u8, ()>::new(1, 1, 0).unwrap().lookahead(), 1);
    }

    #[test]
    fn a_full_buffer_or_full_slots_stop_the_pull() {
        let mut keys = Lookahead::new(2, 1, 2).unwrap();
        assert!(keys.offer('a', 0).is_some());
        assert!(keys.offer('a', 1).is_none());
        assert!(keys.can_pull());
        assert!(keys.offer('a', 2).is_none());
        assert!(!keys.can_pull(), "buffer full");
        keys.finish(&'a');
        assert_eq!(keys.next_start(), Some(('a', 1)));
        assert_eq!(keys.next_start(), None, "a is saturated again");
        assert!(keys.can_pull());
        assert!(keys.offer('b', 3).is_some());
        assert!(!keys.can_pull(), "every slot runs");
    }

    #[test]
    fn an_item_with_room_is_buffered_behind_an_older_item_of_its_key() {
        // Slots full when a2 is offered (a later pull resolved after the
        // slots filled up): a2 waits although key a has room.
        let mut keys = Lookahead::new(2, 2, 4).unwrap();
        assert!(keys.offer('b', 0).is_some());
        assert!(keys.offer('c', 1).is_some());
        assert!(keys.offer('a', 2).is_none(), "no slot");
        assert!(keys.finish(&'b'), "nothing of b is left: forgotten");
        assert!(!keys.finish(&'b'), "b is not running");
        // A newer a must not overtake the buffered one.
        assert!(keys.offer('a', 3).is_none());
        assert_eq!(keys.next_start(), Some(('a', 2)));
        assert_eq!(keys.next_start(), None);
        assert!(!keys.finish(&'a'), "a3 still waits");
        assert_eq!(keys.next_start(), Some(('a', 3)));
        assert!(keys.finish(&'a'), "a3 finished: a is forgotten");
        assert!(keys.finish(&'c'));
        assert_eq!(keys.running(), 0);
    }

    /// Drives `machine` like a stream (pull while `can_pull`, finish in
    /// any order) and checks: the caps hold, the buffer stays bounded, a
    /// key's items start in pull order, every item starts once.
    fn drive<C: KeyCounts<u32>>(
        mut machine: Lookahead<u32, usize, C>,
        per_key: usize,
        keys: &[u32],
        picks: Vec<usize>,
    ) -> Result<(), TestCaseError> {
        let limit = machine.limit();
        let mut next = 0usize;
        let mut running: Vec<(u32, usize)> = Vec::new();
        let mut started: Vec<(u32, usize)> = Vec::new();
        let mut picks = picks.into_iter().chain(core::iter::repeat(0));
        loop {
            while next < keys.len() && machine.can_pull() {
                if let Some(item) = machine.offer(keys[next], next) {
                    running.push(item);
                    started.push(item);
                }
                next += 1;
            }
            prop_assert!(machine.running() <= limit);
            prop_assert!(machine.waiting() <= machine.lookahead());
            for key in 0u32..4 {
                prop_assert!(machine.running_for(&key) <= per_key);
            }
            if running.is_empty() {
                prop_assert_eq!(machine.waiting(), 0, "nothing runs, yet items wait");
                break;
            }
            let (key, _) = running.swap_remove(picks.next().unwrap() % running.len());
            let forgotten = machine.finish(&key);
            let runs = running.iter().filter(|&&(k, _)| k == key).count();
            let waits = keys[..next].iter().filter(|&&k| k == key).count()
                - started.iter().filter(|&&(k, _)| k == key).count();
            prop_assert_eq!(machine.running_for(&key), runs);
            prop_assert_eq!(
                forgotten,
                runs == 0 && waits == 0,
                "forgotten exactly when nothing of the key is left"
            );
            while let Some(item) = machine.next_start() {
                running.push(item);
                started.push(item);
            }
        }
        prop_assert_eq!(next, keys.len());
        let mut all: Vec<usize> = started.iter().map(|&(_, i)| i).collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..keys.len()).collect::<Vec<_>>());
        for key in 0u32..4 {
            let order: Vec<usize> = started
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|&(_, i)| i)
                .collect();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(order, sorted);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn caps_hold_and_every_item_starts_once_in_key_order(
            limit in 1usize..5,
            per_key in 1usize..3,
            lookahead in 0usize..4,
            keys in proptest::collection::vec(0u32..4, 0..60),
            picks in proptest::collection::vec(0usize..16, 0..200),
        ) {
            drive(Lookahead::new(limit, per_key, lookahead).unwrap(), per_key, &keys, picks.clone())?;
            drive(
                Lookahead::with_counts(limit, per_key, lookahead, DenseKeys::default()).unwrap(),
                per_key,
                &keys,
                picks,
            )?;
        }
    }
}
