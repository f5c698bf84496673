//! [`Health`]: the store's counters and mode, a pure state machine fed with
//! the outcome of every call.
//!
//! Invariants: `mode` is `Degraded` from a failed call until the next call
//! that succeeds, and every switch back to `Ok` is counted in `recoveries`;
//! while degraded, at most one call per probe interval goes to the server
//! (the others fail at once with the last error, so the failure policy acts
//! without waiting out a timeout each time); the p99 latency is over the last
//! [`WINDOW`] successful calls.

use std::time::{Duration, Instant};

use crate::error::StoreError;

/// Latencies kept for the p99.
pub const WINDOW: usize = 1024;

/// Whether the store answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The last call succeeded.
    Ok,
    /// The last call failed: the failure policy is in force.
    Degraded,
}

/// A snapshot of the store's health (`stats().store` in JS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// Calls sent to the server (each one round trip).
    pub round_trips: u64,
    /// Calls that failed or timed out.
    pub errors: u64,
    /// The latest failure.
    pub last_error: Option<StoreError>,
    /// p99 latency of recent successful calls.
    pub latency_p99: Duration,
    /// Current mode.
    pub mode: Mode,
    /// Switches from `Degraded` back to `Ok`.
    pub recoveries: u64,
}

/// The state machine.
#[derive(Debug)]
pub struct Health {
    round_trips: u64,
    errors: u64,
    last_error: Option<StoreError>,
    latencies: Vec<Duration>,
    next: usize,
    mode: Mode,
    recoveries: u64,
    /// When the last call to the server started while degraded (or failed).
    last_probe: Option<Instant>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            round_trips: 0,
            errors: 0,
            last_error: None,
            latencies: Vec::new(),
            next: 0,
            mode: Mode::Ok,
            recoveries: 0,
            last_probe: None,
        }
    }
}

impl Health {
    /// A call answered after `latency`.
    pub fn success(&mut self, latency: Duration) {
        self.round_trips += 1;
        if self.latencies.len() < WINDOW {
            self.latencies.push(latency);
        } else {
            self.latencies[self.next] = latency;
        }
        self.next = (self.next + 1) % WINDOW;
        if self.mode == Mode::Degraded {
            self.mode = Mode::Ok;
            self.recoveries += 1;
        }
    }

    /// A call failed at `now`.
    pub fn failure(&mut self, error: StoreError, now: Instant) {
        self.round_trips += 1;
        self.errors += 1;
        self.last_error = Some(error);
        self.mode = Mode::Degraded;
        self.last_probe = Some(now);
    }

    /// May a call go to the server at `now`? `Err(last error)` while degraded
    /// and a probe was sent less than `probe_every` ago; otherwise the call
    /// goes (and, while degraded, counts as the probe).
    pub fn admit_call(&mut self, now: Instant, probe_every: Duration) -> Result<(), StoreError> {
        if self.mode == Mode::Ok {
            return Ok(());
        }
        match (self.last_probe, &self.last_error) {
            (Some(t), Some(e)) if now.saturating_duration_since(t) < probe_every => Err(e.clone()),
            _ => {
                self.last_probe = Some(now);
                Ok(())
            }
        }
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A snapshot.
    pub fn stats(&self) -> StoreStats {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let p99 = if sorted.is_empty() {
            Duration::ZERO
        } else {
            sorted[(sorted.len() * 99).div_ceil(100) - 1]
        };
        StoreStats {
            round_trips: self.round_trips,
            errors: self.errors,
            last_error: self.last_error.clone(),
            latency_p99: p99,
            mode: self.mode,
            recoveries: self.recoveries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreFailure;

    #[test]
    fn degraded_until_a_call_succeeds_and_recoveries_counted() {
        let mut h = Health::default();
        h.success(Duration::from_micros(100));
        assert_eq!(h.mode(), Mode::Ok);
        let e = StoreError {
            op: "rate",
            cause: StoreFailure::Timeout(Duration::from_millis(200)),
        };
        let t0 = Instant::now();
        h.failure(e.clone(), t0);
        h.failure(e.clone(), t0);
        assert_eq!(h.mode(), Mode::Degraded);
        h.success(Duration::from_micros(300));
        let s = h.stats();
        assert_eq!(
            (s.round_trips, s.errors, s.recoveries, s.mode),
            (4, 2, 1, Mode::Ok)
        );
        assert_eq!(s.last_error, Some(e));
        assert_eq!(s.latency_p99, Duration::from_micros(300));
    }

    #[test]
    fn one_probe_per_interval_while_degraded() {
        let mut h = Health::default();
        let t0 = Instant::now();
        let every = Duration::from_millis(100);
        assert!(h.admit_call(t0, every).is_ok());
        let e = StoreError {
            op: "lease",
            cause: StoreFailure::Redis("refused".into()),
        };
        h.failure(e.clone(), t0);
        assert_eq!(
            h.admit_call(t0 + Duration::from_millis(99), every),
            Err(e.clone())
        );
        assert!(h.admit_call(t0 + every, every).is_ok(), "the probe");
        assert_eq!(
            h.admit_call(t0 + every, every),
            Err(e),
            "one probe at a time"
        );
        h.success(Duration::from_micros(200));
        assert!(h.admit_call(t0 + every, every).is_ok());
    }

    #[test]
    fn p99_over_the_window() {
        let mut h = Health::default();
        for i in 1..=100u64 {
            h.success(Duration::from_micros(i));
        }
        assert_eq!(h.stats().latency_p99, Duration::from_micros(99));
    }
}
