//! Slab slots of the semaphore state: one per resident key, one per waiter.
//!
//! Links are `u32` slab indices with [`NIL`] as "none": per-key waiter queues
//! are intrusive doubly linked lists over the waiter slab, and the round-robin
//! ring of keys waiting on the global cap is one over the key slab, so every
//! removal is O(1).

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
    /// The key's soft cap (see `key_caps`), copied here from the caps table
    /// when the slot is created and whenever the key's cap changes.
    pub(crate) soft_cap: Option<usize>,
    /// Oldest queued waiter.
    pub(crate) head: u32,
    /// Newest queued waiter.
    pub(crate) tail: u32,
    /// Whether the key is in the round-robin ring (its head fits the per-key
    /// cap and waits only for the global cap).
    pub(crate) in_ring: bool,
    /// Whether the key is idle and on the idle list, which then threads
    /// through `ring_prev` / `ring_next` (an idle key is never in the ring).
    pub(crate) parked: bool,
    pub(crate) ring_prev: u32,
    pub(crate) ring_next: u32,
}

impl<K> KeySlot<K> {
    pub(crate) fn new(key: K, hash: u64, soft_cap: Option<usize>) -> Self {
        KeySlot {
            key: Some(key),
            hash,
            in_flight: 0,
            soft_cap,
            head: NIL,
            tail: NIL,
            in_ring: false,
            parked: false,
            ring_prev: NIL,
            ring_next: NIL,
        }
    }

    /// Nothing in flight and nobody waiting: the slot can be evicted.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight == 0 && self.head == NIL
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
