//! The server guard's one rule: what to do with a request the limiter turned
//! away. It is either worth a short bounded wait, or shed now. A shed request
//! learns why (in-flight caps or a rate quota) and when to come back
//! (`Retry-After`, in whole seconds).
//!
//! Invariants:
//! - A wait is chosen only when it can succeed within `max_wait`. That holds
//!   for a busy key, whose permit may free at any moment, and for a rate
//!   denial whose `not_until` is at most `max_wait` away. Without `max_wait`
//!   nothing waits.
//! - `Retry-After` is never early and never 0. For a rate denial it is the
//!   exact "not until", rounded up to whole seconds. For the in-flight caps it
//!   is `busy_retry_after`, rounded up. Either way it is at least 1 s.
//! - A wait that ends without a permit (its time ran out, or the bounded
//!   queue was full) is answered as the key stands then. If a quota still
//!   denies, the answer is `Rate` with that quota's wait. Otherwise it is
//!   `Concurrency`.
//!
//! The JS `guard` (through the wasm `RawLimiter`) and the tower `GuardLayer`
//! both ask this module. Neither decides for itself.
//!
//! ```
//! use core::time::Duration;
//! use weir::guard::{GuardPolicy, ShedReason, Verdict};
//! use weir::{Instant, LimiterError};
//!
//! let policy = GuardPolicy::new(Some(Duration::from_millis(50)), Duration::from_secs(1));
//! let now = Instant::from_nanos(0);
//! // Busy: a permit may free within 50 ms, so wait.
//! assert_eq!(policy.on_denial(LimiterError::Busy, now), Verdict::Wait);
//! // A quota says "not for 2.2 s": shed at once, Retry-After 3.
//! let later = LimiterError::RateLimited { not_until: Instant::from_nanos(2_200_000_000) };
//! let Verdict::Shed(shed) = policy.on_denial(later, now) else { panic!() };
//! assert_eq!((shed.reason, shed.retry_after_secs), (ShedReason::Rate, 3));
//! ```

use core::time::Duration;

use crate::limiter::LimiterError;
use crate::time::Instant;

/// How a guard treats a request the limiter turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardPolicy {
    max_wait: Option<Duration>,
    busy_retry_after: Duration,
}

/// Why a request was shed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShedReason {
    /// The in-flight caps (or the bounded queue) were full.
    Concurrency,
    /// A rate quota (or a pause) denied it.
    Rate,
}

/// A shed request's answer: why, and `Retry-After` in whole seconds (≥ 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shed {
    /// Why it was shed.
    pub reason: ShedReason,
    /// Seconds until it is worth trying again, rounded up, at least 1.
    pub retry_after_secs: u64,
}

/// What to do with a denied request now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Wait for a permit, for at most the policy's `max_wait`.
    Wait,
    /// Answer at once.
    Shed(Shed),
}

impl GuardPolicy {
    /// A policy that waits up to `max_wait` (`None`: never) and tells a
    /// request shed at the in-flight caps to come back after `busy_retry_after`.
    pub const fn new(max_wait: Option<Duration>, busy_retry_after: Duration) -> Self {
        GuardPolicy {
            max_wait,
            busy_retry_after,
        }
    }

    /// The longest a denied request may wait, if at all.
    pub const fn max_wait(&self) -> Option<Duration> {
        self.max_wait
    }

    /// The request was denied for `denial` at `now`: wait or shed?
    pub fn on_denial(&self, denial: LimiterError, now: Instant) -> Verdict {
        let worth_waiting = match (self.max_wait, denial) {
            (None, _) => false,
            (Some(_), LimiterError::Busy) => true,
            (Some(max), LimiterError::RateLimited { not_until }) => {
                not_until.saturating_duration_since(now) <= max
            }
            // Queue full or a cost no limit admits: a wait cannot help.
            (Some(_), _) => false,
        };
        if worth_waiting {
            Verdict::Wait
        } else {
            Verdict::Shed(self.shed(denial, now))
        }
    }

    /// The answer to a request shed for `denial` at `now`.
    pub fn shed(&self, denial: LimiterError, now: Instant) -> Shed {
        match denial {
            LimiterError::RateLimited { not_until } => Shed {
                reason: ShedReason::Rate,
                retry_after_secs: retry_after_secs(not_until.saturating_duration_since(now)),
            },
            _ => self.busy(),
        }
    }

    /// The answer after a wait that gave no permit. `rate_wait` is how long
    /// the key's quotas still hold it back, as `RateStatus::retry_after`
    /// says (zero or `None`: no quota denies it now).
    pub fn after_wait(&self, rate_wait: Option<Duration>) -> Shed {
        match rate_wait {
            Some(wait) if !wait.is_zero() => Shed {
                reason: ShedReason::Rate,
                retry_after_secs: retry_after_secs(wait),
            },
            _ => self.busy(),
        }
    }

    fn busy(&self) -> Shed {
        Shed {
            reason: ShedReason::Concurrency,
            retry_after_secs: retry_after_secs(self.busy_retry_after),
        }
    }
}

/// `wait` as a `Retry-After` value: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn rate(ms: u64) -> LimiterError {
        LimiterError::RateLimited { not_until: at(ms) }
    }

    #[test]
    fn without_max_wait_nothing_waits() {
        let policy = GuardPolicy::new(None, Duration::from_secs(2));
        let busy = Shed {
            reason: ShedReason::Concurrency,
            retry_after_secs: 2,
        };
        assert_eq!(
            policy.on_denial(LimiterError::Busy, at(0)),
            Verdict::Shed(busy)
        );
        let Verdict::Shed(shed) = policy.on_denial(rate(1), at(0)) else {
            panic!("a rate denial without max_wait must shed");
        };
        assert_eq!(shed.reason, ShedReason::Rate);
    }

    #[test]
    fn waits_only_when_the_wait_can_succeed() {
        let policy = GuardPolicy::new(Some(100 * MS), Duration::from_secs(1));
        assert_eq!(policy.on_denial(LimiterError::Busy, at(0)), Verdict::Wait);
        assert_eq!(policy.on_denial(rate(100), at(0)), Verdict::Wait);
        assert_eq!(policy.on_denial(rate(1_100), at(1_000)), Verdict::Wait);
        assert!(matches!(
            policy.on_denial(rate(101), at(0)),
            Verdict::Shed(_)
        ));
        let full = LimiterError::QueueFull { max: 4 };
        assert!(matches!(policy.on_denial(full, at(0)), Verdict::Shed(_)));
    }

    #[test]
    fn retry_after_is_rounded_up_and_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_nanos(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(10)), 10);
        let policy = GuardPolicy::new(None, Duration::ZERO);
        assert_eq!(
            policy.on_denial(LimiterError::Busy, at(0)),
            Verdict::Shed(Shed {
                reason: ShedReason::Concurrency,
                retry_after_secs: 1,
            })
        );
        // A not-until already past (a clock that stepped) is still 1 s.
        assert_eq!(policy.shed(rate(5), at(9)).retry_after_secs, 1);
    }

    #[test]
    fn a_fruitless_wait_is_answered_as_the_key_stands() {
        let policy = GuardPolicy::new(Some(50 * MS), Duration::from_secs(3));
        assert_eq!(
            policy.after_wait(Some(Duration::from_millis(1_500))),
            Shed {
                reason: ShedReason::Rate,
                retry_after_secs: 2,
            }
        );
        let busy = Shed {
            reason: ShedReason::Concurrency,
            retry_after_secs: 3,
        };
        assert_eq!(policy.after_wait(Some(Duration::ZERO)), busy);
        assert_eq!(policy.after_wait(None), busy);
    }
}
