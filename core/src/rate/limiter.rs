//! [`RateLimiter`]: global and per-key GCRA quotas behind one lock, with
//! `check` (never waits) and async `acquire` (waits FIFO per key).
//!
//! A limiter whose only quota is one global quota checks without the lock
//! ([`FastCell`]) until a pause or a waiter needs it: every locked step first
//! takes the cell's state over ([`RateLimiter::lock`]) and, when it leaves
//! nothing behind but the cell (no pause in force, no waiter, no key), hands
//! it back ([`Locked`]'s drop). Both paths run the same arithmetic on the
//! same state, so callers cannot tell which one answered.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::hash::Hash;
use core::ops::{Deref, DerefMut};
use core::task::Waker;

use super::acquire::{RateAcquire, RateAcquireOwned};
use super::error::Denied;
use super::gcra::{commit_all, decide_all, earliest_all, Tat};
use super::keyed::{KeyedGcra, Waiter};
use super::lock_free::FastCell;
use super::quota::Quota;
use crate::limiter::{CellStatus, RateStatus};
use crate::sync::{Mutex, MutexGuard};
// See `acquire.rs`: under loom the receiver is std's `Arc`.
#[cfg(not(loom))]
use crate::sync::Arc;
use crate::time::{Clock, Instant, Timer};
#[cfg(loom)]
use alloc::sync::Arc;

/// A GCRA rate limiter with global quotas (one set of cells shared by every
/// key) and per-key quotas (a set of cells per key).
///
/// A request of `cost` for `key` is admitted only when every global and every
/// per-key quota admits it, and then consumes from all of them at once; a
/// denial consumes nothing and names the exact instant it would pass.
///
/// - [`check`](RateLimiter::check) never waits ([`peek`](RateLimiter::peek)
///   never consumes either);
/// - [`acquire`](RateLimiter::acquire) waits, FIFO per key, with one timer
///   per key, and is admitted exactly at the instant capacity suffices;
/// - [`pause_until`](RateLimiter::pause_until) /
///   [`pause_all_until`](RateLimiter::pause_all_until) hold a key / everyone
///   (a `Retry-After` cooldown).
///
/// `check`, `peek`, pauses and eviction need only a [`Clock`]; `acquire`
/// needs a [`Timer`]. Idle keys cost no memory (see [`keys`](RateLimiter::keys)).
///
/// ```
/// use weir::{Denied, Instant, ManualClock, Quota, RateLimiter};
/// let clock = ManualClock::new();
/// // 100/s across all keys, and per key 4/s *and* 60/min.
/// let limiter = RateLimiter::new(
///     &[Quota::per_second(100)?],
///     &[Quota::per_second(4)?, Quota::per_minute(60)?],
///     clock.clone(),
/// );
/// for _ in 0..4 {
///     assert_eq!(limiter.check(&"api.example", 1), Ok(()));
/// }
/// assert_eq!(
///     limiter.check(&"api.example", 1),
///     Err(Denied::NotUntil(Instant::from_nanos(250_000_000)))
/// );
/// assert_eq!(limiter.check(&"other.example", 1), Ok(()));
/// assert!(matches!(limiter.check(&"x", 5), Err(Denied::ExceedsBurst { cost: 5, burst: 4 })));
/// # Ok::<(), weir::QuotaError>(())
/// ```
pub struct RateLimiter<K, T> {
    timer: T,
    global_quotas: Box<[Quota]>,
    per_key_quotas: Box<[Quota]>,
    /// Smallest burst over all quotas (`u32::MAX` when there are none).
    max_cost: u32,
    /// The lock-free path (enabled only for a single global quota).
    fast: FastCell,
    state: Mutex<State<K>>,
}

/// The locked state, taken over from the lock-free path; hands it back on
/// drop (still under the lock) when nothing but the cell is left.
struct Locked<'a, K: Hash + Eq> {
    guard: MutexGuard<'a, State<K>>,
    fast: &'a FastCell,
}

impl<K: Hash + Eq> Deref for Locked<'_, K> {
    type Target = State<K>;
    fn deref(&self) -> &State<K> {
        &self.guard
    }
}

impl<K: Hash + Eq> DerefMut for Locked<'_, K> {
    fn deref_mut(&mut self) -> &mut State<K> {
        &mut self.guard
    }
}

impl<K: Hash + Eq> Drop for Locked<'_, K> {
    #[inline]
    fn drop(&mut self) {
        if self.fast.is_eligible() {
            self.hand_back();
        }
    }
}

impl<K: Hash + Eq> Locked<'_, K> {
    #[cold]
    fn hand_back(&mut self) {
        if let Some(tat) = self.guard.only_the_cell() {
            self.fast.hand_back(self.guard.keyed.floor(), tat);
        }
    }
}

/// Everything behind the lock.
struct State<K> {
    global: Vec<Tat>,
    global_paused_until: Instant,
    keyed: KeyedGcra<K>,
    /// Waiters over all keys.
    waiting: usize,
    next_id: u64,
}

/// What a head waiter learns when it tries to take capacity.
pub(crate) enum HeadPoll {
    /// Admitted; wake this (the new head), if any.
    Granted(Option<Waker>),
    /// Not before this instant.
    NotUntil(Instant),
    /// Not the head: wait to be woken.
    Queued,
}

/// What a first poll of an acquire leads to.
pub(crate) enum FirstPoll {
    /// Admitted at once.
    Granted,
    /// Queued with this id; as head, not before the instant.
    Queued(u64, Option<Instant>),
}

impl<K: Hash + Eq + Clone, T: Clock> RateLimiter<K, T> {
    /// A limiter with `global` quotas (shared by all keys) and `per_key`
    /// quotas (one set per key); either may be empty. Time comes from `timer`.
    pub fn new(global: &[Quota], per_key: &[Quota], timer: T) -> Self {
        let max_cost = global
            .iter()
            .chain(per_key)
            .map(Quota::burst)
            .min()
            .unwrap_or(u32::MAX);
        RateLimiter {
            timer,
            global_quotas: global.into(),
            per_key_quotas: per_key.into(),
            max_cost,
            fast: FastCell::new(global, per_key, None),
            state: Mutex::new(State {
                global: alloc::vec![Tat::default(); global.len()],
                global_paused_until: Instant::ZERO,
                keyed: KeyedGcra::new(per_key),
                waiting: 0,
                next_id: 0,
            }),
        }
    }

    /// Admit `cost` for `key` now, consuming from every quota, or say why not
    /// (consuming nothing). Never waits. While waiters are queued on `key`,
    /// a check does not jump ahead of them: it is refused with the instant it
    /// could pass after them (an estimate when other keys compete for the
    /// global quotas).
    pub fn check(&self, key: &K, cost: u32) -> Result<(), Denied> {
        self.decide(key, cost, true)
    }

    /// What [`check`](RateLimiter::check) would answer now, consuming nothing.
    pub fn peek(&self, key: &K, cost: u32) -> Result<(), Denied> {
        self.decide(key, cost, false)
    }

    /// The decision shared by `check` (`commit`: consume on success) and `peek`.
    #[inline]
    fn decide(&self, key: &K, cost: u32, commit: bool) -> Result<(), Denied> {
        self.exceeds(cost)?;
        let now = self.timer.now();
        if let Some(result) = self.fast.decide(now, cost, commit) {
            return result.map_err(Denied::NotUntil);
        }
        self.decide_slow(key, now, cost, commit)
    }

    /// `decide` on the locked path.
    fn decide_slow(&self, key: &K, now: Instant, cost: u32, commit: bool) -> Result<(), Denied> {
        let mut state = self.lock();
        let now = state.keyed.clamp(now);
        self.decide_locked(&mut state, key, now, cost, commit)
            .map_err(Denied::NotUntil)
    }

    /// [`check`](RateLimiter::check) and then [`status`](RateLimiter::status)
    /// of the same key, under one lock and one clock read: on admission, the
    /// figures right after this check consumed (`None` without quotas); on
    /// denial, why (nothing consumed). For a server that sends `RateLimit-*`
    /// headers with every admitted response.
    ///
    /// ```
    /// use weir::{ManualClock, Quota, RateLimiter};
    /// let limiter = RateLimiter::new(&[], &[Quota::per_second(4)?], ManualClock::new());
    /// let s = limiter.check_with_status(&"client", 1).unwrap().unwrap();
    /// assert_eq!(Some(s), limiter.status(&"client"));
    /// assert_eq!(s.remaining, 3);
    /// # Ok::<(), weir::QuotaError>(())
    /// ```
    pub fn check_with_status(&self, key: &K, cost: u32) -> Result<Option<RateStatus>, Denied> {
        self.exceeds(cost)?;
        if self.global_quotas.is_empty() && self.per_key_quotas.is_empty() {
            // No quotas: only pauses can deny, and there are no figures.
            return self.check(key, cost).map(|()| None);
        }
        let now = self.timer.now();
        let mut state = self.lock();
        let now = state.keyed.clamp(now);
        self.decide_locked(&mut state, key, now, cost, true)
            .map_err(Denied::NotUntil)?;
        Ok(self.status_locked(&state, key, now))
    }

    /// `decide` under the lock, at `now` (already clamped).
    #[inline]
    fn decide_locked(
        &self,
        state: &mut State<K>,
        key: &K,
        now: Instant,
        cost: u32,
        commit: bool,
    ) -> Result<(), Instant> {
        if state.global_paused_until <= now {
            let State { global, keyed, .. } = state;
            if let Some(result) =
                keyed.check_fast(key, now, cost, commit, &self.global_quotas, global)
            {
                return result;
            }
        }
        // A pause is in force or waiters are queued on `key`.
        let ahead = state.keyed.get(key).map_or(0, |e| e.queued_cost);
        state.decide(&self.global_quotas, key, now, cost, ahead)?;
        if commit {
            state.commit(&self.global_quotas, key, now, cost);
        }
        Ok(())
    }

    /// The rate figures of `key` now, consuming nothing and storing nothing
    /// (see [`RateStatus`]); `None` when the limiter has no quotas at all.
    /// Pauses and waiters queued on `key` count: while they hold the key,
    /// `remaining` is 0.
    pub fn status(&self, key: &K) -> Option<RateStatus> {
        if self.global_quotas.is_empty() && self.per_key_quotas.is_empty() {
            return None;
        }
        let now = self.timer.now();
        let mut state = self.lock();
        let now = state.keyed.clamp(now);
        self.status_locked(&state, key, now)
    }

    /// `status` under the lock, at `now` (already clamped).
    #[inline]
    fn status_locked(&self, state: &State<K>, key: &K, now: Instant) -> Option<RateStatus> {
        let global = self
            .global_quotas
            .iter()
            .zip(&state.global)
            .map(|(quota, tat)| tat.status(quota, now));
        let tightest = global
            .chain(state.keyed.cell_status(key, now))
            .reduce(CellStatus::tighter)?;
        let ahead = state.keyed.get(key).map_or(0, |e| e.queued_cost);
        let paused_until = state
            .keyed
            .paused_until(key, now)
            .unwrap_or(now)
            .max(state.global_paused_until);
        let remaining = if paused_until > now {
            0
        } else {
            tightest.remaining.saturating_sub(ahead)
        };
        // With nobody queued and a unit left in every cell (none paused),
        // a check of one unit passes now: no need to ask `decide`.
        let retry_at = if ahead == 0 && remaining >= 1 {
            now
        } else {
            state
                .decide(&self.global_quotas, key, now, 1, ahead)
                .err()
                .unwrap_or(now)
        };
        Some(RateStatus {
            quota: tightest.quota,
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset_after: tightest
                .reset_after
                .max(paused_until.saturating_duration_since(now)),
            retry_after: retry_at.saturating_duration_since(now),
        })
    }

    /// Hold every check and waiter of `key` until `until` (e.g. a server's
    /// `Retry-After`). Pauses only lengthen: an earlier `until` than the one in
    /// force changes nothing.
    pub fn pause_until(&self, key: &K, until: Instant) {
        let now = self.timer.now();
        let mut state = self.lock();
        state.keyed.clamp(now);
        state.keyed.pause_until(key, until);
    }

    /// Hold every check and waiter of every key until `until`.
    pub fn pause_all_until(&self, until: Instant) {
        let mut state = self.lock();
        state.global_paused_until = state.global_paused_until.max(until);
    }

    /// How many keys hold state (recently used, paused, or waited on). With
    /// a single global quota and no other, keys hold state only while paused
    /// or waited on, and an idle one is dropped by the next locked step when
    /// at most 8 are resident (by [`evict_idle`](Self::evict_idle) or the
    /// amortised sweep otherwise).
    pub fn keys(&self) -> usize {
        self.state.lock().keyed.len()
    }

    /// Forget every idle key now (this also happens on its own, amortised,
    /// whenever the key map has doubled since the last sweep).
    pub fn evict_idle(&self) {
        let now = self.timer.now();
        self.lock().keyed.evict_idle(now);
    }

    /// How many [`acquire`](RateLimiter::acquire)s are waiting, over all keys.
    pub fn waiting(&self) -> usize {
        self.state.lock().waiting
    }

    /// The timer (and clock) this limiter runs on.
    pub fn timer(&self) -> &T {
        &self.timer
    }

    /// The global quotas.
    pub fn global_quotas(&self) -> &[Quota] {
        &self.global_quotas
    }

    /// The per-key quotas.
    pub fn per_key_quotas(&self) -> &[Quota] {
        &self.per_key_quotas
    }

    /// The locked state, with the lock-free cell's state taken over.
    fn lock(&self) -> Locked<'_, K> {
        let mut guard = self.state.lock();
        if let Some((floor, tat)) = self.fast.take_over() {
            guard.global[0] = tat;
            guard.keyed.clamp(floor);
        }
        Locked {
            guard,
            fast: &self.fast,
        }
    }

    /// Whether checks run lock-free right now: one global quota and no
    /// other, on a build with 64-bit atomics (or, for quotas whose state
    /// does not fit one word, an x86-64 CPU with a 16-byte compare-and-swap),
    /// while no pause is in force and nobody waits. For tests and
    /// benchmarks; answers are the same either way.
    #[doc(hidden)]
    pub fn is_lock_free(&self) -> bool {
        self.fast.is_active()
    }

    /// Which lock-free state this limiter uses: `"packed"` (one `u64`),
    /// `"pair"` (16 bytes) or `"none"`. For tests and benchmarks.
    #[doc(hidden)]
    pub fn lock_free_kind(&self) -> &'static str {
        self.fast.kind()
    }

    /// The same limiter with the packed lock-free state's floor range capped
    /// at `bits` bits (2^bits ns between re-bases), whatever the quota, so
    /// that tests cross re-bases within a few nanoseconds; `None` keeps the
    /// quota's own range. Call it on a fresh limiter: the lock-free state
    /// starts over.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn with_lock_free_range_bits(mut self, bits: Option<u32>) -> Self {
        self.fast = FastCell::new(&self.global_quotas, &self.per_key_quotas, bits);
        self
    }

    #[inline]
    fn exceeds(&self, cost: u32) -> Result<(), Denied> {
        if cost > self.max_cost {
            Err(Denied::ExceedsBurst {
                cost,
                burst: self.max_cost,
            })
        } else {
            Ok(())
        }
    }

    // --- the async layer's steps (each takes the lock once) ----------------

    /// First poll of an acquire: admit at once when nobody waits on `key`,
    /// else queue (registering `waker`).
    pub(crate) fn first_poll(
        &self,
        key: &K,
        cost: u32,
        waker: &Waker,
    ) -> Result<FirstPoll, Denied> {
        self.exceeds(cost)?;
        let now = self.timer.now();
        if let Some(Ok(())) = self.fast.decide(now, cost, true) {
            return Ok(FirstPoll::Granted);
        }
        let mut state = self.lock();
        let now = state.keyed.clamp(now);
        let fast = if state.global_paused_until <= now {
            let State { global, keyed, .. } = &mut *state;
            keyed.check_fast(key, now, cost, true, &self.global_quotas, global)
        } else {
            None
        };
        let deadline = match fast {
            Some(Ok(())) => return Ok(FirstPoll::Granted),
            Some(Err(at)) => at,
            None => {
                let ahead = state.keyed.get(key).map_or(0, |e| e.queued_cost);
                match state.decide(&self.global_quotas, key, now, cost, ahead) {
                    Ok(()) => {
                        state.commit(&self.global_quotas, key, now, cost);
                        return Ok(FirstPoll::Granted);
                    }
                    Err(at) => at,
                }
            }
        };
        let id = state.next_id;
        state.next_id += 1;
        state.waiting += 1;
        let entry = state.keyed.entry(key, now);
        entry.queue.push_back(Waiter {
            id,
            cost,
            waker: Some(waker.clone()),
        });
        entry.queued_cost += u64::from(cost);
        let is_head = entry.queue.len() == 1;
        Ok(FirstPoll::Queued(id, is_head.then_some(deadline)))
    }

    /// Joins `key`'s queue as a holder: a place that, once at the head and
    /// admissible, is *ready* — it keeps its place and consumes nothing until
    /// [`poll_queued`](Self::poll_queued) with `take` (the combined limiter
    /// takes its concurrency permits in between, so that no permit is held
    /// while waiting for time, and no later waiter of the key overtakes).
    /// As head: [`HeadPoll::Granted`] (ready, `None`) or
    /// [`HeadPoll::NotUntil`]; behind others: [`HeadPoll::Queued`].
    pub(crate) fn join(
        &self,
        key: &K,
        cost: u32,
        waker: &Waker,
    ) -> Result<(u64, HeadPoll), Denied> {
        self.exceeds(cost)?;
        let now = self.timer.now();
        let mut state = self.state.lock();
        let now = state.keyed.clamp(now);
        let id = state.next_id;
        state.next_id += 1;
        state.waiting += 1;
        let entry = state.keyed.entry(key, now);
        let is_head = entry.queue.is_empty();
        entry.queue.push_back(Waiter {
            id,
            cost,
            waker: Some(waker.clone()),
        });
        entry.queued_cost += u64::from(cost);
        if !is_head {
            return Ok((id, HeadPoll::Queued));
        }
        // Alone in the queue: decide as if nobody were ahead.
        Ok(match state.decide(&self.global_quotas, key, now, cost, 0) {
            Ok(()) => (id, HeadPoll::Granted(None)),
            Err(at) => (id, HeadPoll::NotUntil(at)),
        })
    }

    /// A later poll of queued waiter `id`: as head, see whether `cost` is
    /// admissible now. With `take`, consume it and leave the queue
    /// ([`HeadPoll::Granted`] carries the new head's waker); without, only
    /// answer (a holder from [`join`](Self::join): `Granted(None)` = ready,
    /// still queued). `waker` replaces the one stored for a waiter behind the
    /// head.
    pub(crate) fn poll_queued(
        &self,
        key: &K,
        id: u64,
        cost: u32,
        waker: Option<&Waker>,
        take: bool,
    ) -> HeadPoll {
        let now = self.timer.now();
        // Declared before the guard, so dropped after it: wakers are dropped unlocked.
        let mut stale: Option<Waker> = None;
        let mut state = self.lock();
        let now = state.keyed.clamp(now);
        let Some(entry) = state.keyed.get_mut(key) else {
            debug_assert!(false, "a queued key is resident");
            return HeadPoll::Queued;
        };
        let is_head = entry.queue.front().is_some_and(|w| w.id == id);
        if !is_head {
            let found =
                waker.and_then(|waker| Some((waker, entry.queue.iter_mut().find(|w| w.id == id)?)));
            if let Some((waker, w)) = found {
                match &mut w.waker {
                    Some(old) if old.will_wake(waker) => {}
                    slot => {
                        if let Some(old) = slot.replace(waker.clone()) {
                            let _ = stale.insert(old);
                        }
                    }
                }
            }
            return HeadPoll::Queued;
        }
        match state.decide(&self.global_quotas, key, now, cost, 0) {
            Ok(()) if !take => HeadPoll::Granted(None),
            Ok(()) => {
                state.commit(&self.global_quotas, key, now, cost);
                state.waiting -= 1;
                let entry = state.keyed.get_mut(key).expect("resident");
                HeadPoll::Granted(entry.remove_waiter(id, &mut stale))
            }
            Err(at) => HeadPoll::NotUntil(at),
        }
    }

    /// Waiter `id` gives up; returns the waker of the new head, if the
    /// leaver was the head.
    pub(crate) fn cancel(&self, key: &K, id: u64) -> Option<Waker> {
        let mut stale: Option<Waker> = None;
        let mut state = self.lock();
        let entry = state.keyed.get_mut(key)?;
        let before = entry.queue.len();
        let next = entry.remove_waiter(id, &mut stale);
        if entry.queue.len() < before {
            state.waiting -= 1;
        }
        next
    }
}

impl<K: Hash + Eq + Clone, T: Timer> RateLimiter<K, T> {
    /// Wait until `cost` is admitted for `key` (FIFO per key), then consume
    /// it. Resolves to `Err` only for [`Denied::ExceedsBurst`]. Only the
    /// head waiter of a key sleeps on the timer; dropping the future leaves
    /// the queue (cancel-safe) and hands the timer role to the next.
    ///
    /// ```
    /// use core::{future::Future, pin::pin, task::{Context, Poll}, time::Duration};
    /// use weir::{ManualClock, Quota, RateLimiter};
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::new(&[], &[Quota::per_second(1)?], clock.clone());
    /// let waker = futures::task::noop_waker();
    /// let mut cx = Context::from_waker(&waker);
    /// assert!(pin!(limiter.acquire("k", 1)).poll(&mut cx).is_ready()); // burst
    /// let mut second = pin!(limiter.acquire("k", 1));
    /// assert!(second.as_mut().poll(&mut cx).is_pending());
    /// clock.advance(Duration::from_millis(999));
    /// assert!(second.as_mut().poll(&mut cx).is_pending());
    /// clock.advance(Duration::from_millis(1));
    /// assert_eq!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    /// # Ok::<(), weir::QuotaError>(())
    /// ```
    pub fn acquire(&self, key: K, cost: u32) -> RateAcquire<'_, K, T> {
        RateAcquire::new(self, key, cost)
    }

    /// Like [`acquire`](RateLimiter::acquire), but the future owns an `Arc`
    /// of the limiter, so it is `'static` (spawnable).
    pub fn acquire_owned(self: &Arc<Self>, key: K, cost: u32) -> RateAcquireOwned<K, T> {
        RateAcquireOwned::new(self.clone(), key, cost)
    }
}

impl<K: Hash + Eq> State<K> {
    /// With nothing in force but the one global cell (no pause, no waiter;
    /// idle keys of a small map are evicted first: they behave as never
    /// seen), that cell's TAT: the lock-free path can take over again.
    fn only_the_cell(&mut self) -> Option<Tat> {
        let [tat] = self.global[..] else {
            return None;
        };
        let floor = self.keyed.floor();
        if !self.keyed.is_empty() && self.keyed.len() <= 8 {
            self.keyed.evict_idle(floor);
        }
        let plain = self.waiting == 0 && self.global_paused_until <= floor && self.keyed.is_empty();
        plain.then_some(tat)
    }
}

impl<K: Hash + Eq + Clone> State<K> {
    /// Decide against global and per-key cells and both pauses; see
    /// [`KeyedGcra::decide`] for `ahead`.
    fn decide(
        &self,
        global: &[Quota],
        key: &K,
        now: Instant,
        cost: u32,
        ahead: u64,
    ) -> Result<(), Instant> {
        let global_cells = if ahead > 0 {
            // The queued waiters go first, and not before any pause ends.
            let start = self
                .keyed
                .paused_until(key, now)
                .unwrap_or(now)
                .max(self.global_paused_until);
            Err(earliest_all(global, &self.global, start, ahead, cost))
        } else {
            decide_all(global, &self.global, now, cost)
        };
        let keyed_now = if ahead > 0 {
            now.max(self.global_paused_until)
        } else {
            now
        };
        let keyed = self.keyed.decide(key, keyed_now, cost, ahead);
        let paused = if self.global_paused_until > now {
            Err(self.global_paused_until)
        } else {
            Ok(())
        };
        [global_cells, keyed, paused]
            .into_iter()
            .filter_map(Result::err)
            .max()
            .map_or(Ok(()), Err)
    }

    /// Consume `cost` from every cell; the caller has checked `decide`.
    fn commit(&mut self, global: &[Quota], key: &K, now: Instant, cost: u32) {
        commit_all(global, &mut self.global, now, cost);
        self.keyed.commit(key, now, cost);
    }
}

impl<K, T: fmt::Debug> fmt::Debug for RateLimiter<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("global_quotas", &self.global_quotas)
            .field("timer", &self.timer)
            .finish_non_exhaustive()
    }
}
