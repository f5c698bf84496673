//! Retry budgets: retries ≤ ratio × requests over a sliding window, per key.

use core::time::Duration;

use super::policy::PolicyError;
use crate::time::Instant;

/// Sub-windows the sliding window is made of (its resolution).
pub const BUDGET_SLOTS: usize = 10;

/// How many retries a key may spend: at most `min_per_window + ratio ×
/// requests` over the last `window` (requests = first attempts).
///
/// The floor lets low-traffic keys retry at all; the ratio stops a struggling
/// host from receiving `attempts ×` its load (a retry storm).
///
/// ```
/// use weir::retry::BudgetPolicy;
/// let p = BudgetPolicy::default(); // 10 % over 10 s, at least 3
/// assert_eq!(p.allowed(0), 3);
/// assert_eq!(p.allowed(100), 13);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BudgetPolicy {
    /// Retries allowed per request in the window (`0.1` = 10 %). Finite, ≥ 0.
    pub ratio: f64,
    /// Retries allowed per window whatever the traffic.
    pub min_per_window: u32,
    /// The sliding window. At least 10 ns (one per sub-window).
    pub window: Duration,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        BudgetPolicy {
            ratio: 0.1,
            min_per_window: 3,
            window: Duration::from_secs(10),
        }
    }
}

impl BudgetPolicy {
    /// Checks the policy; the error names the offending field.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !self.ratio.is_finite() || self.ratio < 0.0 {
            return Err(PolicyError::new(
                "budget.ratio",
                "must be a finite number >= 0",
            ));
        }
        if crate::time::duration_nanos(self.window) < BUDGET_SLOTS as u64 {
            return Err(PolicyError::new(
                "budget.window",
                "must be greater than zero",
            ));
        }
        Ok(())
    }

    /// Retries allowed in a window that saw `requests` requests.
    pub fn allowed(&self, requests: u32) -> u64 {
        // Truncation toward zero is intended; ratio ≥ 0 and finite.
        u64::from(self.min_per_window) + (self.ratio * f64::from(requests)) as u64
    }

    fn slot_nanos(&self) -> u64 {
        crate::time::duration_nanos(self.window) / BUDGET_SLOTS as u64
    }
}

/// One key's sliding window: request and retry counts in [`BUDGET_SLOTS`]
/// ring slots. Pure; every method takes `now`.
///
/// ```
/// use core::time::Duration;
/// use weir::Instant;
/// use weir::retry::{BudgetPolicy, BudgetWindow};
/// let policy = BudgetPolicy { ratio: 0.0, min_per_window: 1, window: Duration::from_secs(10) };
/// let mut w = BudgetWindow::default();
/// let t = Instant::from_nanos(0);
/// w.record_request(&policy, t);
/// assert!(w.try_spend(&policy, t));
/// assert!(!w.try_spend(&policy, t)); // spent
/// assert!(w.try_spend(&policy, Instant::from_nanos(10_000_000_000))); // window slid
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BudgetWindow {
    requests: [u32; BUDGET_SLOTS],
    retries: [u32; BUDGET_SLOTS],
    /// Index (since the origin) of the newest slot in the ring.
    head: u64,
    /// Length of a slot the counts were made with (0: none yet).
    slot_nanos: u64,
}

impl BudgetWindow {
    /// Counts one request (a first attempt) at `now`.
    pub fn record_request(&mut self, policy: &BudgetPolicy, now: Instant) {
        let slot = self.advance(policy, now);
        self.requests[slot] = self.requests[slot].saturating_add(1);
    }

    /// Spends one retry at `now` if the budget allows; says whether it did.
    pub fn try_spend(&mut self, policy: &BudgetPolicy, now: Instant) -> bool {
        let slot = self.advance(policy, now);
        let requests = self.requests.iter().fold(0u32, |a, n| a.saturating_add(*n));
        let retries: u64 = self.retries.iter().map(|n| u64::from(*n)).sum();
        if retries >= policy.allowed(requests) {
            return false;
        }
        self.retries[slot] = self.retries[slot].saturating_add(1);
        true
    }

    /// `(requests, retries)` within the window ending at `now`.
    pub fn counts(&mut self, policy: &BudgetPolicy, now: Instant) -> (u32, u32) {
        self.advance(policy, now);
        let sum = |s: &[u32; BUDGET_SLOTS]| s.iter().fold(0u32, |a, n| a.saturating_add(*n));
        (sum(&self.requests), sum(&self.retries))
    }

    /// True when nothing is counted any more at `now`.
    pub fn is_empty_at(&self, policy: &BudgetPolicy, now: Instant) -> bool {
        let index = now.as_nanos() / policy.slot_nanos();
        index >= self.head + BUDGET_SLOTS as u64
            || (self.requests.iter().all(|n| *n == 0) && self.retries.iter().all(|n| *n == 0))
    }

    /// Moves the ring to `now`'s slot, clearing slots that fell out of the
    /// window; returns the ring index of the current slot. A clock stepping
    /// back counts into the newest slot.
    fn advance(&mut self, policy: &BudgetPolicy, now: Instant) -> usize {
        let slot_nanos = policy.slot_nanos();
        let index = now.as_nanos() / slot_nanos;
        if slot_nanos != self.slot_nanos {
            // A new window length: counts made on other slots cannot be
            // placed on these; start over.
            *self = BudgetWindow {
                head: index,
                slot_nanos,
                ..BudgetWindow::default()
            };
        } else if index > self.head {
            let gap = index - self.head;
            if gap >= BUDGET_SLOTS as u64 {
                self.requests = [0; BUDGET_SLOTS];
                self.retries = [0; BUDGET_SLOTS];
            } else {
                for i in 1..=gap {
                    let slot = ((self.head + i) % BUDGET_SLOTS as u64) as usize;
                    self.requests[slot] = 0;
                    self.retries[slot] = 0;
                }
            }
            self.head = index;
        }
        (self.head % BUDGET_SLOTS as u64) as usize
    }
}
