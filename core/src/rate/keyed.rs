//! [`KeyedGcra`]: a set of GCRA cells per key, with pauses and eviction of
//! idle keys. Pure: every method takes `now`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::hash::Hash;
use core::task::Waker;

use crate::hash::HashMap;

use super::error::Denied;
use super::gcra::{
    all_full, commit_all, commit_cells, decide_all, decide_cells, earliest_all, Tat,
};
use super::quota::Quota;
use super::ramp::Ramp;
use crate::limiter::CellStatus;
use crate::time::Instant;

/// The map is swept when it has grown to twice its size after the last sweep,
/// but never below this many entries.
const MIN_SWEEP: usize = 64;

/// One waiter queued on a key (used by the async layer).
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(crate) id: u64,
    pub(crate) cost: u32,
    pub(crate) waker: Option<Waker>,
}

/// Everything known about one key.
#[derive(Debug, Default)]
pub(crate) struct KeyEntry {
    /// One TAT per per-key quota.
    tats: Vec<Tat>,
    /// Checks of this key are refused until then.
    paused_until: Instant,
    /// After a pause, the key eases back in (see [`Ramp`]).
    ramp: Option<Ramp>,
    /// FIFO of waiters (async layer); empty for pure use.
    pub(crate) queue: VecDeque<Waiter>,
    /// Sum of the costs in `queue`.
    pub(crate) queued_cost: u64,
}

impl KeyEntry {
    fn new(quotas: usize) -> Self {
        KeyEntry {
            tats: alloc::vec![Tat::default(); quotas],
            ..KeyEntry::default()
        }
    }

    fn is_idle(&self, quotas: &[Quota], now: Instant) -> bool {
        self.queue.is_empty()
            && self.paused_until <= now
            && self.ramp.map_or(true, |r| r.is_over(now))
            && all_full(quotas, &self.tats, now)
    }

    /// Remove the waiter `id`; returns the waker of the new head when `id`
    /// was the head. The removed waiter's own waker is moved to `stale`, for
    /// the caller to drop after unlocking (dropping a waker may run code).
    pub(crate) fn remove_waiter(&mut self, id: u64, stale: &mut Option<Waker>) -> Option<Waker> {
        let pos = self.queue.iter().position(|w| w.id == id)?;
        let waiter = self.queue.remove(pos)?;
        self.queued_cost -= u64::from(waiter.cost);
        *stale = waiter.waker;
        if pos == 0 {
            self.queue.front_mut().and_then(|w| w.waker.take())
        } else {
            None
        }
    }
}

/// Rate cells per key: each key has one GCRA cell per quota, and an optional
/// pause. Pure — every method takes `now`, nothing reads a clock.
///
/// Keys whose cells are full again, with no pause in force (and nobody
/// waiting), are idle: they behave exactly like keys never seen, so they are
/// dropped — by an amortised O(1) sweep when the map has doubled since the
/// last one, or by [`evict_idle`](KeyedGcra::evict_idle). Memory is thus
/// O(active keys), not O(keys ever seen).
///
/// `now` is clamped to the latest value seen: a clock stepping back behaves
/// as a clock standing still.
///
/// ```
/// use weir::{Denied, Instant, Quota};
/// use weir::rate::KeyedGcra;
/// let mut keyed = KeyedGcra::new(&[Quota::per_second(1)?]);
/// let t0 = Instant::from_nanos(0);
/// assert_eq!(keyed.check(&"a", t0, 1), Ok(()));
/// assert_eq!(keyed.check(&"a", t0, 1), Err(Denied::NotUntil(Instant::from_nanos(1_000_000_000))));
/// assert_eq!(keyed.check(&"b", t0, 1), Ok(()));          // other keys are independent
/// assert_eq!(keyed.len(), 2);
/// keyed.evict_idle(Instant::from_nanos(1_000_000_000));
/// assert_eq!(keyed.len(), 0);
/// # Ok::<(), weir::QuotaError>(())
/// ```
#[derive(Debug)]
pub struct KeyedGcra<K> {
    quotas: Vec<Quota>,
    /// Smallest burst among `quotas` (`u32::MAX` when none).
    max_cost: u32,
    map: HashMap<K, KeyEntry>,
    /// Sweep when a new key would make the map this large.
    sweep_at: usize,
    /// Latest `now` seen.
    floor: Instant,
}

impl<K: Hash + Eq> KeyedGcra<K> {
    /// Cells for `quotas` (may be empty: then only pauses apply).
    pub fn new(quotas: &[Quota]) -> Self {
        KeyedGcra {
            quotas: quotas.to_vec(),
            max_cost: quotas.iter().map(Quota::burst).min().unwrap_or(u32::MAX),
            map: HashMap::default(),
            sweep_at: MIN_SWEEP,
            floor: Instant::ZERO,
        }
    }

    /// The per-key quotas.
    pub fn quotas(&self) -> &[Quota] {
        &self.quotas
    }

    /// The largest cost any check can admit (the smallest burst).
    pub fn max_cost(&self) -> u32 {
        self.max_cost
    }

    /// How many keys are resident.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key is resident.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Admit `cost` for `key` at `now` (consuming from every cell), or say why
    /// not (consuming nothing).
    pub fn check(&mut self, key: &K, now: Instant, cost: u32) -> Result<(), Denied>
    where
        K: Clone,
    {
        if cost > self.max_cost {
            return Err(Denied::ExceedsBurst {
                cost,
                burst: self.max_cost,
            });
        }
        let now = self.clamp(now);
        if let Some(result) = self.check_fast(key, now, cost, true, &[], &mut []) {
            return result.map_err(Denied::NotUntil);
        }
        self.decide(key, now, cost, 0).map_err(Denied::NotUntil)?;
        self.commit(key, now, cost);
        Ok(())
    }

    /// Like [`check`](KeyedGcra::check), but never consumes (nor stores the key).
    pub fn peek(&self, key: &K, now: Instant, cost: u32) -> Result<(), Denied> {
        if cost > self.max_cost {
            return Err(Denied::ExceedsBurst {
                cost,
                burst: self.max_cost,
            });
        }
        self.decide(key, now.max(self.floor), cost, 0)
            .map_err(Denied::NotUntil)
    }

    /// Refuse every check of `key` until `until` (a later pause already in
    /// force is kept: pauses only ever lengthen); then the key eases back in
    /// over six steps of `min(pause, 1 s)`: one admission during the first
    /// step, the admission rate doubling with every step (see [`Ramp`]).
    ///
    /// ```
    /// use weir::{Denied, Instant, Quota};
    /// use weir::rate::KeyedGcra;
    /// let mut keyed = KeyedGcra::new(&[Quota::per_second(100)?]);
    /// let s = |n: u64| Instant::from_nanos(n * 1_000_000_000);
    /// keyed.pause_until(&"host", s(1));
    /// assert_eq!(keyed.check(&"host", s(0), 1), Err(Denied::NotUntil(s(1))));
    /// assert_eq!(keyed.check(&"host", s(1), 1), Ok(()));           // the probe
    /// assert_eq!(keyed.check(&"host", s(1), 1), Err(Denied::NotUntil(s(2))));
    /// # Ok::<(), weir::QuotaError>(())
    /// ```
    pub fn pause_until(&mut self, key: &K, until: Instant)
    where
        K: Clone,
    {
        if until <= self.floor {
            return;
        }
        let floor = self.floor;
        let entry = self.entry(key, floor);
        entry.paused_until = entry.paused_until.max(until);
        entry.ramp = Some(Ramp::after_pause(floor, entry.paused_until, entry.ramp));
    }

    /// The pause in force for `key` at `now`, if any.
    pub fn paused_until(&self, key: &K, now: Instant) -> Option<Instant> {
        let now = now.max(self.floor);
        self.map
            .get(key)
            .map(|e| e.paused_until)
            .filter(|&until| until > now)
    }

    /// Drop every idle key now, and shrink the map if it has become sparse.
    pub fn evict_idle(&mut self, now: Instant) {
        let now = self.clamp(now);
        let quotas = &self.quotas;
        self.map.retain(|_, entry| !entry.is_idle(quotas, now));
        let len = self.map.len();
        self.sweep_at = (2 * len).max(MIN_SWEEP);
        if self.map.capacity() > 4 * self.sweep_at {
            self.map.shrink_to(self.sweep_at);
        }
    }

    // --- crate-internal: used by `RateLimiter` -----------------------------

    /// The latest `now` seen.
    pub(crate) fn floor(&self) -> Instant {
        self.floor
    }

    /// `now`, clamped so time never goes back.
    pub(crate) fn clamp(&mut self, now: Instant) -> Instant {
        self.floor = self.floor.max(now);
        self.floor
    }

    /// Decide `cost` for `key` at `now` when `ahead` units are queued before
    /// it: `Ok` only when nothing is queued, no pause holds and every cell
    /// admits; otherwise the first instant it could pass. Consumes nothing.
    pub(crate) fn decide(
        &self,
        key: &K,
        now: Instant,
        cost: u32,
        ahead: u64,
    ) -> Result<(), Instant> {
        let Some(entry) = self.map.get(key) else {
            // A fresh key: full cells (cost <= max_cost was checked).
            return Ok(());
        };
        let cells = if ahead > 0 {
            // The queued waiters go first, and not before the pause ends.
            let start = now.max(entry.paused_until);
            Err(earliest_all(&self.quotas, &entry.tats, start, ahead, cost))
        } else {
            decide_all(&self.quotas, &entry.tats, now, cost)
        };
        let cells = match (cells, entry.ramp.map_or(Ok(()), |r| r.decide(now, ahead))) {
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(at), Ok(())) | (Ok(()), Err(at)) => Err(at),
            (Ok(()), Ok(())) => Ok(()),
        };
        if entry.paused_until > now {
            Err(cells
                .err()
                .map_or(entry.paused_until, |at| at.max(entry.paused_until)))
        } else {
            cells
        }
    }

    /// The common case of a check, in one key lookup: `key` is not paused and
    /// nobody is queued on it. Decides `cost` against the key's cells and the
    /// `global` cells together, each computed once, and when admitted with
    /// `commit`, consumes from both. `None` when the key is paused or waited
    /// on: the caller then takes the general path ([`decide`](Self::decide)).
    #[inline]
    pub(crate) fn check_fast(
        &mut self,
        key: &K,
        now: Instant,
        cost: u32,
        commit: bool,
        global_quotas: &[Quota],
        global: &mut [Tat],
    ) -> Option<Result<(), Instant>>
    where
        K: Clone,
    {
        let Some(entry) = self.map.get_mut(key) else {
            // A fresh key: its cells are full (cost <= max_cost was checked).
            let admitted = match decide_cells(global_quotas, global, now, cost) {
                Ok(admitted) => admitted,
                Err(at) => return Some(Err(at)),
            };
            if commit {
                commit_cells(global_quotas, global, now, cost, admitted);
                if !self.quotas.is_empty() && cost > 0 {
                    let mut entry = KeyEntry::new(self.quotas.len());
                    commit_all(&self.quotas, &mut entry.tats, now, cost);
                    self.insert(key.clone(), entry, now);
                }
            }
            return Some(Ok(()));
        };
        if !entry.queue.is_empty() || entry.paused_until > now {
            return None;
        }
        if let Some(ramp) = entry.ramp {
            if !ramp.is_over(now) {
                return None;
            }
            entry.ramp = None;
        }
        let in_global = decide_cells(global_quotas, global, now, cost);
        let in_key = decide_cells(&self.quotas, &entry.tats, now, cost);
        Some(match (in_global, in_key) {
            (Ok(in_global), Ok(in_key)) => {
                if commit {
                    commit_cells(global_quotas, global, now, cost, in_global);
                    commit_cells(&self.quotas, &mut entry.tats, now, cost, in_key);
                }
                Ok(())
            }
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(at), Ok(_)) | (Ok(_), Err(at)) => Err(at),
        })
    }

    /// Consume `cost` for `key`; the caller has checked [`decide`](Self::decide).
    pub(crate) fn commit(&mut self, key: &K, now: Instant, cost: u32)
    where
        K: Clone,
    {
        if let Some(ramp) = self.map.get_mut(key).and_then(|e| e.ramp.as_mut()) {
            ramp.commit(now, cost);
        }
        if self.quotas.is_empty() || cost == 0 {
            return;
        }
        if let Some(entry) = self.map.get_mut(key) {
            commit_all(&self.quotas, &mut entry.tats, now, cost);
        } else {
            let mut entry = KeyEntry::new(self.quotas.len());
            commit_all(&self.quotas, &mut entry.tats, now, cost);
            self.insert(key.clone(), entry, now);
        }
    }

    /// The entry for `key`, created (after an amortised sweep) when missing.
    pub(crate) fn entry(&mut self, key: &K, now: Instant) -> &mut KeyEntry
    where
        K: Clone,
    {
        if self.map.contains_key(key) {
            return self.map.get_mut(key).expect("present");
        }
        let entry = KeyEntry::new(self.quotas.len());
        self.insert(key.clone(), entry, now)
    }

    /// Insert a key known to be absent, sweeping first when the map has
    /// doubled since the last sweep (amortised O(1) per insert).
    fn insert(&mut self, key: K, entry: KeyEntry, now: Instant) -> &mut KeyEntry {
        if self.map.len() + 1 >= self.sweep_at {
            self.evict_idle(now);
        }
        self.map.entry(key).insert(entry).into_mut()
    }

    /// The tightest per-key cell of `key` at `now` (a key not resident has
    /// full cells); `None` when there are no per-key quotas. Read-only.
    pub(crate) fn cell_status(&self, key: &K, now: Instant) -> Option<CellStatus> {
        let now = now.max(self.floor);
        let entry = self.map.get(key);
        self.quotas
            .iter()
            .enumerate()
            .map(|(i, quota)| {
                let tat = entry.map_or(Tat::default(), |e| e.tats[i]);
                tat.status(quota, now)
            })
            .reduce(CellStatus::tighter)
    }

    /// The entry for `key`, if resident.
    pub(crate) fn get(&self, key: &K) -> Option<&KeyEntry> {
        self.map.get(key)
    }

    /// The entry for `key`, if resident.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut KeyEntry> {
        self.map.get_mut(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    /// The one-lookup path answers exactly as the general decide + commit,
    /// for one quota (new TAT computed once) and several (two passes),
    /// with and without global cells, across fresh, busy, paused and
    /// ramping keys.
    #[test]
    fn the_fast_check_agrees_with_the_general_path() {
        let one = [Quota::per_second(3).unwrap().with_burst(2).unwrap()];
        let two = [
            Quota::new(5, Duration::from_millis(700)).unwrap(),
            Quota::per_minute(40).unwrap().with_burst(7).unwrap(),
        ];
        for (per_key, global) in [
            (&one[..], &two[..]),
            (&two[..], &one[..]),
            (&one[..], &[][..]),
        ] {
            let mut fast = KeyedGcra::<u8>::new(per_key);
            let mut slow = KeyedGcra::<u8>::new(per_key);
            let mut fast_global = alloc::vec![Tat::default(); global.len()];
            let mut slow_global = fast_global.clone();
            let mut seed = 0x9e37_79b9_u32;
            let mut now = Instant::ZERO;
            for step in 0..3_000 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                now = now + Duration::from_millis(u64::from(seed % 97));
                let key = (seed >> 8) as u8 % 5;
                let cost = (seed >> 16) % 3;
                if step % 500 == 7 {
                    let until = now + Duration::from_millis(300);
                    fast.pause_until(&key, until);
                    slow.pause_until(&key, until);
                }
                let commit = seed % 4 != 0;
                let combine = |g: Result<(), Instant>, k: Result<(), Instant>| match (g, k) {
                    (Ok(()), Ok(())) => Ok(()),
                    (Err(a), Err(b)) => Err(a.max(b)),
                    (Err(a), Ok(())) | (Ok(()), Err(a)) => Err(a),
                };
                let got = match fast.check_fast(&key, now, cost, commit, global, &mut fast_global) {
                    Some(result) => result,
                    None => {
                        // Paused or ramping back in after a pause: the
                        // caller's general path (which denies while paused).
                        let paused = fast.paused_until(&key, now).is_some();
                        let verdict = combine(
                            decide_all(global, &fast_global, now, cost),
                            fast.decide(&key, now, cost, 0),
                        );
                        assert!(!paused || verdict.is_err());
                        if verdict.is_ok() && commit {
                            commit_all(global, &mut fast_global, now, cost);
                            fast.commit(&key, now, cost);
                        }
                        verdict
                    }
                };
                let want = combine(
                    decide_all(global, &slow_global, now, cost),
                    slow.decide(&key, now, cost, 0),
                );
                assert_eq!(got, want, "step {step}");
                if want.is_ok() && commit {
                    commit_all(global, &mut slow_global, now, cost);
                    slow.commit(&key, now, cost);
                }
                assert_eq!(fast_global, slow_global, "step {step}");
                assert_eq!(fast.len(), slow.len(), "step {step}");
            }
        }
    }
}
