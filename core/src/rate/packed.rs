//! [`Packed`]: the lock-free state of a single-quota limiter in one
//! `AtomicU64` — the clock floor and the backlog, replaced by an 8-byte
//! compare-and-swap (the 16-byte [`AtomicPair`](super::pair::AtomicPair)
//! remains for quotas whose backlog leaves too few bits for the floor).
//!
//! The state is the locked path's: the floor `F` (the latest instant seen,
//! ns) and the TAT. Every TAT the limiter ever holds is a sum of multiples of
//! the quota's limit and interval, so `TAT − F·limit` is a multiple of `g =
//! gcd(limit, interval ns)`; the *backlog* `b = (TAT − F·limit) / g` (0 when
//! the TAT is behind the floor, which is equivalent) is at most the reduced
//! tolerance `T' = burst × interval / g`. With `h ≤ 64 − bits(T' + 1)` and
//! `h ≤ 64 − bits(limit / g)` (chosen per quota at construction, at least
//! [`MIN_RANGE_BITS`]):
//!
//! ```text
//! word  = (F mod 2^h) << (64 − h) | b   (u64::MAX: the locked path holds the state)
//! epoch = E, with E ≤ F < E + 2^h       (F = E + (word − E << (64 − h)) >> (64 − h))
//! ```
//!
//! Invariants:
//! - **one owner at a time.** The word either holds the state or is
//!   [`LOCKED`] (never a state: `b ≤ T' < 2^(64 − h) − 1`). Only holders of the
//!   limiter's lock write a LOCKED word or the epoch: [`take_over`]
//!   swaps LOCKED in, [`hand_back`] stores the epoch and then the word.
//!   Checks only compare-and-swap one state for another;
//! - **the epoch anchors the word.** `E ≤ F < E + 2^h` holds for the current
//!   word and epoch at all times: [`hand_back`] sets `E = F` (so epochs never
//!   decrease — floors never do); a check writes a floor `F' ≥ F` only when
//!   `F' − E < 2^h` for the epoch `E` it read, and that epoch is at most the
//!   current one, which is at most `F`. A check whose floor would leave the
//!   range goes to the locked path, which re-bases (the next `hand_back`);
//! - **a check reads the word, then the epoch** (acquire on the word; the
//!   epoch is stored before the word is released), so it never pairs a word
//!   with an epoch older than the word's. A newer epoch means the word it
//!   read was taken over since, and its compare-and-swap fails;
//! - **same arithmetic, same decisions.** A check clamps `now` to the floor
//!   and applies [`admit`] — the rule of [`Tat::decide`] — to quantities all
//!   divided by `g`, which changes no comparison; the "not until" instant is
//!   computed from the same scaled figures as the locked path's. Denials and
//!   peeks record the floor too, as the locked path's clamp does;
//! - **linearisable.** A check takes effect at its successful
//!   compare-and-swap. It succeeds only on the very word the check decided
//!   from; that word means the same state then as when it was read unless the
//!   floor advanced by a whole multiple of `2^h` ns in between and the backlog
//!   came back to the same value (the one ABA: a check suspended between its
//!   load and its compare-and-swap for at least `2^h` ns — ≥ 16 ms, ≥ 2 s for
//!   the common quotas — *and* a floor landing on the same residue to the
//!   nanosecond). The damage would be bounded and strict: the floor read
//!   ahead by that multiple, so the limiter reads the clock as standing still
//!   until then, admitting nothing extra.
//!
//! [`take_over`]: Packed::take_over
//! [`hand_back`]: Packed::hand_back
//! [`Tat::decide`]: super::gcra::Tat::decide

use super::gcra::{admit, Tat};
use super::quota::Quota;
use crate::time::Instant;

/// Fewer bits of floor range than this (2^24 ns ≈ 16.8 ms) and a quota keeps
/// the 16-byte pair (or the locked path): re-bases would be frequent, and
/// the ABA window above short.
pub(crate) const MIN_RANGE_BITS: u32 = 24;

/// Whether this build packs: it needs 64-bit atomics (thumbv7em, for one,
/// has none). wasm32 leaves it out: its hosts run one thread, where the
/// lock is never contended, and the path costs ~1.6 KB gzip of wasm
/// (measured before `wasm-opt`).
pub(crate) const SUPPORTED: bool = cfg!(any(
    loom,
    all(target_has_atomic = "64", not(target_arch = "wasm32"))
));

/// The word while the locked path holds the state.
const LOCKED: u64 = u64::MAX;

/// The word layout and the quota's reduced figures (see the module docs).
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// `limit / g`, `interval / g`, `T' = burst × interval / g`, and `g`.
    limit: u64,
    interval: u64,
    tolerance: u64,
    gcd: u64,
    /// `64 − h`: the backlog's bits (the floor's residue sits above them).
    shift: u32,
    /// `2^h − 1`.
    range: u64,
}

impl Layout {
    /// The layout of `quota`, its floor range capped at `max_range_bits`
    /// bits when given (tests), else at least [`MIN_RANGE_BITS`]; `None`
    /// when it does not fit.
    fn new(quota: &Quota, max_range_bits: Option<u32>) -> Option<Self> {
        let limit = u64::from(quota.limit());
        let interval = quota.interval_ns();
        let gcd = gcd(limit, interval);
        let (limit, interval) = (limit / gcd, interval / gcd);
        let tolerance = u64::from(quota.burst()).checked_mul(interval)?;
        // The backlog above the residue, never all ones (LOCKED); and
        // `(2^h − 1) × limit / g` (the most a check's clock can advance
        // times the limit) within 64 bits.
        let bits = tolerance.checked_add(1)?.leading_zeros();
        let bits = bits.min(limit.leading_zeros());
        let bits = match max_range_bits {
            Some(max) => bits.min(max),
            None if bits < MIN_RANGE_BITS => return None,
            None => bits,
        };
        if bits == 0 {
            return None;
        }
        Some(Layout {
            limit,
            interval,
            tolerance,
            gcd,
            shift: 64 - bits,
            range: (1u64 << bits) - 1,
        })
    }

    /// The word of `floor` (its residue: the bits above the backlog's drop
    /// out) and `backlog`.
    #[inline]
    fn encode(&self, floor: u64, backlog: u64) -> u64 {
        (floor << self.shift) | backlog
    }

    /// `(floor − epoch, backlog)` of a (non-LOCKED) word: the residue minus
    /// the epoch's, mod 2^h, is what the top bits of the difference hold.
    #[inline]
    fn decode(&self, word: u64, epoch: u64) -> (u64, u64) {
        (
            word.wrapping_sub(epoch << self.shift) >> self.shift,
            word & (u64::MAX >> (64 - self.shift)),
        )
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(all(not(loom), target_has_atomic = "64"))]
use core::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering};

/// Builds without 64-bit atomics: a cell that is never enabled.
#[cfg(not(any(loom, target_has_atomic = "64")))]
struct AtomicU64(u64);

#[cfg(not(any(loom, target_has_atomic = "64")))]
#[derive(Clone, Copy)]
enum Ordering {
    Relaxed,
    Acquire,
    Release,
    AcqRel,
}

#[cfg(not(any(loom, target_has_atomic = "64")))]
impl AtomicU64 {
    fn new(value: u64) -> Self {
        AtomicU64(value)
    }
    fn load(&self, _: Ordering) -> u64 {
        self.0
    }
    fn store(&self, _: u64, _: Ordering) {
        unreachable!("never enabled without 64-bit atomics")
    }
    fn swap(&self, _: u64, _: Ordering) -> u64 {
        unreachable!("never enabled without 64-bit atomics")
    }
    fn compare_exchange_weak(&self, _: u64, _: u64, _: Ordering, _: Ordering) -> Result<u64, u64> {
        unreachable!("never enabled without 64-bit atomics")
    }
}

/// The packed lock-free cell (see the module docs). A cell whose quota does
/// not fit (or a build without 64-bit atomics) is never enabled: its word
/// stays [`LOCKED`].
pub(crate) struct Packed {
    word: AtomicU64,
    epoch: AtomicU64,
    layout: Layout,
    enabled: bool,
}

impl Packed {
    /// The cell of `quota`, if it fits (`max_range_bits`: see [`Layout::new`]).
    pub(crate) fn new(quota: Option<&Quota>, max_range_bits: Option<u32>) -> Self {
        let layout = quota
            .filter(|_| SUPPORTED)
            .and_then(|quota| Layout::new(quota, max_range_bits));
        Packed {
            // Floor 0, epoch 0, backlog 0: a full cell, as the locked path's.
            word: AtomicU64::new(if layout.is_some() { 0 } else { LOCKED }),
            epoch: AtomicU64::new(0),
            enabled: layout.is_some(),
            layout: layout.unwrap_or(Layout {
                limit: 1,
                interval: 1,
                tolerance: 0,
                gcd: 1,
                shift: 1,
                range: 0,
            }),
        }
    }

    /// Whether this cell ever holds the state.
    #[inline]
    pub(crate) fn is_enabled(&self) -> bool {
        SUPPORTED && self.enabled
    }

    /// Whether the word holds the state now.
    pub(crate) fn is_active(&self) -> bool {
        self.is_enabled() && self.word.load(Ordering::Acquire) != LOCKED
    }

    /// Decide `cost` (within the burst) at `now` and, with `commit`, consume
    /// it — or `None` when the locked path holds the state or must re-base.
    #[inline]
    pub(crate) fn decide(
        &self,
        quota: &Quota,
        now: Instant,
        cost: u32,
        commit: bool,
    ) -> Option<Result<(), Instant>> {
        if !SUPPORTED {
            return None; // (the word is LOCKED; this leaves the code out)
        }
        let layout = &self.layout;
        let now = now.as_nanos();
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if word == LOCKED {
                return None;
            }
            // After the word (acquire): never older than the word's epoch.
            let epoch = self.epoch.load(Ordering::Relaxed);
            let (floor, backlog) = layout.decode(word, epoch);
            // The locked path's clamp, as an offset from the epoch (a clock
            // behind the epoch is behind the floor too).
            let mut since = now.wrapping_sub(epoch);
            if since > layout.range {
                if now >= epoch {
                    return None; // the new floor leaves the range: re-base
                }
                since = 0; // behind the epoch (so behind the floor)
            }
            let at = since.max(floor);
            // Its rule, in the frame of `at`, all divided by g (the product
            // fits: see `Layout::new`).
            let elapsed = since.saturating_sub(floor);
            let ahead = backlog.saturating_sub(elapsed * layout.limit);
            // cost ≤ burst (checked by the caller): span ≤ tolerance.
            let span = u64::from(cost) * layout.interval;
            let (ahead, result) = match admit(ahead, span, layout.tolerance) {
                Some(admitted) if commit => (admitted, Ok(())),
                Some(_) => (ahead, Ok(())),
                None => (
                    ahead,
                    Err(self.not_until(quota, epoch.wrapping_add(at), ahead + span)),
                ),
            };
            // ≤ the tolerance (admitted: by the rule; otherwise at most the
            // old backlog), so never LOCKED.
            let new = layout.encode(epoch.wrapping_add(at), ahead);
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(result),
                Err(found) => word = found,
            }
        }
    }

    /// The "not until" of a denial at (clamped) `now`, the new TAT running
    /// `over` (reduced units, above the tolerance) ahead: as `Tat::decide`.
    #[cold]
    #[inline(never)]
    fn not_until(&self, quota: &Quota, now: u64, over: u64) -> Instant {
        let over = u128::from(over - self.layout.tolerance) * u128::from(self.layout.gcd);
        quota.instant_at_or_after(quota.scaled(Instant::from_nanos(now)) + over)
    }

    /// Under the limiter's lock: move the state to the locked path and
    /// return it as `(floor, TAT)`; `None` when the locked path holds it
    /// already (then nobody else can hand it back meanwhile: we hold the lock).
    pub(crate) fn take_over(&self, quota: &Quota) -> Option<(Instant, Tat)> {
        if !self.is_enabled() {
            return None;
        }
        let word = self.word.swap(LOCKED, Ordering::AcqRel);
        if word == LOCKED {
            return None;
        }
        // Only lock holders write the epoch: this load is exact.
        let epoch = self.epoch.load(Ordering::Relaxed);
        let (offset, backlog) = self.layout.decode(word, epoch);
        let floor = Instant::from_nanos(epoch + offset);
        let backlog = u128::from(backlog) * u128::from(self.layout.gcd);
        Some((floor, Tat::from_scaled(quota.scaled(floor) + backlog)))
    }

    /// Under the limiter's lock, with the state taken over: hand the cell's
    /// state (`floor`, `tat`) back, re-based on `floor`. The locked state
    /// must hold nothing else (no pause in force, no waiter, no key).
    pub(crate) fn hand_back(&self, quota: &Quota, floor: Instant, tat: Tat) {
        if !self.is_enabled() {
            return;
        }
        let layout = &self.layout;
        let scaled = tat.scaled().saturating_sub(quota.scaled(floor));
        // Exact: g divides every TAT and every scaled instant; g ≤ limit < 2^32.
        let backlog = super::divide::ceil_div_u32(scaled, layout.gcd as u32);
        if u128::from(backlog) * u128::from(layout.gcd) != scaled || backlog > layout.tolerance {
            debug_assert!(
                false,
                "a backlog off the reduced grid or above the tolerance"
            );
            return; // stay locked
        }
        debug_assert_eq!(self.word.load(Ordering::Relaxed), LOCKED);
        let floor = floor.as_nanos();
        // Nobody else writes while the word is LOCKED; the epoch first, so
        // that a check reading the new word reads the new epoch too.
        self.epoch.store(floor, Ordering::Relaxed);
        self.word
            .store(layout.encode(floor, backlog), Ordering::Release);
    }
}

impl core::fmt::Debug for Packed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Packed")
            .field("enabled", &self.enabled)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom), target_has_atomic = "64"))]
mod tests {
    use super::*;
    use core::time::Duration;

    fn quota(limit: u32, interval_ns: u64, burst: u32) -> Quota {
        Quota::new(limit, Duration::from_nanos(interval_ns))
            .unwrap()
            .with_burst(burst)
            .unwrap()
    }

    #[test]
    fn layouts_reduce_by_the_gcd_and_leave_the_rest_to_the_floor() {
        // The benchmark's quota: 10^9 per second, bursts of 2^32 − 1.
        let l = Layout::new(&quota(1_000_000_000, 1_000_000_000, u32::MAX), None).unwrap();
        assert_eq!(
            (l.limit, l.interval, l.tolerance, l.gcd),
            (1, 1, u32::MAX.into(), 1_000_000_000)
        );
        assert_eq!((l.shift, l.range), (33, (1 << 31) - 1));
        // 100 per second: T' = 10^9 (30 bits), 34 bits of floor range.
        let l = Layout::new(&quota(100, 1_000_000_000, 100), None).unwrap();
        assert_eq!(
            (l.tolerance, l.shift, l.range),
            (1_000_000_000, 30, (1 << 34) - 1)
        );
        // 1000 per hour: T' = 3.6 × 10^12 (42 bits): 22 bits of range, too few.
        assert!(Layout::new(&quota(1000, 3_600_000_000_000, 1000), None).is_none());
        assert!(Layout::new(&quota(1000, 3_600_000_000_000, 1000), Some(8)).is_some());
        // A tolerance of 2^s − 2 fits in s bits, 2^s − 1 does not (LOCKED).
        assert_eq!(Layout::new(&quota(1, 6, 1), None).unwrap().shift, 3);
        assert_eq!(Layout::new(&quota(1, 7, 1), None).unwrap().shift, 4);
        // 2^32 − 1 per ns: the range times the limit within 64 bits.
        assert_eq!(Layout::new(&quota(u32::MAX, 1, 1), None).unwrap().shift, 32);
        // A capped range leaves the backlog the rest.
        assert_eq!(Layout::new(&quota(1, 7, 1), Some(8)).unwrap().shift, 56);
    }

    #[test]
    fn floors_decode_across_the_residue_wrap() {
        let l = Layout::new(&quota(1, 10, 1), Some(8)).unwrap();
        for epoch in [0u64, 1, 250, 255, 256, 1_000_003, u64::MAX - 255] {
            for offset in [0u64, 1, 5, 254, 255] {
                let word = l.encode(epoch + offset, 7);
                assert_eq!(
                    l.decode(word, epoch),
                    (offset, 7),
                    "epoch {epoch} offset {offset}"
                );
            }
        }
    }
}
