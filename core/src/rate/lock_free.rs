//! [`FastCell`]: the lock-free path of a [`RateLimiter`](super::RateLimiter)
//! whose only quota is one global quota — the common "N per second" case.
//!
//! The state the locked path keeps for such a limiter, while no pause is in
//! force and nobody waits, is exactly two numbers: the clock floor (the
//! latest instant seen: a clock that steps back is read as standing still)
//! and the cell's theoretical arrival time. Where they fit, they live packed
//! in one `AtomicU64` ([`Packed`], `packed.rs`: the floor as a residue
//! anchored by an epoch, the backlog reduced by `gcd(limit, interval)`),
//! replaced by an 8-byte compare-and-swap (on builds with 64-bit atomics,
//! wasm32 aside). Quotas whose backlog leaves the floor fewer than
//! [`MIN_RANGE_BITS`](super::packed::MIN_RANGE_BITS) bits (a long interval
//! with a large burst, e.g. 1000 per hour) keep them in one [`AtomicPair`]
//! as `[floor ns, backlog]`, the backlog being `TAT − floor` in the quota's
//! scaled units, replaced by a 16-byte compare-and-swap (on x86-64 with
//! `std` only). Other builds and quotas take the locked path.
//!
//! Invariants (of the pair; the packed word's are in `packed.rs`):
//! - **one path at a time.** A cell uses the packed word or the pair,
//!   chosen at construction; the other stays locked forever;
//! - **one owner at a time.** The pair either holds the state (backlog ≠
//!   [`LOCKED`]) or says that the limiter's locked state does (backlog ==
//!   [`LOCKED`]). Only holders of the limiter's lock change the mode:
//!   [`take_over`](FastCell::take_over) moves the state into the locked
//!   state, [`hand_back`](FastCell::hand_back) moves it back once nothing
//!   but the cell is left (no pause in force, no waiter, no key resident);
//! - **same arithmetic, same decisions.** A check on the pair clamps `now`
//!   to the floor and applies the very rule of the locked path ([`admit`],
//!   which [`Tat::decide`] applies too) in the frame of `now`, so it admits,
//!   denies and answers "not until" exactly as the locked path would from
//!   the same state; a denial and a peek still record the floor, as the
//!   locked path's clamp does;
//! - **linearisable.** A check takes effect at its successful
//!   compare-and-swap (denials and peeks included, so a torn load is never
//!   acted on). A check that finds the pair handed over goes to the lock;
//! - the backlog of a state never exceeds the quota's tolerance (`burst ×
//!   interval` scaled), which the pair can hold only when it is below
//!   `u64::MAX`: other quotas always take the locked path.

use super::gcra::{admit, overshoot, Tat};
use super::packed::Packed;
use super::pair::{AtomicPair, SUPPORTED};
use super::quota::Quota;
use crate::time::Instant;

/// The backlog word of a pair whose state is held by the locked path.
const LOCKED: u64 = u64::MAX;

/// The lock-free cell of a single-quota limiter (see the module docs).
pub(crate) struct FastCell {
    /// The packed word (enabled when the quota fits), else the pair.
    packed: Packed,
    pair: AtomicPair,
    quota: Quota,
    /// The quota's tolerance (scaled; below `u64::MAX` when enabled, else 0),
    /// limit and interval, in the widths the lock-free rule runs in.
    tolerance: u64,
    limit: u64,
    interval_ns: u64,
    /// The limiter has exactly one quota, global.
    eligible: bool,
    /// Eligible, the packed word is not, and the build and CPU have a
    /// 16-byte CAS whose backlog word can hold the quota's tolerance. Else
    /// the pair stays [`LOCKED`].
    enabled: bool,
}

impl FastCell {
    /// The cell of a limiter with these quotas: enabled only for exactly one
    /// global quota, packed where it fits (its floor range capped at
    /// `max_range_bits` bits when given: tests), else in the pair where its
    /// tolerance fits, on a CPU with a 16-byte CAS.
    pub(crate) fn new(global: &[Quota], per_key: &[Quota], max_range_bits: Option<u32>) -> Self {
        let (quota, eligible) = match (global, per_key) {
            ([quota], []) => (*quota, true),
            _ => (Quota::per_second(1).expect("a valid quota"), false),
        };
        let packed = Packed::new(eligible.then_some(&quota), max_range_bits);
        let enabled = eligible
            && !packed.is_enabled()
            && SUPPORTED
            && quota.tolerance() < u128::from(LOCKED)
            && AtomicPair::available();
        let backlog = if enabled { 0 } else { LOCKED };
        FastCell {
            packed,
            pair: AtomicPair::new([0, backlog]),
            quota,
            tolerance: if enabled { quota.tolerance() as u64 } else { 0 },
            limit: u64::from(quota.limit()),
            interval_ns: crate::time::duration_nanos(quota.interval()),
            eligible,
            enabled,
        }
    }

    /// Whether the limiter has exactly one quota, global (whatever the CPU).
    #[inline]
    pub(crate) fn is_eligible(&self) -> bool {
        self.eligible
    }

    /// Whether this limiter uses the pair.
    #[inline]
    fn is_enabled(&self) -> bool {
        SUPPORTED && self.enabled
    }

    /// Which lock-free state this limiter uses: `"packed"`, `"pair"` or
    /// `"none"` (tests).
    pub(crate) fn kind(&self) -> &'static str {
        if self.packed.is_enabled() {
            "packed"
        } else if self.is_enabled() {
            "pair"
        } else {
            "none"
        }
    }

    /// Whether the lock-free state holds the state now (checks need no lock).
    pub(crate) fn is_active(&self) -> bool {
        self.packed.is_active() || (self.enabled && self.pair.load()[1] != LOCKED)
    }

    /// Decide `cost` at `now` (the raw clock reading; `cost` within the
    /// burst) and, with `commit`, consume it — or `None` when the locked
    /// path holds the state.
    #[inline]
    pub(crate) fn decide(
        &self,
        now: Instant,
        cost: u32,
        commit: bool,
    ) -> Option<Result<(), Instant>> {
        // A cell that does not pack holds its word LOCKED: `None` at once.
        let packed = self.packed.decide(&self.quota, now, cost, commit);
        if packed.is_some() || self.packed.is_enabled() {
            return packed;
        }
        self.decide_pair(now, cost, commit)
    }

    /// [`decide`](Self::decide) on the pair.
    #[inline]
    fn decide_pair(&self, now: Instant, cost: u32, commit: bool) -> Option<Result<(), Instant>> {
        if !SUPPORTED {
            return None; // (when not enabled, the pair says LOCKED)
        }
        let quota = &self.quota;
        let mut current = self.pair.load();
        loop {
            let [floor, backlog] = current;
            if backlog == LOCKED {
                return None;
            }
            // The locked path's clamp, then its rule, in the frame of `now`:
            // the TAT (floor + backlog) runs `ahead` of now. All of it fits
            // in u64 (backlog ≤ tolerance < u64::MAX).
            let now = now.max(Instant::from_nanos(floor));
            let passed = (now.as_nanos() - floor).checked_mul(self.limit);
            let ahead = passed.map_or(0, |passed| backlog.saturating_sub(passed));
            // cost ≤ burst (checked by the caller), so span ≤ tolerance.
            let span = u64::from(cost) * self.interval_ns;
            let (ahead, result) = match admit(ahead, span, self.tolerance) {
                Some(admitted) if commit => (admitted, Ok(())),
                Some(_) => (ahead, Ok(())),
                None => {
                    let tolerance = u128::from(self.tolerance);
                    let over = overshoot(u128::from(ahead), u128::from(span), tolerance);
                    (
                        ahead,
                        Err(quota.instant_at_or_after(quota.scaled(now) + over)),
                    )
                }
            };
            // ≤ the tolerance (admitted: by the rule; otherwise at most the
            // old backlog), so it fits and is not LOCKED.
            match self.pair.compare_exchange(current, [now.as_nanos(), ahead]) {
                Ok(()) => return Some(result),
                Err(found) => current = found,
            }
        }
    }

    /// Under the limiter's lock: move the state to the locked path and
    /// return it as `(floor, TAT)`; `None` when the locked path holds it
    /// already (then nobody else can hand it back meanwhile: we hold the lock).
    pub(crate) fn take_over(&self) -> Option<(Instant, Tat)> {
        if self.packed.is_enabled() {
            return self.packed.take_over(&self.quota);
        }
        if !self.is_enabled() {
            return None;
        }
        let mut current = self.pair.load();
        loop {
            let [floor, backlog] = current;
            if backlog == LOCKED {
                return None;
            }
            match self.pair.compare_exchange(current, [floor, LOCKED]) {
                Ok(()) => {
                    let floor = Instant::from_nanos(floor);
                    let tat = Tat::from_scaled(self.quota.scaled(floor) + u128::from(backlog));
                    return Some((floor, tat));
                }
                Err(found) => current = found,
            }
        }
    }

    /// Under the limiter's lock, with the state taken over: hand the cell's
    /// state (`floor`, `tat`) back to the lock-free path. The locked state
    /// must hold nothing else (no pause in force, no waiter, no key).
    pub(crate) fn hand_back(&self, floor: Instant, tat: Tat) {
        if self.packed.is_enabled() {
            return self.packed.hand_back(&self.quota, floor, tat);
        }
        if !self.is_enabled() {
            return;
        }
        let backlog = tat.scaled().saturating_sub(self.quota.scaled(floor));
        let Some(backlog) = u64::try_from(backlog).ok().filter(|&b| b != LOCKED) else {
            return; // cannot happen (backlog ≤ tolerance); stay locked
        };
        // Nobody writes a LOCKED pair but the lock holder: this load is exact.
        let current = self.pair.load();
        debug_assert_eq!(current[1], LOCKED);
        let swapped = self
            .pair
            .compare_exchange(current, [floor.as_nanos(), backlog]);
        debug_assert!(swapped.is_ok());
    }
}

impl core::fmt::Debug for FastCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FastCell")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}
