//! [`Gradient`]: the latency-gradient controller (see the [module docs](super)
//! for the algorithm and its constants).
//!
//! Invariants:
//! - `min <= limit <= max` after every call;
//! - the limit only grows after a window in which it was used (at least half
//!   of it in flight at some sample's start) and no queueing or overload was
//!   seen; it only shrinks on queueing, overload, or a probe;
//! - every change of limit opens a new window, so a decision is only ever
//!   based on requests sent under the limit it judges;
//! - pure: time comes in as `now`, randomness from a seeded generator; a
//!   clock that steps back is treated as standing still.

use core::time::Duration;

use super::sample::Sample;
use super::window::{bound, sqrt, Window};
use super::AdaptiveStats;
use crate::retry::SplitMix64;
use crate::time::Instant;

/// Relative RTT rise over the base RTT that still counts as "no queue".
pub const TOLERANCE: f64 = 0.05;
/// Standard errors of the window's mean RTT added to the threshold, so
/// that a noisy window is not read as queueing.
pub const NOISE_K: f64 = 3.0;
/// The gradient is clamped to `[GRADIENT_FLOOR, 1]`: one window can at most
/// halve the limit.
pub const GRADIENT_FLOOR: f64 = 0.5;
/// Factor applied to the limit on an overload signal (429, 503, drop, timeout).
pub const OVERLOAD_BACKOFF: f64 = 0.8;
/// Served samples a window needs before it decides.
pub const MIN_SAMPLES: u32 = 16;
/// A window lasts at least this many smoothed RTTs.
pub const WINDOW_RTTS: u64 = 2;
/// Weight of a new window's mean in the smoothed RTT (an EWMA).
pub const SMOOTHING: f64 = 0.25;
/// The base RTT is re-measured every `PROBE_WINDOWS..2·PROBE_WINDOWS`
/// windows (uniformly jittered), during one window at half the limit.
pub const PROBE_WINDOWS: u64 = 64;
/// Windows in a row at `min` that still see queueing before the base RTT
/// is re-measured at once (it has probably risen).
pub const STUCK_WINDOWS: u32 = 5;

/// The gradient controller's state.
#[derive(Clone, Debug)]
pub struct Gradient {
    min: f64,
    max: f64,
    limit: f64,
    /// What the next clean window adds; the limit itself at first (slow
    /// start), 1 after a decrease, doubling with each clean window.
    increment: f64,
    window: Window,
    /// Lowest window mean since the last probe (ns).
    base_rtt: Option<u64>,
    /// The per-sample standard deviation (ns) of the window that measured
    /// `base_rtt`: the RTT noise without queueing.
    base_sd: f64,
    /// EWMA of window means (ns): the window clock.
    smoothed_rtt: Option<u64>,
    /// The last window's mean (ns).
    sample_rtt: Option<u64>,
    gradient: f64,
    /// Windows left until the next probe.
    probe_in: u64,
    /// During a probe window: the limit to restore after it.
    probing: Option<f64>,
    /// Consecutive queued windows spent at `min`.
    stuck: u32,
    rng: SplitMix64,
    floor: Instant,
}

impl Gradient {
    /// A controller starting at `initial`, bounded by `[min, max]` (the
    /// caller has validated `1 <= min <= initial <= max`); `seed` jitters
    /// the probe schedule.
    pub fn new(min: u32, max: u32, initial: u32, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let probe_in = PROBE_WINDOWS + rng.below_or_eq(PROBE_WINDOWS - 1);
        Gradient {
            min: f64::from(min),
            max: f64::from(max),
            limit: f64::from(initial),
            increment: f64::from(initial),
            window: Window::open(Instant::ZERO),
            base_rtt: None,
            base_sd: 0.0,
            smoothed_rtt: None,
            sample_rtt: None,
            gradient: 1.0,
            probe_in,
            probing: None,
            stuck: 0,
            rng,
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
            let target = match self.probing.take() {
                Some(saved) => saved,
                None => self.limit,
            };
            self.set_limit(target * OVERLOAD_BACKOFF, now);
            self.increment = 1.0;
            return self.limit();
        }
        if sample.outcome != super::Outcome::Ok {
            return self.limit();
        }
        self.window.record(sample.rtt, sample.in_flight);
        let smoothed = *self.smoothed_rtt.get_or_insert(duration_ns(sample.rtt));
        let long_enough = now.as_nanos().saturating_sub(self.window.opened.as_nanos())
            >= smoothed.saturating_mul(WINDOW_RTTS);
        if self.window.count >= MIN_SAMPLES && long_enough {
            self.decide(now);
        }
        self.limit()
    }

    /// Figures for stats.
    pub fn stats(&self) -> AdaptiveStats {
        AdaptiveStats {
            limit: self.limit(),
            min_rtt: self.base_rtt.map(Duration::from_nanos),
            sample_rtt: self.sample_rtt.map(Duration::from_nanos),
            gradient: self.gradient,
        }
    }

    /// Close the window: judge it, maybe change the limit, open the next.
    fn decide(&mut self, now: Instant) {
        let mean = self.window.mean_ns().max(1);
        let used = f64::from(self.window.max_in_flight) * 2.0 >= self.limit;
        self.sample_rtt = Some(mean);
        let smoothed = self.smoothed_rtt.unwrap_or(mean) as f64;
        self.smoothed_rtt = Some((smoothed + SMOOTHING * (mean as f64 - smoothed)) as u64);

        if let Some(saved) = self.probing.take() {
            // The probe window ran at half the limit: its mean is the new base.
            self.base_rtt = Some(mean);
            self.base_sd = self.window.std_dev_ns();
            self.gradient = 1.0;
            self.set_limit(saved, now);
            return;
        }
        if self.base_rtt.map_or(true, |b| mean <= b) {
            self.base_rtt = Some(mean);
            self.base_sd = self.window.std_dev_ns();
        }
        let base = self.base_rtt.unwrap_or(mean);
        // The noise allowance is the base window's spread, not this one's:
        // a queue makes a window's RTTs bimodal (some wait a whole service
        // time), and that spread must not excuse the queue that causes it.
        let noise = self.base_sd / sqrt(f64::from(self.window.count));
        let threshold = base as f64 * (1.0 + TOLERANCE) + NOISE_K * noise;
        self.gradient = bound(threshold / mean as f64, GRADIENT_FLOOR, 1.0);
        let mut next = self.limit;
        if self.gradient < 1.0 {
            next = self.limit * self.gradient;
            self.increment = 1.0;
            self.stuck = if next <= self.min { self.stuck + 1 } else { 0 };
        } else {
            self.stuck = 0;
            if used {
                // Never beyond twice what was used: an app-limited caller
                // does not ratchet the limit up.
                let used_twice = 2.0 * f64::from(self.window.max_in_flight);
                next = (self.limit + self.increment)
                    .min(used_twice)
                    .max(self.limit);
                self.increment = (self.increment + 1.0).min(next);
            }
        }
        self.probe_in = self.probe_in.saturating_sub(1);
        if self.probe_in == 0 || self.stuck >= STUCK_WINDOWS {
            self.probe_in = PROBE_WINDOWS + self.rng.below_or_eq(PROBE_WINDOWS - 1);
            self.stuck = 0;
            let saved = bound(next, self.min, self.max);
            self.probing = Some(saved);
            next = saved / 2.0;
        }
        self.set_limit(next, now);
    }

    /// Clamp and apply a new limit; a new window opens at `now`.
    fn set_limit(&mut self, limit: f64, now: Instant) {
        self.limit = bound(limit, self.min, self.max);
        self.window = Window::open(now);
    }
}

#[inline]
fn duration_ns(d: Duration) -> u64 {
    crate::time::duration_nanos(d)
}
