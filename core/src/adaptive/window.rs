//! [`Window`]: the samples a controller aggregates between two decisions.
//!
//! Invariants:
//! - a window only takes samples that *started* at or after it opened: a
//!   request sent under an older limit says nothing about the current one,
//!   so one congestion episode is never reacted to twice;
//! - it holds sums, not samples: O(1) memory whatever the traffic.

use core::time::Duration;

use crate::time::{duration_nanos, Instant};

/// Aggregates of the fresh samples since `opened`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Window {
    /// Samples that started before this are stale.
    pub(crate) opened: Instant,
    /// Served samples taken.
    pub(crate) count: u32,
    /// Sum of their RTTs, in nanoseconds.
    sum_ns: u64,
    /// Sum of their squares (ns², as `f64`: `u64` would overflow).
    sum_sq: f64,
    /// Most requests in flight at any sample's start (served or not).
    pub(crate) max_in_flight: u32,
}

impl Window {
    /// An empty window opened at `now`.
    pub(crate) fn open(now: Instant) -> Self {
        Window {
            opened: now,
            count: 0,
            sum_ns: 0,
            sum_sq: 0.0,
            max_in_flight: 0,
        }
    }

    /// True when a sample finishing at `now` after `rtt` started in this window.
    #[inline]
    pub(crate) fn is_fresh(&self, now: Instant, rtt: Duration) -> bool {
        now.as_nanos().saturating_sub(duration_nanos(rtt)) >= self.opened.as_nanos()
    }

    /// Count a request that started with `in_flight` in flight.
    #[inline]
    pub(crate) fn note_in_flight(&mut self, in_flight: u32) {
        self.max_in_flight = self.max_in_flight.max(in_flight);
    }

    /// Take a served sample's RTT.
    #[inline]
    pub(crate) fn record(&mut self, rtt: Duration, in_flight: u32) {
        self.count += 1;
        let ns = duration_nanos(rtt);
        self.sum_ns = self.sum_ns.saturating_add(ns);
        self.sum_sq += ns as f64 * ns as f64;
        self.note_in_flight(in_flight);
    }

    /// The mean RTT of the served samples, in nanoseconds (0 when none).
    #[inline]
    pub(crate) fn mean_ns(&self) -> u64 {
        self.sum_ns.checked_div(u64::from(self.count)).unwrap_or(0)
    }

    /// The sample standard deviation of the RTTs (ns; 0 with fewer than
    /// two samples).
    pub(crate) fn std_dev_ns(&self) -> f64 {
        self.std_error_ns() * sqrt(f64::from(self.count))
    }

    /// The standard error of the mean RTT (ns): the sample standard
    /// deviation over `√count` (0 with fewer than two samples).
    pub(crate) fn std_error_ns(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let n = f64::from(self.count);
        let mean = self.sum_ns as f64 / n;
        let var = ((self.sum_sq - n * mean * mean) / (n - 1.0)).max(0.0);
        sqrt(var / n)
    }
}

/// `x` bounded to `[lo, hi]` (`lo <= hi`). Not `f64::clamp`: its
/// assertion formats floats, which would pull float formatting into the
/// wasm build (~15 KB).
#[inline]
pub(crate) fn bound(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

/// Square root by Newton's method (`f64::sqrt` is not in `core`).
pub(crate) fn sqrt(x: f64) -> f64 {
    if x <= 0.0 || x.is_nan() {
        return 0.0;
    }
    let mut r = if x > 1.0 { x / 2.0 } else { 1.0 };
    for _ in 0..128 {
        let next = 0.5 * (r + x / r);
        if (next - r).abs() <= 1e-12 * r {
            return next;
        }
        r = next;
    }
    r
}
