//! Adaptive concurrency: a limit that finds itself from the answers it gets.
//!
//! Fed with [`Sample`]s (round-trip time, requests in flight when the request
//! started, [`Outcome`]), a controller outputs a concurrency limit in
//! `[min, max]`. Everything here is a pure state machine over `now`: no clock
//! is read, nothing waits, randomness comes from a seed. [`AdaptiveLimit`] is
//! one controller; [`KeyedAdaptive`] keeps one per key (per host) under a
//! global cap and evicts idle keys.
//!
//! Invariants kept by every controller:
//! - the limit is always within `[min, max]`;
//! - a request sent before the last change of limit never moves it again
//!   (each change opens a new window that only takes samples started in it);
//! - only served ([`Outcome::Ok`]) requests contribute RTTs; overload
//!   outcomes (drop, 429, 503, timeout) only ever lower the limit, and a
//!   cancelled request is ignored.
//!
//! # The gradient algorithm ([`Algorithm::Gradient`], the default)
//!
//! The model is a server with a capacity knee at `C` concurrent requests:
//! below it latency is flat at the base RTT; above it requests queue, and
//! by Little's law latency grows as `base · in_flight / C`. The controller
//! looks for the largest limit whose latency is still (nearly) the base —
//! full throughput, no queue. It works in windows:
//!
//! - A **window** opens at every decision and takes the served samples of
//!   requests started after it opened. It closes at the first sample after
//!   both [`MIN_SAMPLES`](gradient::MIN_SAMPLES) (16) such samples and
//!   [`WINDOW_RTTS`](gradient::WINDOW_RTTS) (2) smoothed RTTs; its mean RTT
//!   is the `sampleRTT`. The smoothed RTT is a long-window EWMA of window
//!   means (weight [`SMOOTHING`](gradient::SMOOTHING) = 0.25): the window
//!   clock, so that windows stretch with latency.
//! - **minRTT** (`base`) is the lowest window mean since the last probe —
//!   a mean, not a single sample, so jitter does not drag it below what a
//!   window at the base actually measures.
//! - **gradient** `= clamp(threshold / sampleRTT, 0.5, 1)` with
//!   `threshold = base · (1 + TOLERANCE) + NOISE_K · SE`, where
//!   [`TOLERANCE`](gradient::TOLERANCE) = 0.05, `SE` is the standard error
//!   a window of this many samples would have at the base (the per-sample
//!   spread of the window that measured the base, over `√count`) and
//!   [`NOISE_K`](gradient::NOISE_K) = 3: a window whose mean is above the
//!   base only by noise is not queueing. (Not the window's own spread: a
//!   queue makes RTTs bimodal — some wait a whole service time — and that
//!   spread must not excuse the queue causing it; at `C` ≈ 10 it did.) Below 1
//!   the server queues: `limit ← limit · gradient`. On the knee model that
//!   is exactly the concurrency whose latency would be the threshold, so
//!   one window undoes an overshoot of any size up to 2× (the
//!   [`GRADIENT_FLOOR`](gradient::GRADIENT_FLOOR) 0.5 bounds the cut
//!   against outliers); the limit settles 5–10% above `C` (one or two
//!   requests above it for `C` ≈ 10).
//! - **Growth only when used**: a window with gradient 1 grows the limit
//!   only if some sample started with at least half the limit in flight
//!   (Netflix's "app-limited" rule), and never beyond twice the most in
//!   flight that window saw; otherwise the limit holds. The increment
//!   starts at the limit itself (slow start: doubling per window until the
//!   first decrease), is 1 after any decrease and grows by 1 with each
//!   clean window after it, so a capacity raised by `Δ` is found in about
//!   `√(2Δ)` windows while steady state wobbles by ±1.
//! - **Overload** (drop, 429, 503, timeout) multiplies the limit by
//!   [`OVERLOAD_BACKOFF`](gradient::OVERLOAD_BACKOFF) = 0.8 at once, at
//!   most once per window.
//! - **Probing minRTT with jitter**: every 64–127 windows (uniform, from
//!   the controller's seed: [`PROBE_WINDOWS`](gradient::PROBE_WINDOWS)) one
//!   window runs at half the limit; its mean becomes the new base and the
//!   limit returns to what it was. A base that has drifted (the path got
//!   slower) is thus replaced within ~130 windows, or after
//!   [`STUCK_WINDOWS`](gradient::STUCK_WINDOWS) (5) windows queued at
//!   `min`, whichever is first. Cost: half the throughput for one window
//!   in ~100, about 0.5%.
//!
//! Sources: Netflix concurrency-limits' `GradientLimit`/`Gradient2Limit`
//! (gradient clamped to [0.5, 1], growth only when ≥ half the limit is in
//! flight, probing with a jittered interval), Envoy's adaptive concurrency
//! filter (minRTT re-measured at low concurrency, tolerance over minRTT),
//! Vector's ARC (one decision per RTT-long window, back-off on explicit
//! overload), TCP slow start. Unlike Netflix's `queueSize` addend the
//! target carries no fixed queue, so it stays within a few percent of `C`
//! at small `C` too.
//!
//! When not to use it: when latency does not rise with load (a server that
//! answers 429 instantly when full — use [`Algorithm::Aimd`]), when service
//! times are so regular that the few requests over the knee wait a whole
//! service time (the limit still settles near `C`, but the p99 of those
//! few doubles), or with fewer than ~16 requests per few RTTs (windows then
//! take long to close; keep a fixed limit).
//!
//! # AIMD ([`Algorithm::Aimd`])
//!
//! Loss-based, TCP Reno style: each served sample that started with at
//! least half the limit in flight adds `1/limit` (about +1 per round trip);
//! an overload outcome multiplies the limit by [`BACKOFF`](aimd::BACKOFF)
//! = 0.9, after which samples of requests sent before the cut are ignored.
//! Latency is not a signal, so it settles just under where the server
//! starts refusing.

pub mod aimd;
mod config;
mod controller;
pub mod gradient;
mod keyed;
mod sample;
#[cfg(any(test, feature = "testing"))]
pub mod sim;
pub(crate) mod window;

use core::time::Duration;

pub use config::{AdaptiveConfig, AdaptiveConfigError, Algorithm};
pub use controller::AdaptiveLimit;
pub use keyed::{KeyedAdaptive, IDLE_AFTER};
pub use sample::{Outcome, Sample};

/// What a controller knows, for stats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveStats {
    /// The current limit.
    pub limit: u32,
    /// The base (no-queue) RTT estimate, once measured.
    pub min_rtt: Option<Duration>,
    /// The last window's mean RTT (gradient), or the last sample's (AIMD).
    pub sample_rtt: Option<Duration>,
    /// The last window's gradient in `[0.5, 1]` (1: no queueing; AIMD: 1).
    pub gradient: f64,
}
