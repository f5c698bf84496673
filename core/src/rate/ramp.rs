//! [`Ramp`]: a key easing back in after a pause, instead of every waiter
//! firing in the same instant the pause ends.
//!
//! A pause set at `t0` until `t1` (a server's `Retry-After`) ramps the key
//! from `t1` with a step `s = min(t1 − t0, 1 s)`: during the `k`-th step
//! after `t1` (`k = 0 … 5`), admissions of the key are spaced at least
//! `s / 2^k` apart — one probe during the first step, then the admission
//! rate doubles every step, and after six steps the ramp is over and only
//! the key's quotas apply. A cost of `c` takes `c` spacings.
//!
//! Invariants:
//! - the ramp only ever delays (it never admits what a quota or a pause
//!   denies): it is one more cell in the all-or-nothing decision;
//! - `next` never decreases, so a clock that stands still or steps back
//!   makes it stricter, never looser;
//! - pure: every method takes `now`.

use crate::time::{duration_nanos, Instant};
use core::time::Duration;

/// How many doublings of the admission rate a ramp lasts.
const STEPS: u32 = 6;

/// The longest step: a long pause still ramps back within six seconds.
const MAX_STEP: Duration = Duration::from_secs(1);

/// The ramp of one key after a pause (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ramp {
    /// When the pause ends and the ramp starts.
    from: Instant,
    /// The step length in nanoseconds (at least 1).
    step: u64,
    /// The earliest instant of the next admission.
    next: Instant,
}

impl Ramp {
    /// The ramp after a pause set at `now` until `until`, replacing
    /// `previous` (whose next admission instant is kept if later: a new
    /// pause never loosens a decision already made).
    pub(crate) fn after_pause(now: Instant, until: Instant, previous: Option<Ramp>) -> Ramp {
        let step = duration_nanos(until.saturating_duration_since(now).min(MAX_STEP)).max(1);
        Ramp {
            from: until,
            step,
            next: previous.map_or(until, |p| p.next.max(until)),
        }
    }

    /// True once the ramp no longer constrains anything at `now`.
    pub(crate) fn is_over(&self, now: Instant) -> bool {
        now >= self.end() && self.next <= now
    }

    fn end(&self) -> Instant {
        self.from + Duration::from_nanos(self.step.saturating_mul(u64::from(STEPS)))
    }

    /// The spacing in force at `now` (`None` once past the last step).
    fn spacing(&self, now: Instant) -> Option<u64> {
        let k = duration_nanos(now.saturating_duration_since(self.from)) / self.step;
        (k < u64::from(STEPS)).then(|| (self.step >> k).max(1))
    }

    /// `Ok` when an admission may happen at `now` after `ahead` queued
    /// units, else the first instant it could (an estimate when `ahead > 0`:
    /// the spacing in force now, for every unit ahead).
    pub(crate) fn decide(&self, now: Instant, ahead: u64) -> Result<(), Instant> {
        let spacing = self.spacing(now.max(self.next)).unwrap_or(0);
        let at = self.next + Duration::from_nanos(spacing.saturating_mul(ahead));
        if at <= now {
            Ok(())
        } else {
            Err(at)
        }
    }

    /// Records an admission of `cost` at `now` (the caller has decided).
    pub(crate) fn commit(&mut self, now: Instant, cost: u32) {
        if let Some(spacing) = self.spacing(now) {
            let gap = Duration::from_nanos(spacing.saturating_mul(u64::from(cost.max(1))));
            self.next = self.next.max(now) + gap;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000_000)
    }

    #[test]
    fn one_probe_then_the_rate_doubles_every_step_then_free() {
        let mut ramp = Ramp::after_pause(ms(0), ms(1_000), None);
        assert_eq!(ramp.decide(ms(1_000), 0), Ok(()));
        ramp.commit(ms(1_000), 1);
        // Step 0: one admission a second.
        assert_eq!(ramp.decide(ms(1_500), 0), Err(ms(2_000)));
        ramp.commit(ms(2_000), 1);
        // Step 1: every 500 ms.
        assert_eq!(ramp.decide(ms(2_499), 0), Err(ms(2_500)));
        ramp.commit(ms(2_500), 1);
        ramp.commit(ms(3_000), 1);
        // Step 2: every 250 ms; two queued ahead wait two spacings.
        assert_eq!(ramp.decide(ms(3_000), 2), Err(ms(3_750)));
        // Past the sixth step nothing is constrained, and the ramp is over.
        assert_eq!(ramp.decide(ms(7_000), 100), Ok(()));
        assert!(ramp.is_over(ms(7_000)));
        assert!(!ramp.is_over(ms(6_999)));
    }

    #[test]
    fn a_short_pause_ramps_with_its_own_length() {
        let mut ramp = Ramp::after_pause(ms(0), ms(100), None);
        ramp.commit(ms(100), 1);
        assert_eq!(ramp.decide(ms(150), 0), Err(ms(200)));
        assert!(ramp.is_over(ms(700)));
    }

    #[test]
    fn a_new_pause_keeps_a_later_next_admission() {
        let mut ramp = Ramp::after_pause(ms(0), ms(600), None);
        ramp.commit(ms(600), 1); // next: 1,200
        let shorter = Ramp::after_pause(ms(600), ms(601), Some(ramp));
        assert_eq!(shorter.decide(ms(700), 0), Err(ms(1_200)));
        assert_eq!(shorter.decide(ms(1_200), 0), Ok(()));
    }
}
