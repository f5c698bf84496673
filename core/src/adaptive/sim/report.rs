//! [`Trace`]: what a simulation recorded, and the metrics computed from it.
//!
//! Invariant: every metric is computed over a half-open interval
//! `[from, to)` of simulated time after the run's origin, from the raw
//! records; nothing is pre-aggregated, so any phase can be measured.

use alloc::vec::Vec;
use core::time::Duration;

use super::run::Scenario;
use crate::adaptive::Outcome;
use crate::time::Instant;

/// One finished request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// When its answer arrived.
    pub at: Instant,
    /// Its round-trip time in nanoseconds.
    pub rtt_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// One periodic reading of a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// When.
    pub at: Instant,
    /// Sum of the clients' limits for the host.
    pub limit: u64,
    /// Requests in flight to the host.
    pub in_flight: u64,
    /// The host's capacity then.
    pub capacity: u32,
}

/// Steady-state spread of the limit over an interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Mean of the limit.
    pub mean: f64,
    /// Its standard deviation.
    pub stddev: f64,
    /// Lowest reading.
    pub min: u64,
    /// Highest reading.
    pub max: u64,
}

/// The records of one run.
#[derive(Clone, Debug)]
pub struct Trace {
    origin: Instant,
    hosts: Vec<HostTrace>,
}

#[derive(Clone, Debug, Default)]
struct HostTrace {
    spec: Option<super::ServerSpec>,
    ticks: Vec<Tick>,
    completions: Vec<Completion>,
}

impl Trace {
    pub(crate) fn new(origin: Instant, scenario: &Scenario) -> Self {
        Trace {
            origin,
            hosts: scenario
                .hosts
                .iter()
                .map(|s| HostTrace {
                    spec: Some(s.clone()),
                    ..HostTrace::default()
                })
                .collect(),
        }
    }

    pub(crate) fn tick(&mut self, host: usize, at: Instant, limit: u64, in_flight: u64) {
        let h = &mut self.hosts[host];
        let capacity = h
            .spec
            .as_ref()
            .map_or(0, |s| s.capacity_at(at - self.origin));
        h.ticks.push(Tick {
            at,
            limit,
            in_flight,
            capacity,
        });
    }

    pub(crate) fn complete(&mut self, host: usize, completion: Completion) {
        self.hosts[host].completions.push(completion);
    }

    fn span(&self, from: Duration, to: Duration) -> (Instant, Instant) {
        (self.origin + from, self.origin + to)
    }

    /// The periodic readings of `host`.
    pub fn ticks(&self, host: usize) -> &[Tick] {
        &self.hosts[host].ticks
    }

    /// The finished requests of `host`.
    pub fn completions(&self, host: usize) -> &[Completion] {
        &self.hosts[host].completions
    }

    /// Time from `from` until the limit of `host` entered `capacity ± band`
    /// (a fraction) and stayed there for `hold` (or until `to`, if sooner);
    /// `None` if it never did within `[from, to)`.
    pub fn settle_time(
        &self,
        host: usize,
        from: Duration,
        to: Duration,
        band: f64,
        hold: Duration,
    ) -> Option<Duration> {
        let (a, b) = self.span(from, to);
        let mut entered: Option<Instant> = None;
        for t in self.ticks(host).iter().filter(|t| t.at >= a && t.at < b) {
            if !in_band(t, band) {
                entered = None;
                continue;
            }
            let since = *entered.get_or_insert(t.at);
            if t.at - since >= hold {
                return Some(since - a);
            }
        }
        entered.map(|t| t - a)
    }

    /// The fraction of readings of `host` over `[from, to)` with the limit
    /// within `capacity ± band`.
    pub fn in_band(&self, host: usize, from: Duration, to: Duration, band: f64) -> f64 {
        let (a, b) = self.span(from, to);
        let (mut inside, mut all) = (0usize, 0usize);
        for t in self.ticks(host).iter().filter(|t| t.at >= a && t.at < b) {
            all += 1;
            inside += usize::from(in_band(t, band));
        }
        inside as f64 / all.max(1) as f64
    }

    /// The spread of the limit of `host` over `[from, to)`.
    pub fn spread(&self, host: usize, from: Duration, to: Duration) -> Spread {
        let (a, b) = self.span(from, to);
        let readings: Vec<u64> = self
            .ticks(host)
            .iter()
            .filter(|t| t.at >= a && t.at < b)
            .map(|t| t.limit)
            .collect();
        let n = readings.len().max(1) as f64;
        let mean = readings.iter().map(|&l| l as f64).sum::<f64>() / n;
        let var = readings
            .iter()
            .map(|&l| (l as f64 - mean) * (l as f64 - mean))
            .sum::<f64>()
            / n;
        Spread {
            mean,
            stddev: crate::adaptive::window::sqrt(var),
            min: readings.iter().copied().min().unwrap_or(0),
            max: readings.iter().copied().max().unwrap_or(0),
        }
    }

    /// Served requests per second of `host` over `[from, to)`.
    pub fn goodput(&self, host: usize, from: Duration, to: Duration) -> f64 {
        let (a, b) = self.span(from, to);
        let served = self
            .completions(host)
            .iter()
            .filter(|c| c.at >= a && c.at < b && c.outcome == Outcome::Ok)
            .count();
        served as f64 / (to - from).as_secs_f64()
    }

    /// The `q` quantile (0..=1) of served requests' RTT of `host` over
    /// `[from, to)` (nearest rank); zero when none.
    pub fn rtt_quantile(&self, host: usize, from: Duration, to: Duration, q: f64) -> Duration {
        let (a, b) = self.span(from, to);
        let mut rtts: Vec<u64> = self
            .completions(host)
            .iter()
            .filter(|c| c.at >= a && c.at < b && c.outcome == Outcome::Ok)
            .map(|c| c.rtt_ns)
            .collect();
        if rtts.is_empty() {
            return Duration::ZERO;
        }
        rtts.sort_unstable();
        let rank = ((q * rtts.len() as f64) as usize).min(rtts.len() - 1);
        Duration::from_nanos(rtts[rank])
    }

    /// Requests of `host` refused with 429 over `[from, to)`.
    pub fn refused(&self, host: usize, from: Duration, to: Duration) -> usize {
        let (a, b) = self.span(from, to);
        self.completions(host)
            .iter()
            .filter(|c| c.at >= a && c.at < b && c.outcome == Outcome::TooManyRequests)
            .count()
    }
}

fn in_band(t: &Tick, band: f64) -> bool {
    let c = f64::from(t.capacity);
    (t.limit as f64 - c).abs() <= band * c
}
