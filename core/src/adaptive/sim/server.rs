//! [`ServerSpec`] and the simulated server: `capacity` requests served at
//! once, the rest queued FIFO, optionally refused with 429 beyond a queue.
//!
//! Invariants:
//! - at most `capacity` requests are in service (a lowered capacity lets
//!   the ones in service finish: nothing is preempted);
//! - service time is `base_rtt · (1 ± jitter)`, uniform, drawn at the
//!   start of service, so latency is flat below the knee and grows as
//!   `base · in_flight / capacity` above it (Little's law);
//! - with `queue: Some(q)`, a request arriving when `capacity + q` are
//!   already there is refused at once (after `reject_rtt`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use crate::retry::SplitMix64;
use crate::time::{duration_nanos, Instant};

/// A simulated host.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSpec {
    /// Requests served at once (the knee), until the first step.
    pub capacity: u32,
    /// Service time without queueing.
    pub base_rtt: Duration,
    /// Service time varies uniformly by ± this fraction of `base_rtt`.
    pub jitter: f64,
    /// Refuse with 429 when `capacity + queue` are already there.
    pub queue: Option<u32>,
    /// How long a refusal takes to come back.
    pub reject_rtt: Duration,
    /// `(at, capacity)`: the capacity changes at `at` after the start.
    pub steps: Vec<(Duration, u32)>,
}

impl ServerSpec {
    /// A server with capacity `c`, 100 ms base RTT, ±10% jitter, no refusals.
    pub fn knee(c: u32) -> Self {
        ServerSpec {
            capacity: c,
            base_rtt: Duration::from_millis(100),
            jitter: 0.1,
            queue: None,
            reject_rtt: Duration::from_millis(1),
            steps: Vec::new(),
        }
    }

    /// The capacity in force `at` after the start.
    pub fn capacity_at(&self, at: Duration) -> u32 {
        self.steps
            .iter()
            .take_while(|(t, _)| *t <= at)
            .last()
            .map_or(self.capacity, |&(_, c)| c)
    }
}

/// What happened to an arriving request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// In service; done at that instant.
    Serving(Instant),
    /// Waiting in the queue.
    Queued,
    /// Refused; the 429 arrives at that instant.
    Refused(Instant),
}

/// The server's state.
#[derive(Debug)]
pub(crate) struct Server {
    spec: ServerSpec,
    capacity: u32,
    busy: u32,
    queue: VecDeque<usize>,
    rng: SplitMix64,
}

impl Server {
    pub(crate) fn new(spec: ServerSpec, seed: u64) -> Self {
        Server {
            capacity: spec.capacity,
            spec,
            busy: 0,
            queue: VecDeque::new(),
            rng: SplitMix64::new(seed),
        }
    }

    fn service_until(&mut self, now: Instant) -> Instant {
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let factor = 1.0 + self.spec.jitter * (2.0 * u - 1.0);
        let ns = duration_nanos(self.spec.base_rtt) as f64 * factor;
        Instant::from_nanos(now.as_nanos() + ns as u64)
    }

    /// Request `id` arrives at `now`.
    pub(crate) fn arrive(&mut self, now: Instant, id: usize) -> Arrival {
        if self.busy < self.capacity && self.queue.is_empty() {
            self.busy += 1;
            return Arrival::Serving(self.service_until(now));
        }
        if let Some(q) = self.spec.queue {
            if self.busy as usize + self.queue.len() >= (self.capacity + q) as usize {
                return Arrival::Refused(now + self.spec.reject_rtt);
            }
        }
        self.queue.push_back(id);
        Arrival::Queued
    }

    /// A request in service finished at `now`; queued ones that now fit
    /// start, each with the instant it will be done.
    pub(crate) fn finish(&mut self, now: Instant, started: &mut Vec<(usize, Instant)>) {
        self.busy -= 1;
        self.start_queued(now, started);
    }

    /// The capacity becomes `capacity` at `now`.
    pub(crate) fn set_capacity(
        &mut self,
        now: Instant,
        capacity: u32,
        started: &mut Vec<(usize, Instant)>,
    ) {
        self.capacity = capacity;
        self.start_queued(now, started);
    }

    fn start_queued(&mut self, now: Instant, started: &mut Vec<(usize, Instant)>) {
        while self.busy < self.capacity {
            let Some(id) = self.queue.pop_front() else {
                break;
            };
            self.busy += 1;
            let done = self.service_until(now);
            started.push((id, done));
        }
    }
}
