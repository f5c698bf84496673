//! [`Gcra`]: one GCRA cell — the theoretical-arrival-time arithmetic.
//!
//! For cost `c` with emission interval `T = interval / limit` and burst `b`:
//! `new_tat = max(tat, now) + c·T`, admitted iff `new_tat − now ≤ b·T`.
//! All quantities are held in scaled units (ns × limit, `u128`), so the
//! arithmetic is exact and never drifts.

use super::quota::Quota;
use crate::limiter::CellStatus;
use crate::time::Instant;

/// The GCRA rule, in the frame of `now` (scaled units): the TAT runs
/// `ahead` of now (0 when it is behind), and a cost spanning `span` is
/// admitted iff `ahead + span ≤ tolerance` — i.e. iff the new TAT,
/// `max(TAT, now) + span`, is at most `tolerance` ahead of now. `Some(how
/// far the new TAT runs ahead)`, or `None`: denied, passing [`overshoot`]
/// after now. The one place the decision is made, for the locked cells
/// ([`Tat::decide`], in `u128`) and the lock-free one (in `u64`, where its
/// state fits) alike.
#[inline]
pub(crate) fn admit<T: Scaled>(ahead: T, span: T, tolerance: T) -> Option<T> {
    match tolerance.checked_sub(ahead) {
        Some(room) if span <= room => Some(ahead + span),
        _ => None,
    }
}

/// For a cost [`admit`] denied: how long after now (scaled) it passes.
#[inline]
pub(crate) fn overshoot(ahead: u128, span: u128, tolerance: u128) -> u128 {
    ahead.saturating_add(span).saturating_sub(tolerance)
}

/// The integer widths [`admit`] runs in.
pub(crate) trait Scaled: Copy + Ord + core::ops::Add<Output = Self> {
    fn checked_sub(self, other: Self) -> Option<Self>;
}

impl Scaled for u64 {
    #[inline]
    fn checked_sub(self, other: Self) -> Option<Self> {
        u64::checked_sub(self, other)
    }
}

impl Scaled for u128 {
    #[inline]
    fn checked_sub(self, other: Self) -> Option<Self> {
        u128::checked_sub(self, other)
    }
}

/// A theoretical arrival time in scaled units (ns × the quota's limit).
///
/// It never decreases: a clock that stands still or steps back can only make
/// a cell stricter, never looser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tat(u128);

impl Tat {
    /// A TAT from its scaled value.
    #[inline]
    pub(crate) fn from_scaled(scaled: u128) -> Self {
        Tat(scaled)
    }

    /// The scaled value.
    #[inline]
    pub(crate) fn scaled(self) -> u128 {
        self.0
    }

    /// Would `cost` be admitted at `now`? `Ok(new TAT)` or `Err(the first
    /// instant it would be)`. The caller guarantees `cost <= burst`.
    #[inline]
    pub(crate) fn decide(self, quota: &Quota, now: Instant, cost: u32) -> Result<Tat, Instant> {
        let now_s = quota.scaled(now);
        let ahead = self.0.saturating_sub(now_s);
        let (span, tolerance) = (quota.span(u64::from(cost)), quota.tolerance());
        match admit(ahead, span, tolerance) {
            Some(ahead) => Ok(Tat(now_s + ahead)),
            None => Err(quota.instant_at_or_after(now_s + overshoot(ahead, span, tolerance))),
        }
    }

    /// The first instant at which `cost` would be admitted once `ahead` units
    /// (queued before it) have been admitted as early as possible.
    #[inline]
    pub(crate) fn earliest_after(
        self,
        quota: &Quota,
        now: Instant,
        ahead: u64,
        cost: u32,
    ) -> Instant {
        let now_s = quota.scaled(now);
        let new_tat = self
            .0
            .max(now_s)
            .saturating_add(quota.span(ahead))
            .saturating_add(quota.span(u64::from(cost)));
        quota
            .instant_at_or_after(new_tat.saturating_sub(quota.tolerance()))
            .max(now)
    }

    /// Read-only figures at `now`: how many units a check would admit, and
    /// how long until the cell is full again. Out of line: two callers
    /// (global and per-key cells), neither on an admission path.
    #[inline(never)]
    pub(crate) fn status(self, quota: &Quota, now: Instant) -> CellStatus {
        let now_s = quota.scaled(now);
        let backlog = self.0.saturating_sub(now_s);
        // At most `tolerance / interval = burst < 2^32` units.
        let units = super::divide::div_small_quotient(
            quota.tolerance().saturating_sub(backlog),
            quota.interval_ns(),
        );
        let full_at = quota.instant_at_or_after(self.0);
        CellStatus {
            quota: *quota,
            remaining: units,
            reset_after: full_at.saturating_duration_since(now),
        }
    }

    /// True when the cell is full again at `now` (it then behaves exactly as a
    /// fresh one and may be forgotten).
    #[inline]
    pub(crate) fn is_full(self, quota: &Quota, now: Instant) -> bool {
        self.0 <= quota.scaled(now)
    }
}

/// One GCRA cell for one [`Quota`]: a pure state machine over `now`.
///
/// A fresh cell is full: `burst` units are available at once. In every
/// window of length `w`, the admitted cost is at most `burst + limit·w/interval`.
///
/// ```
/// use weir::{Instant, Quota};
/// use weir::rate::Gcra;
/// let mut cell = Gcra::new(Quota::per_second(2)?);       // 2/s, burst 2
/// let t0 = Instant::from_nanos(0);
/// assert_eq!(cell.check(t0, 1), Ok(()));
/// assert_eq!(cell.check(t0, 1), Ok(()));
/// // Empty: the next unit is due half a second later, to the nanosecond.
/// assert_eq!(cell.check(t0, 1), Err(Instant::from_nanos(500_000_000)));
/// assert_eq!(cell.check(Instant::from_nanos(500_000_000), 1), Ok(()));
/// # Ok::<(), weir::QuotaError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcra {
    quota: Quota,
    tat: Tat,
}

impl Gcra {
    /// A full cell.
    pub fn new(quota: Quota) -> Self {
        Gcra {
            quota,
            tat: Tat::default(),
        }
    }

    /// The cell's quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Admit `cost` at `now`, or return the first instant at which it would
    /// be admitted (nothing is consumed then). A cost above the burst can
    /// never be admitted: it answers [`Instant::MAX`].
    pub fn check(&mut self, now: Instant, cost: u32) -> Result<(), Instant> {
        if cost > self.quota.burst() {
            return Err(Instant::MAX);
        }
        self.tat = self.tat.decide(&self.quota, now, cost)?;
        Ok(())
    }

    /// Like [`check`](Gcra::check), but never consumes.
    pub fn peek(&self, now: Instant, cost: u32) -> Result<(), Instant> {
        if cost > self.quota.burst() {
            return Err(Instant::MAX);
        }
        self.tat.decide(&self.quota, now, cost).map(drop)
    }

    /// True when the cell is full at `now` (indistinguishable from a fresh one).
    pub fn is_full(&self, now: Instant) -> bool {
        self.tat.is_full(&self.quota, now)
    }
}

/// Decide `cost` against several cells at once without consuming: `Ok` when
/// every cell admits it, else the latest "not until" among those that deny.
pub(crate) fn decide_all(
    quotas: &[Quota],
    tats: &[Tat],
    now: Instant,
    cost: u32,
) -> Result<(), Instant> {
    let mut not_until: Option<Instant> = None;
    for (quota, tat) in quotas.iter().zip(tats) {
        if let Err(at) = tat.decide(quota, now, cost) {
            not_until = Some(not_until.map_or(at, |t| t.max(at)));
        }
    }
    not_until.map_or(Ok(()), Err)
}

/// The outcome of [`decide_cells`] that [`commit_cells`] applies: for a
/// single cell (the common case) the new TAT, computed once.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub(crate) struct Admitted(Option<Tat>);

/// Like [`decide_all`], but remembers the new TAT of a single cell so that
/// [`commit_cells`] need not compute it again. Always inlined in native
/// builds: it is the keyed check's hot path (out of line, the keyed check
/// cost a quarter more); the wasm keeps the compiler's choice, for size.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
#[cfg_attr(target_arch = "wasm32", inline)]
pub(crate) fn decide_cells(
    quotas: &[Quota],
    tats: &[Tat],
    now: Instant,
    cost: u32,
) -> Result<Admitted, Instant> {
    match (quotas, tats) {
        ([], []) => Ok(Admitted(None)),
        ([quota], [tat]) => tat.decide(quota, now, cost).map(|t| Admitted(Some(t))),
        _ => decide_all(quotas, tats, now, cost).map(|()| Admitted(None)),
    }
}

/// Consume `cost` from every cell, as decided by [`decide_cells`] on the
/// same cells, `now` and `cost`.
#[inline]
pub(crate) fn commit_cells(
    quotas: &[Quota],
    tats: &mut [Tat],
    now: Instant,
    cost: u32,
    admitted: Admitted,
) {
    match (admitted.0, &mut *tats) {
        (_, []) => {}
        (Some(new_tat), [tat]) => *tat = new_tat,
        _ => commit_all(quotas, tats, now, cost),
    }
}

/// Consume `cost` from every cell; the caller has checked [`decide_all`].
pub(crate) fn commit_all(quotas: &[Quota], tats: &mut [Tat], now: Instant, cost: u32) {
    for (quota, tat) in quotas.iter().zip(tats) {
        if let Ok(new_tat) = tat.decide(quota, now, cost) {
            *tat = new_tat;
        }
    }
}

/// The first instant `cost` could pass every cell after `ahead` queued units.
pub(crate) fn earliest_all(
    quotas: &[Quota],
    tats: &[Tat],
    now: Instant,
    ahead: u64,
    cost: u32,
) -> Instant {
    quotas
        .iter()
        .zip(tats)
        .map(|(quota, tat)| tat.earliest_after(quota, now, ahead, cost))
        .fold(now, Instant::max)
}

/// True when every cell is full at `now`.
pub(crate) fn all_full(quotas: &[Quota], tats: &[Tat], now: Instant) -> bool {
    quotas
        .iter()
        .zip(tats)
        .all(|(quota, tat)| tat.is_full(quota, now))
}
