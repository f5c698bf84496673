//! Slab slots of the semaphore state: one per resident key, one per waiter.
//!
//! Links are `u32` slab indices with [`NIL`] as "none": per-key waiter queues
//! are intrusive doubly linked lists over the waiter slab, and the round-robin
//! ring of keys waiting on the global cap and the list of idle keys kept for
//! reuse are [`KeyList`]s over the key slab, so every removal is O(1).

use super::error::AcquireError;

/// The "no slot" link.
pub(crate) const NIL: u32 = u32::MAX;

/// A resident key: its permits in flight and its FIFO of waiters.
pub(crate) struct KeySlot<K> {
    /// `None` when the slot is on the free list.
    pub(crate) key: Option<K>,
    /// The key's hash, kept so that eviction and rehashing need no hashing.
    pub(crate) hash: u64,
    /// Permits held by this key (granted, including granted-but-unclaimed).
    pub(crate) in_flight: usize,
    /// Oldest queued waiter.
    pub(crate) head: u32,
    /// Newest queued waiter.
    pub(crate) tail: u32,
    /// Whether the key is in the round-robin ring (its head fits the per-key
    /// cap and waits only for the global cap).
    pub(crate) in_ring: bool,
    /// Whether the key is idle but kept indexed in the idle list, so that
    /// using it again needs no insert (and idling it again no remove).
    pub(crate) in_idle: bool,
    /// Links of the one [`KeyList`] the key is on: the ring needs a waiter,
    /// the idle list needs none, so a key is never on both.
    pub(crate) link_prev: u32,
    pub(crate) link_next: u32,
}

impl<K> KeySlot<K> {
    pub(crate) fn new(key: K, hash: u64) -> Self {
        KeySlot {
            key: Some(key),
            hash,
            in_flight: 0,
            head: NIL,
            tail: NIL,
            in_ring: false,
            in_idle: false,
            link_prev: NIL,
            link_next: NIL,
        }
    }

    /// Nothing in flight and nobody waiting: the slot can be evicted.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight == 0 && self.head == NIL
    }
}

/// An intrusive doubly linked list of key slots (through `link_prev` /
/// `link_next`): O(1) push at the back and removal anywhere.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyList {
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

impl KeyList {
    pub(crate) const EMPTY: KeyList = KeyList {
        head: NIL,
        tail: NIL,
    };

    /// True when no slot is on the list.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends `slot` (which is on no list).
    #[inline]
    pub(crate) fn push_back<K>(&mut self, keys: &mut [KeySlot<K>], slot: u32) {
        let tail = self.tail;
        let key = &mut keys[slot as usize];
        key.link_prev = tail;
        key.link_next = NIL;
        if tail == NIL {
            self.head = slot;
        } else {
            keys[tail as usize].link_next = slot;
        }
        self.tail = slot;
    }

    /// Unlinks `slot` (which is on this list).
    #[inline]
    pub(crate) fn remove<K>(&mut self, keys: &mut [KeySlot<K>], slot: u32) {
        let key = &mut keys[slot as usize];
        let (prev, next) = (key.link_prev, key.link_next);
        key.link_prev = NIL;
        key.link_next = NIL;
        if prev == NIL {
            self.head = next;
        } else {
            keys[prev as usize].link_next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            keys[next as usize].link_prev = prev;
        }
    }
}

/// Where a waiter stands.
pub(crate) enum WaiterStage<W> {
    /// On the free list.
    Free,
    /// Queued on its key, holding its payload (a waker).
    Queued(W),
    /// Granted: its permits are counted in flight; awaiting claim or cancel.
    Granted,
    /// Removed from the queue because a limit fell below its request.
    Rejected(AcquireError),
}

/// One waiter.
pub(crate) struct WaiterSlot<W> {
    /// Bumped every time the slot is freed, so stale ids are recognised.
    pub(crate) generation: u32,
    pub(crate) stage: WaiterStage<W>,
    /// The key slot it queues on (and, once granted, holds permits of).
    pub(crate) key: u32,
    /// Permits requested.
    pub(crate) permits: usize,
    pub(crate) prev: u32,
    pub(crate) next: u32,
}
