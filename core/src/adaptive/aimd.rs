//! [`Aimd`]: additive increase, multiplicative decrease (see the
//! [module docs](super)).
//!
//! Invariants:
//! - `min <= limit <= max` after every call;
//! - it grows by `1/limit` per served sample while the limit is used (about
//!   +1 per round trip), and shrinks by [`BACKOFF`] at most once per
//!   round of requests: after a decrease, samples of requests sent before
//!   it are ignored;
//! - latency never lowers the limit: only overload outcomes do.

use core::time::Duration;

use super::sample::{Outcome, Sample};
use super::window::{bound, Window};
use super::AdaptiveStats;
use crate::time::{duration_nanos, Instant};

/// Factor applied to the limit on an overload signal.
pub const BACKOFF: f64 = 0.9;

/// The AIMD controller's state.
#[derive(Clone, Debug)]
pub struct Aimd {
    min: f64,
    max: f64,
    limit: f64,
    /// Opened at the last decrease: older samples are stale.
    window: Window,
    min_rtt: Option<u64>,
    sample_rtt: Option<u64>,
    floor: Instant,
}

impl Aimd {
    /// A controller starting at `initial`, bounded by `[min, max]` (the
    /// caller has validated `1 <= min <= initial <= max`).
    pub fn new(min: u32, max: u32, initial: u32) -> Self {
        Aimd {
            min: f64::from(min),
            max: f64::from(max),
            limit: f64::from(initial),
            window: Window::open(Instant::ZERO),
            min_rtt: None,
            sample_rtt: None,
            floor: Instant::ZERO,
        }
    }

    /// The current limit.
    #[inline]
    pub fn limit(&self) -> u32 {
        self.limit as u32
    }

    /// Feed one finished request at `now`; returns the (possibly new) limit.
    pub fn on_sample(&mut self, now: Instant, sample: Sample) -> u32 {
        self.floor = self.floor.max(now);
        let now = self.floor;
        if !self.window.is_fresh(now, sample.rtt) {
            return self.limit();
        }
        if sample.outcome.is_overload() {
            self.limit = bound(self.limit * BACKOFF, self.min, self.max);
            self.window = Window::open(now);
        } else if sample.outcome == Outcome::Ok {
            let rtt = duration_nanos(sample.rtt);
            self.sample_rtt = Some(rtt);
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
            if f64::from(sample.in_flight) * 2.0 >= self.limit {
                self.limit = bound(self.limit + 1.0 / self.limit, self.min, self.max);
            }
        }
        self.limit()
    }

    /// Figures for stats (the gradient is always 1: AIMD ignores latency).
    pub fn stats(&self) -> AdaptiveStats {
        AdaptiveStats {
            limit: self.limit(),
            min_rtt: self.min_rtt.map(Duration::from_nanos),
            sample_rtt: self.sample_rtt.map(Duration::from_nanos),
            gradient: 1.0,
        }
    }
}
