//! The keyed semaphore as a pure state machine.

use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasher, Hash};

use crate::hash::KeyHash;
use hashbrown::hash_table::{Entry, HashTable};

use super::error::{AcquireError, LimitError, TryAcquireError};
use super::key_caps::KeyCaps;
use super::slots::{KeySlot, WaiterSlot, WaiterStage, NIL};

/// Permits granted by a [`SemaphoreState`]: hand it back to
/// [`SemaphoreState::release`] exactly once (dropping it leaks its permits).
///
/// It remembers its key's slot, so releasing needs no hashing.
#[must_use = "a Grant holds permits until it is released"]
#[derive(Debug, PartialEq, Eq)]
pub struct Grant {
    slot: u32,
    permits: usize,
}

impl Grant {
    /// The grant of zero permits: holds nothing, releases nothing.
    pub(crate) const EMPTY: Grant = Grant {
        slot: NIL,
        permits: 0,
    };

    /// How many permits this grant holds.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Moves `permits` of this grant's permits into a grant of their own
    /// (same key), to be released apart from the rest.
    ///
    /// # Panics
    /// If the grant holds fewer than `permits`.
    pub fn split_off(&mut self, permits: usize) -> Grant {
        assert!(
            permits <= self.permits,
            "split_off: the grant holds fewer permits"
        );
        self.permits -= permits;
        Grant {
            slot: if permits == 0 { NIL } else { self.slot },
            permits,
        }
    }

    /// Adds `other`'s permits to this grant. Both must come from the same
    /// semaphore; an empty grant takes on `other`'s key. Grants of two
    /// different keys do not merge: `other` comes back unchanged.
    pub fn merge(&mut self, other: Grant) -> Result<(), Grant> {
        if other.permits == 0 {
            return Ok(());
        }
        if self.permits == 0 {
            *self = other;
            return Ok(());
        }
        if self.slot != other.slot {
            return Err(other);
        }
        self.permits += other.permits;
        Ok(())
    }
}

/// A queued waiter of a [`SemaphoreState`]. Ids of finished or cancelled
/// waiters are recognised as stale (slots carry a generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaiterId {
    index: u32,
    generation: u32,
}

/// The answer of [`SemaphoreState::acquire`].
#[derive(Debug, PartialEq, Eq)]
pub enum Acquired {
    /// Granted at once.
    Granted(Grant),
    /// Queued: poll [`SemaphoreState::poll`] with this id after its payload
    /// has been handed back by a state change, or cancel it.
    Queued(WaiterId),
}

/// Where a queued waiter stands, as seen by [`SemaphoreState::poll`].
#[derive(Debug, PartialEq, Eq)]
pub enum WaiterPoll<'a, W> {
    /// Still queued; its payload may be replaced (e.g. by a newer waker).
    Waiting(&'a mut W),
    /// Granted; the waiter is finished and its id is now stale.
    Granted(Grant),
    /// A limit was lowered below its request; the id is now stale.
    Rejected(AcquireError),
    /// The id is stale: the waiter was already claimed or cancelled.
    Gone,
}

/// A snapshot of a semaphore's occupancy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SemaphoreStats {
    /// Permits held in total (granted, including granted-but-unclaimed).
    pub in_flight: usize,
    /// Waiters queued.
    pub waiting: usize,
    /// Keys resident (with permits in flight or waiters).
    pub keys: usize,
}

/// The keyed semaphore's pure state: a global cap and a per-key cap, FIFO per
/// key, round-robin across keys waiting on the global cap.
///
/// It never blocks, wakes or allocates on its own behalf: every call returns
/// at once, and waiters' payloads `W` (wakers, in
/// [`KeyedSemaphore`](super::KeyedSemaphore)) whose state changed are pushed
/// into the `woken` sink the caller passes, to be woken after the caller has
/// released whatever lock guards the state.
///
/// Rules, for a request of `n` permits on `key`:
/// - `n == 0` is granted at once and releases nothing; `n` above a finite
///   limit is an error.
/// - A key may also have a *soft* cap (a default, or its own override set by
///   [`set_key_cap`](Self::set_key_cap), e.g. by an adaptive controller):
///   a request fits it if the key's permits in flight plus `n` stay within
///   it, or if the key has nothing in flight — a request above a soft cap
///   is admitted alone, never refused and never stuck. Overrides outlive
///   the key's slot: a key evicted and used again gets its override back.
/// - A request is granted at once only if its key has no waiters, fits both
///   caps, and no key is queued on the global cap (no barging).
/// - Waiters of one key are served in FIFO order. A key whose oldest waiter
///   fits its per-key cap joins the round-robin ring; when global permits
///   free, the ring is served one grant per key per turn. The ring's front
///   waits until the global cap has room for it (big requests do not starve).
/// - Keys with nothing in flight and nobody queued are idle: they do not
///   count in [`stats`](Self::stats), and all but the last 32 of them are
///   evicted (those stay indexed, so a key used again soon is neither
///   re-inserted nor, when it is the key used last, re-hashed).
///
/// `K`'s `Hash`, `Eq`, `Clone` and `Drop` run inside these calls (so under the
/// caller's lock): they must not re-enter the semaphore.
///
/// ```
/// use weir::semaphore::{Acquired, SemaphoreState, WaiterPoll};
/// let mut st: SemaphoreState<&str, u32> = SemaphoreState::new(Some(1), None).unwrap();
/// let Acquired::Granted(g) = st.acquire(&"a", 1, || 7).unwrap() else { panic!() };
/// let Acquired::Queued(id) = st.acquire(&"b", 1, || 8).unwrap() else { panic!() };
/// let mut woken = Vec::new();
/// st.release(g, &mut woken);
/// assert_eq!(woken, [8]);
/// let WaiterPoll::Granted(g) = st.poll(id) else { panic!() };
/// st.release(g, &mut woken);
/// assert_eq!(st.stats().keys, 0);
/// ```
pub struct SemaphoreState<K, W> {
    global: Option<usize>,
    per_key: Option<usize>,
    /// Soft per-key caps (a default and overrides), kept across eviction.
    soft: KeyCaps<K>,
    /// The smallest finite cap (`usize::MAX` when both are unlimited).
    max_request: usize,
    in_flight: usize,
    waiting: usize,
    hasher: KeyHash,
    index: HashTable<u32>,
    keys: Vec<KeySlot<K>>,
    free_keys: Vec<u32>,
    waiters: Vec<WaiterSlot<W>>,
    free_waiters: Vec<u32>,
    /// Waiter slots not on the free list.
    live_waiters: usize,
    /// Generation given to waiter slots the slab grows by: above every
    /// generation a discarded slot ever had, so stale ids stay stale.
    fresh_generation: u32,
    ring_head: u32,
    ring_tail: u32,
    /// The slot of the key looked up last (`NIL` if evicted since): a hot
    /// key (or the one key of an unkeyed caller) skips hashing entirely.
    last_slot: u32,
    /// Idle keys still indexed, oldest first, linked through their ring
    /// links (an idle key is never in the ring); `idle` counts them.
    idle_head: u32,
    idle_tail: u32,
    idle: usize,
}

/// Slabs longer than this are released once nothing uses them.
const KEEP_IDLE_SLOTS: usize = 64;

/// Idle keys kept indexed, so that a key used again soon is found where it
/// was (no insert, no removal, no key clone per acquire + release); beyond
/// this many, the key idle longest is evicted.
const IDLE_KEYS: usize = 32;

impl<K, W> fmt::Debug for SemaphoreState<K, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreState")
            .field("global", &self.global)
            .field("per_key", &self.per_key)
            .field("in_flight", &self.in_flight)
            .field("waiting", &self.waiting)
            .field("keys", &(self.index.len() - self.idle))
            .finish_non_exhaustive()
    }
}

fn check_limits(global: Option<usize>, per_key: Option<usize>) -> Result<(), LimitError> {
    if global == Some(0) {
        return Err(LimitError::GLOBAL);
    }
    if per_key == Some(0) {
        return Err(LimitError::PER_KEY);
    }
    Ok(())
}

/// The largest request the caps allow: the smallest finite one.
fn max_request(global: Option<usize>, per_key: Option<usize>) -> usize {
    global
        .unwrap_or(usize::MAX)
        .min(per_key.unwrap_or(usize::MAX))
}

/// `used + n <= limit` without overflow (`None` is unlimited).
#[inline]
fn fits(limit: Option<usize>, used: usize, n: usize) -> bool {
    match used.checked_add(n) {
        Some(total) => limit.map_or(true, |l| total <= l),
        None => false,
    }
}

impl<K, W> SemaphoreState<K, W> {
    /// A state with the given caps (`None` = unlimited). A zero cap is an error.
    pub fn new(global: Option<usize>, per_key: Option<usize>) -> Result<Self, LimitError> {
        check_limits(global, per_key)?;
        Ok(SemaphoreState {
            global,
            per_key,
            soft: KeyCaps::new(),
            max_request: max_request(global, per_key),
            in_flight: 0,
            waiting: 0,
            hasher: KeyHash::default(),
            index: HashTable::new(),
            keys: Vec::new(),
            free_keys: Vec::new(),
            waiters: Vec::new(),
            free_waiters: Vec::new(),
            live_waiters: 0,
            fresh_generation: 0,
            ring_head: NIL,
            last_slot: NIL,
            ring_tail: NIL,
            idle_head: NIL,
            idle_tail: NIL,
            idle: 0,
        })
    }

    /// The caps in force: `(global, per_key)`.
    pub fn limits(&self) -> (Option<usize>, Option<usize>) {
        (self.global, self.per_key)
    }

    /// Permits in flight, waiters queued and keys resident.
    pub fn stats(&self) -> SemaphoreStats {
        SemaphoreStats {
            in_flight: self.in_flight,
            waiting: self.waiting,
            keys: self.index.len() - self.idle,
        }
    }

    /// Where waiter `id` stands. Claiming a grant or a rejection frees the
    /// waiter (its id becomes stale).
    pub fn poll(&mut self, id: WaiterId) -> WaiterPoll<'_, W> {
        let Some(w) = self.live_waiter(id) else {
            return WaiterPoll::Gone;
        };
        let waiter = &mut self.waiters[w as usize];
        if matches!(waiter.stage, WaiterStage::Queued(_)) {
            let WaiterStage::Queued(payload) = &mut self.waiters[w as usize].stage else {
                unreachable!()
            };
            return WaiterPoll::Waiting(payload);
        }
        let (slot, permits) = (waiter.key, waiter.permits);
        let stage = core::mem::replace(&mut waiter.stage, WaiterStage::Free);
        self.free_waiter(w);
        match stage {
            WaiterStage::Granted => WaiterPoll::Granted(Grant { slot, permits }),
            WaiterStage::Rejected(err) => WaiterPoll::Rejected(err),
            WaiterStage::Queued(_) | WaiterStage::Free => unreachable!("checked above"),
        }
    }

    /// Withdraws waiter `id`. A queued waiter leaves its queue (which may let
    /// others through); a granted-but-unclaimed one releases its permits to
    /// the next waiters. Returns the payload of a still-queued waiter, for the
    /// caller to drop outside its lock. Stale ids are ignored.
    pub fn cancel(&mut self, id: WaiterId, woken: &mut impl Extend<W>) -> Option<W> {
        let w = self.live_waiter(id)?;
        let (slot, permits) = (
            self.waiters[w as usize].key,
            self.waiters[w as usize].permits,
        );
        match core::mem::replace(&mut self.waiters[w as usize].stage, WaiterStage::Free) {
            WaiterStage::Queued(payload) => {
                let was_head = self.keys[slot as usize].head == w;
                self.unlink_waiter(w);
                self.free_waiter(w);
                if was_head {
                    self.refresh_ring(slot);
                    self.drain(woken);
                }
                self.park_if_idle(slot);
                Some(payload)
            }
            WaiterStage::Granted => {
                self.free_waiter(w);
                self.release(Grant { slot, permits }, woken);
                None
            }
            WaiterStage::Rejected(_) | WaiterStage::Free => {
                self.free_waiter(w);
                None
            }
        }
    }

    /// Returns a grant's permits to its key and to the global cap at once,
    /// granting whoever they let through.
    pub fn release(&mut self, grant: Grant, woken: &mut impl Extend<W>) {
        if grant.permits == 0 {
            return;
        }
        let slot = grant.slot;
        let key = &mut self.keys[slot as usize];
        debug_assert!(key.key.is_some() && key.in_flight >= grant.permits);
        key.in_flight -= grant.permits;
        self.in_flight -= grant.permits;
        self.refresh_ring(slot);
        self.drain(woken);
        self.park_if_idle(slot);
    }

    /// Changes the caps. Raising grants whoever now fits; lowering revokes
    /// nothing already held; queued waiters whose request now exceeds a
    /// finite limit are rejected (their payloads are pushed to `woken` too).
    pub fn set_limits(
        &mut self,
        global: Option<usize>,
        per_key: Option<usize>,
        woken: &mut impl Extend<W>,
    ) -> Result<(), LimitError> {
        check_limits(global, per_key)?;
        self.global = global;
        self.per_key = per_key;
        self.max_request = max_request(global, per_key);
        for slot in 0..self.keys.len() as u32 {
            if self.keys[slot as usize].key.is_none() {
                continue;
            }
            let mut w = self.keys[slot as usize].head;
            while w != NIL {
                let next = self.waiters[w as usize].next;
                if let Err(err) = self.check_size(self.waiters[w as usize].permits) {
                    self.unlink_waiter(w);
                    let stage = WaiterStage::Rejected(err);
                    if let WaiterStage::Queued(payload) =
                        core::mem::replace(&mut self.waiters[w as usize].stage, stage)
                    {
                        woken.extend(Some(payload));
                    }
                }
                w = next;
            }
            self.refresh_ring(slot);
        }
        self.drain(woken);
        let mut slot = 0;
        // Evicting the last key may release the slab: re-check the length.
        while slot < self.keys.len() {
            if self.keys[slot].key.is_some() {
                self.park_if_idle(slot as u32);
            }
            slot += 1;
        }
        Ok(())
    }

    // ---- internals -------------------------------------------------------

    /// The smallest finite limit, if `n` exceeds it.
    #[inline]
    fn check_size(&self, n: usize) -> Result<(), AcquireError> {
        if n > self.max_request {
            let limit = self.max_request;
            return Err(AcquireError::TooLarge {
                requested: n,
                limit,
            });
        }
        Ok(())
    }

    /// `n` more permits fit `slot`'s hard cap and its soft cap (which a
    /// key with nothing in flight always fits).
    #[inline]
    fn fits_key(&self, slot: u32, n: usize) -> bool {
        let key = &self.keys[slot as usize];
        fits(self.per_key, key.in_flight, n)
            && (key.in_flight == 0 || fits(key.soft_cap, key.in_flight, n))
    }

    /// The key's oldest waiter fits the per-key cap.
    #[inline]
    fn head_fits_key(&self, slot: u32) -> bool {
        let head = self.keys[slot as usize].head;
        head != NIL && self.fits_key(slot, self.waiters[head as usize].permits)
    }

    #[inline]
    fn can_grant_now(&self, slot: u32, n: usize) -> bool {
        self.keys[slot as usize].head == NIL
            && self.ring_head == NIL
            && self.fits_key(slot, n)
            && fits(self.global, self.in_flight, n)
    }

    #[inline]
    fn grant_now(&mut self, slot: u32, n: usize) -> Grant {
        if self.keys[slot as usize].parked {
            self.unpark(slot);
        }
        self.keys[slot as usize].in_flight += n;
        self.in_flight += n;
        Grant { slot, permits: n }
    }

    /// Where `slot` may have become idle: put it at the end of the idle
    /// list (evicting the key idle longest beyond [`IDLE_KEYS`]), or, when
    /// no key is active after a burst, forget every key and give the slabs back.
    fn park_if_idle(&mut self, slot: u32) {
        let key = &self.keys[slot as usize];
        if !key.is_idle() || key.parked {
            return;
        }
        debug_assert!(!key.in_ring);
        let tail = self.idle_tail;
        let key = &mut self.keys[slot as usize];
        key.parked = true;
        key.ring_prev = tail;
        key.ring_next = NIL;
        if tail == NIL {
            self.idle_head = slot;
        } else {
            self.keys[tail as usize].ring_next = slot;
        }
        self.idle_tail = slot;
        self.idle += 1;
        if self.idle == self.index.len() && self.keys.len() > KEEP_IDLE_SLOTS {
            // Nothing is active, so no grant refers to a slot: give back
            // the memory of a past burst of keys.
            self.forget_every_key();
        } else if self.idle > IDLE_KEYS {
            let oldest = self.idle_head;
            self.unpark(oldest);
            self.evict(oldest);
        }
    }

    /// Takes an idle key off the idle list (it is about to be used).
    fn unpark(&mut self, slot: u32) {
        let key = &mut self.keys[slot as usize];
        let (prev, next) = (key.ring_prev, key.ring_next);
        key.parked = false;
        key.ring_prev = NIL;
        key.ring_next = NIL;
        if prev == NIL {
            self.idle_head = next;
        } else {
            self.keys[prev as usize].ring_next = next;
        }
        if next == NIL {
            self.idle_tail = prev;
        } else {
            self.keys[next as usize].ring_prev = prev;
        }
        self.idle -= 1;
    }

    /// Removes an idle, unparked key from the index and frees its slot.
    fn evict(&mut self, slot: u32) {
        let hash = self.keys[slot as usize].hash;
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == slot) {
            entry.remove();
        }
        self.keys[slot as usize].key = None;
        self.free_keys.push(slot);
        if self.last_slot == slot {
            self.last_slot = NIL;
        }
    }

    /// With every resident key idle: forget them all and shrink the slabs.
    fn forget_every_key(&mut self) {
        self.keys.clear();
        self.keys.shrink_to(KEEP_IDLE_SLOTS);
        self.free_keys.clear();
        self.free_keys.shrink_to(KEEP_IDLE_SLOTS);
        self.index.clear();
        self.index
            .shrink_to(0, |_| unreachable!("the index is empty"));
        self.idle_head = NIL;
        self.idle_tail = NIL;
        self.idle = 0;
        self.last_slot = NIL;
    }

    fn live_waiter(&self, id: WaiterId) -> Option<u32> {
        let w = self.waiters.get(id.index as usize)?;
        (w.generation == id.generation && !matches!(w.stage, WaiterStage::Free)).then_some(id.index)
    }

    /// Appends a waiter to `slot`'s queue. Callers ensure it could not be
    /// granted now, so the ring front still does not fit: no drain needed.
    fn enqueue(&mut self, slot: u32, n: usize, payload: W) -> WaiterId {
        if self.keys[slot as usize].parked {
            self.unpark(slot);
        }
        let tail = self.keys[slot as usize].tail;
        let fresh = WaiterSlot {
            generation: 0,
            stage: WaiterStage::Queued(payload),
            key: slot,
            permits: n,
            prev: tail,
            next: NIL,
        };
        let index = match self.free_waiters.pop() {
            Some(index) => {
                let generation = self.waiters[index as usize].generation;
                self.waiters[index as usize] = WaiterSlot {
                    generation,
                    ..fresh
                };
                index
            }
            None => {
                let index = u32::try_from(self.waiters.len()).ok().filter(|&i| i != NIL);
                let index = index.expect("too many waiters");
                self.waiters.push(WaiterSlot {
                    generation: self.fresh_generation,
                    ..fresh
                });
                index
            }
        };
        self.live_waiters += 1;
        if tail == NIL {
            self.keys[slot as usize].head = index;
        } else {
            self.waiters[tail as usize].next = index;
        }
        self.keys[slot as usize].tail = index;
        self.waiting += 1;
        if tail == NIL {
            self.refresh_ring(slot);
        }
        WaiterId {
            index,
            generation: self.waiters[index as usize].generation,
        }
    }

    /// Takes a queued waiter out of its key's queue (not out of the slab).
    fn unlink_waiter(&mut self, w: u32) {
        let WaiterSlot {
            key, prev, next, ..
        } = self.waiters[w as usize];
        if prev == NIL {
            self.keys[key as usize].head = next;
        } else {
            self.waiters[prev as usize].next = next;
        }
        if next == NIL {
            self.keys[key as usize].tail = prev;
        } else {
            self.waiters[next as usize].prev = prev;
        }
        self.waiters[w as usize].prev = NIL;
        self.waiters[w as usize].next = NIL;
        self.waiting -= 1;
    }

    fn free_waiter(&mut self, w: u32) {
        let slot = &mut self.waiters[w as usize];
        slot.stage = WaiterStage::Free;
        slot.generation = slot.generation.wrapping_add(1);
        self.free_waiters.push(w);
        self.live_waiters -= 1;
        if self.live_waiters == 0 && self.waiters.len() > KEEP_IDLE_SLOTS {
            // No waiter is live: give back the memory of a past burst.
            let newest = self.waiters.iter().map(|w| w.generation).max().unwrap_or(0);
            self.fresh_generation = newest.wrapping_add(1);
            self.waiters.clear();
            self.waiters.shrink_to(KEEP_IDLE_SLOTS);
            self.free_waiters.clear();
            self.free_waiters.shrink_to(KEEP_IDLE_SLOTS);
        }
    }

    /// Puts `slot` in the ring iff its oldest waiter fits the per-key cap.
    /// A key already in the ring keeps its place.
    fn refresh_ring(&mut self, slot: u32) {
        let eligible = self.head_fits_key(slot);
        let in_ring = self.keys[slot as usize].in_ring;
        if eligible && !in_ring {
            self.ring_push_back(slot);
        } else if !eligible && in_ring {
            self.ring_remove(slot);
        }
    }

    /// Serves the ring round-robin while the global cap has room for its front.
    fn drain(&mut self, woken: &mut impl Extend<W>) {
        while self.ring_head != NIL {
            let slot = self.ring_head;
            let w = self.keys[slot as usize].head;
            let n = self.waiters[w as usize].permits;
            if !fits(self.global, self.in_flight, n) {
                break;
            }
            debug_assert!(self.fits_key(slot, n));
            self.unlink_waiter(w);
            if let WaiterStage::Queued(payload) =
                core::mem::replace(&mut self.waiters[w as usize].stage, WaiterStage::Granted)
            {
                woken.extend(Some(payload));
            }
            self.keys[slot as usize].in_flight += n;
            self.in_flight += n;
            self.ring_remove(slot);
            if self.head_fits_key(slot) {
                self.ring_push_back(slot);
            }
        }
    }

    fn ring_push_back(&mut self, slot: u32) {
        let tail = self.ring_tail;
        let key = &mut self.keys[slot as usize];
        key.in_ring = true;
        key.ring_prev = tail;
        key.ring_next = NIL;
        if tail == NIL {
            self.ring_head = slot;
        } else {
            self.keys[tail as usize].ring_next = slot;
        }
        self.ring_tail = slot;
    }

    fn ring_remove(&mut self, slot: u32) {
        let key = &mut self.keys[slot as usize];
        let (prev, next) = (key.ring_prev, key.ring_next);
        key.in_ring = false;
        key.ring_prev = NIL;
        key.ring_next = NIL;
        if prev == NIL {
            self.ring_head = next;
        } else {
            self.keys[prev as usize].ring_next = next;
        }
        if next == NIL {
            self.ring_tail = prev;
        } else {
            self.keys[next as usize].ring_prev = prev;
        }
    }
}

/// Operations that look keys up.
impl<K: Hash + Eq + Clone, W> SemaphoreState<K, W> {
    /// Permits `key` holds (0 for a key that is not resident).
    pub fn in_flight_of(&self, key: &K) -> usize {
        let hash = self.hasher.hash_one(key);
        let keys = &self.keys;
        match self
            .index
            .find(hash, |&i| keys[i as usize].key.as_ref() == Some(key))
        {
            Some(&i) => keys[i as usize].in_flight,
            None => 0,
        }
    }

    /// The soft cap of `key` in force (its override, else the default).
    pub fn key_cap(&self, key: &K) -> Option<usize> {
        self.soft.cap_of(self.hasher.hash_one(key), key)
    }

    /// How many keys have a soft-cap override.
    pub fn key_cap_overrides(&self) -> usize {
        self.soft.len()
    }

    /// Sets `key`'s soft cap (0 counts as 1), resident or not: it stays
    /// until [`clear_key_cap`](Self::clear_key_cap), across evictions of
    /// the key's slot. Raising grants the key's waiters that now fit;
    /// lowering revokes nothing held, and a waiter above it is admitted
    /// alone once the key has nothing in flight.
    ///
    /// ```
    /// use weir::semaphore::{Acquired, SemaphoreState, WaiterPoll};
    /// let mut st: SemaphoreState<&str, u8> = SemaphoreState::new(None, None).unwrap();
    /// let mut woken = Vec::new();
    /// st.set_key_cap(&"a", 1, &mut woken);
    /// let Acquired::Granted(g) = st.acquire(&"a", 1, || 0).unwrap() else { panic!() };
    /// let Acquired::Queued(id) = st.acquire(&"a", 1, || 1).unwrap() else { panic!() };
    /// st.set_key_cap(&"a", 2, &mut woken);
    /// assert_eq!(woken, [1]);
    /// let WaiterPoll::Granted(g2) = st.poll(id) else { panic!() };
    /// st.release(g, &mut woken);
    /// st.release(g2, &mut woken);
    /// assert_eq!(st.key_cap(&"a"), Some(2)); // kept while "a" is not resident
    /// ```
    pub fn set_key_cap(&mut self, key: &K, cap: usize, woken: &mut impl Extend<W>) {
        let hash = self.hasher.hash_one(key);
        let cap = self.soft.set(hash, key, cap);
        self.apply_key_cap(hash, key, Some(cap), woken);
    }

    /// Drops `key`'s soft-cap override: the default applies to it again.
    pub fn clear_key_cap(&mut self, key: &K, woken: &mut impl Extend<W>) {
        let hash = self.hasher.hash_one(key);
        let cap = self.soft.remove(hash, key);
        self.apply_key_cap(hash, key, cap, woken);
    }

    /// Sets the soft cap of keys without an override (`None`: none).
    pub fn set_default_key_cap(&mut self, cap: Option<usize>, woken: &mut impl Extend<W>) {
        self.soft.set_default(cap);
        for slot in 0..self.keys.len() {
            let resident = &self.keys[slot];
            if let Some(key) = &resident.key {
                let cap = self.soft.cap_of(resident.hash, key);
                self.keys[slot].soft_cap = cap;
                self.refresh_ring(slot as u32);
            }
        }
        self.drain(woken);
    }

    /// Copies a changed soft cap into `key`'s slot, if resident, and
    /// grants whoever it lets through.
    fn apply_key_cap(
        &mut self,
        hash: u64,
        key: &K,
        cap: Option<usize>,
        woken: &mut impl Extend<W>,
    ) {
        let keys = &self.keys;
        let Some(&slot) = self
            .index
            .find(hash, |&i| keys[i as usize].key.as_ref() == Some(key))
        else {
            return;
        };
        self.keys[slot as usize].soft_cap = cap;
        self.refresh_ring(slot);
        self.drain(woken);
    }

    /// Grants `n` permits on `key` now, or says why not. Never queues.
    pub fn try_acquire(&mut self, key: &K, n: usize) -> Result<Grant, TryAcquireError> {
        if n == 0 {
            return Ok(Grant::EMPTY);
        }
        self.check_size(n)?;
        if let Some(slot) = self.cached_slot(key) {
            return if self.can_grant_now(slot, n) {
                Ok(self.grant_now(slot, n))
            } else {
                Err(TryAcquireError::NoPermits)
            };
        }
        let hash = self.hasher.hash_one(key);
        let keys = &self.keys;
        let entry = self.index.entry(
            hash,
            |&i| keys[i as usize].key.as_ref() == Some(key),
            |&i| keys[i as usize].hash,
        );
        match entry {
            Entry::Occupied(entry) => {
                let slot = *entry.get();
                self.last_slot = slot;
                if self.can_grant_now(slot, n) {
                    Ok(self.grant_now(slot, n))
                } else {
                    Err(TryAcquireError::NoPermits)
                }
            }
            Entry::Vacant(entry) => {
                if self.ring_head != NIL || !fits(self.global, self.in_flight, n) {
                    return Err(TryAcquireError::NoPermits);
                }
                let cap = self.soft.cap_of(hash, key);
                let slot = Self::new_key_slot(&mut self.keys, &mut self.free_keys, hash, key, cap);
                entry.insert(slot);
                self.last_slot = slot;
                Ok(self.grant_now(slot, n))
            }
        }
    }

    /// Grants `n` permits on `key` up to `count` times over in one go: a
    /// grant of `k * n` permits, `1 <= k <= count`, as many as fit now under
    /// the same rules as [`try_acquire`](Self::try_acquire) (which is the
    /// `count == 1` case). For a host that hands permits to a run of items of
    /// one key without a call per item.
    ///
    /// ```
    /// use weir::semaphore::SemaphoreState;
    /// let mut st: SemaphoreState<&str, ()> = SemaphoreState::new(Some(10), Some(4)).unwrap();
    /// let mut g = st.try_acquire_up_to(&"a", 1, 100).unwrap();
    /// assert_eq!(g.permits(), 4); // the per-key cap
    /// let one = g.split_off(1);
    /// st.release(one, &mut Vec::new());
    /// assert_eq!(st.in_flight_of(&"a"), 3);
    /// st.release(g, &mut Vec::new());
    /// assert_eq!(st.stats().keys, 0);
    /// ```
    pub fn try_acquire_up_to(
        &mut self,
        key: &K,
        n: usize,
        count: usize,
    ) -> Result<Grant, TryAcquireError> {
        let mut grant = self.try_acquire(key, n)?;
        if n == 0 {
            return Ok(grant);
        }
        for _ in 1..count {
            if !self.can_grant_now(grant.slot, n) {
                break;
            }
            grant.permits += self.grant_now(grant.slot, n).permits;
        }
        Ok(grant)
    }

    /// Grants `n` permits on `key` now, or queues a waiter carrying
    /// `payload()` (called only when queueing). Fails only for a request
    /// above a finite limit.
    pub fn acquire(
        &mut self,
        key: &K,
        n: usize,
        payload: impl FnOnce() -> W,
    ) -> Result<Acquired, AcquireError> {
        if n == 0 {
            return Ok(Acquired::Granted(Grant::EMPTY));
        }
        self.check_size(n)?;
        let slot = self.find_or_insert_key(key);
        if self.can_grant_now(slot, n) {
            return Ok(Acquired::Granted(self.grant_now(slot, n)));
        }
        Ok(Acquired::Queued(self.enqueue(slot, n, payload())))
    }

    fn find_or_insert_key(&mut self, key: &K) -> u32 {
        if let Some(slot) = self.cached_slot(key) {
            return slot;
        }
        let hash = self.hasher.hash_one(key);
        let keys = &self.keys;
        let slot = match self.index.entry(
            hash,
            |&i| keys[i as usize].key.as_ref() == Some(key),
            |&i| keys[i as usize].hash,
        ) {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => {
                let cap = self.soft.cap_of(hash, key);
                let slot = Self::new_key_slot(&mut self.keys, &mut self.free_keys, hash, key, cap);
                entry.insert(slot);
                slot
            }
        };
        self.last_slot = slot;
        slot
    }

    /// The resident slot of `key` if it is the one looked up last.
    #[inline]
    fn cached_slot(&self, key: &K) -> Option<u32> {
        let slot = self.last_slot;
        match self.keys.get(slot as usize) {
            Some(resident) if resident.key.as_ref() == Some(key) => Some(slot),
            _ => None,
        }
    }

    /// Takes a free key slot (or grows the slab) for `key`; the caller
    /// indexes it.
    fn new_key_slot(
        keys: &mut Vec<KeySlot<K>>,
        free: &mut Vec<u32>,
        hash: u64,
        key: &K,
        soft_cap: Option<usize>,
    ) -> u32 {
        let value = KeySlot::new(key.clone(), hash, soft_cap);
        match free.pop() {
            Some(slot) => {
                keys[slot as usize] = value;
                slot
            }
            None => {
                let slot = u32::try_from(keys.len())
                    .ok()
                    .filter(|&s| s != NIL)
                    .expect("too many keys");
                keys.push(value);
                slot
            }
        }
    }
}
