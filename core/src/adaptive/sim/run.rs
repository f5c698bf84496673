//! The discrete-event loop: clients, hosts, and the fake clock.
//!
//! Invariants:
//! - deterministic: the same scenario, seeds and policies give the same
//!   trace (events at equal instants run in the order they were scheduled);
//! - the [`ManualClock`] is set to each event's instant before it runs, and
//!   never goes back;
//! - every client wants more than it may send (unless `demand` caps it), so
//!   whatever limits throughput is the policy or the server.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::time::Duration;

use super::policy::Policy;
use super::report::{Completion, Trace};
use super::server::{Arrival, Server, ServerSpec};
use crate::adaptive::{Outcome, Sample};
use crate::time::{duration_nanos, Instant, ManualClock};

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The hosts every client sends to.
    pub hosts: Vec<ServerSpec>,
    /// How long.
    pub duration: Duration,
    /// How often the limits are recorded.
    pub tick: Duration,
    /// Each client keeps at most this many requests per host in flight
    /// whatever its policy allows (`None`: unbounded demand).
    pub demand: Option<u32>,
    /// Each client keeps at most this many requests in flight in total.
    pub global_cap: Option<u32>,
    /// Seeds the servers' jitter.
    pub seed: u64,
}

impl Scenario {
    /// One host, unbounded demand, 10 ms ticks.
    pub fn one(host: ServerSpec, duration: Duration) -> Self {
        Scenario {
            hosts: alloc::vec![host],
            duration,
            tick: Duration::from_millis(10),
            demand: None,
            global_cap: None,
            seed: 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Tick,
    Step { host: usize, capacity: u32 },
    Done { req: usize },
}

struct Request<T> {
    client: usize,
    host: usize,
    start: Instant,
    in_flight: u32,
    token: T,
    refused: bool,
}

struct Sim<'a, P: Policy> {
    scenario: &'a Scenario,
    clients: &'a mut [P],
    servers: Vec<Server>,
    in_flight: Vec<Vec<u32>>,
    total: Vec<u32>,
    requests: Vec<Option<Request<P::Token>>>,
    free: Vec<usize>,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    trace: Trace,
    started: Vec<(usize, Instant)>,
}

/// Run `scenario` with one policy per client, on `clock` (set to each
/// event's instant, starting from its current reading). Returns the trace.
pub fn run<P: Policy>(scenario: &Scenario, clients: &mut [P], clock: &ManualClock) -> Trace {
    use crate::time::Clock;
    let origin = clock.now();
    let hosts = scenario.hosts.len();
    let mut sim = Sim {
        scenario,
        servers: scenario
            .hosts
            .iter()
            .enumerate()
            .map(|(i, spec)| Server::new(spec.clone(), scenario.seed ^ (i as u64 + 1) << 32))
            .collect(),
        in_flight: alloc::vec![alloc::vec![0; hosts]; clients.len()],
        total: alloc::vec![0; clients.len()],
        clients,
        requests: Vec::new(),
        free: Vec::new(),
        events: BinaryHeap::new(),
        seq: 0,
        trace: Trace::new(origin, scenario),
        started: Vec::new(),
    };
    for (host, spec) in scenario.hosts.iter().enumerate() {
        for &(at, capacity) in &spec.steps {
            sim.schedule(origin + at, Event::Step { host, capacity });
        }
    }
    sim.schedule(origin, Event::Tick);
    for client in 0..sim.clients.len() {
        sim.refill(origin, client, 0);
    }
    let end = origin + scenario.duration;
    while let Some(Reverse((at, _, event))) = sim.events.pop() {
        let now = Instant::from_nanos(at);
        if now > end {
            break;
        }
        clock.set(now);
        match event {
            Event::Tick => {
                sim.record_tick(now);
                // A policy may free room without a completion of its own
                // (a peer's deferred permits): look again every tick.
                for client in 0..sim.clients.len() {
                    sim.refill(now, client, 0);
                }
                sim.schedule(now + scenario.tick, Event::Tick);
            }
            Event::Step { host, capacity } => {
                let mut started = core::mem::take(&mut sim.started);
                sim.servers[host].set_capacity(now, capacity, &mut started);
                sim.serve(&mut started);
                sim.started = started;
            }
            Event::Done { req } => sim.done(now, req),
        }
    }
    clock.set(end);
    sim.trace
}

impl<P: Policy> Sim<'_, P> {
    fn schedule(&mut self, at: Instant, event: Event) {
        self.seq += 1;
        self.events.push(Reverse((at.as_nanos(), self.seq, event)));
    }

    fn record_tick(&mut self, now: Instant) {
        for host in 0..self.servers.len() {
            let limit: u64 = self.clients.iter().map(|p| u64::from(p.limit(host))).sum();
            let in_flight: u64 = self.in_flight.iter().map(|v| u64::from(v[host])).sum();
            self.trace.tick(host, now, limit, in_flight);
        }
    }

    /// Start what the client may, host by host from `first`.
    fn refill(&mut self, now: Instant, client: usize, first: usize) {
        let hosts = self.servers.len();
        for i in 0..hosts {
            let host = (first + i) % hosts;
            loop {
                if self
                    .scenario
                    .global_cap
                    .is_some_and(|cap| self.total[client] >= cap)
                {
                    return;
                }
                let in_flight = self.in_flight[client][host];
                if self.scenario.demand.is_some_and(|d| in_flight >= d) {
                    break;
                }
                let Some(token) = self.clients[client].try_start(now, host, in_flight) else {
                    break;
                };
                self.in_flight[client][host] += 1;
                self.total[client] += 1;
                let request = Request {
                    client,
                    host,
                    start: now,
                    in_flight: in_flight + 1,
                    token,
                    refused: false,
                };
                let id = match self.free.pop() {
                    Some(id) => {
                        self.requests[id] = Some(request);
                        id
                    }
                    None => {
                        self.requests.push(Some(request));
                        self.requests.len() - 1
                    }
                };
                match self.servers[host].arrive(now, id) {
                    Arrival::Serving(done) => self.schedule(done, Event::Done { req: id }),
                    Arrival::Queued => {}
                    Arrival::Refused(done) => {
                        if let Some(r) = self.requests[id].as_mut() {
                            r.refused = true;
                        }
                        self.schedule(done, Event::Done { req: id });
                    }
                }
            }
        }
    }

    fn serve(&mut self, started: &mut Vec<(usize, Instant)>) {
        for (id, done) in started.drain(..) {
            self.schedule(done, Event::Done { req: id });
        }
    }

    fn done(&mut self, now: Instant, id: usize) {
        let request = self.requests[id].take().expect("live request");
        self.free.push(id);
        let Request {
            client,
            host,
            start,
            in_flight,
            token,
            refused,
        } = request;
        if !refused {
            let mut started = core::mem::take(&mut self.started);
            self.servers[host].finish(now, &mut started);
            self.serve(&mut started);
            self.started = started;
        }
        let rtt = now - start;
        let outcome = if refused {
            Outcome::TooManyRequests
        } else {
            Outcome::Ok
        };
        self.trace.complete(
            host,
            Completion {
                at: now,
                rtt_ns: duration_nanos(rtt),
                outcome,
            },
        );
        self.in_flight[client][host] -= 1;
        self.total[client] -= 1;
        let sample = Sample {
            rtt,
            in_flight,
            outcome,
        };
        self.clients[client].finish(now, host, token, sample);
        self.refill(now, client, host);
    }
}
