//! Adaptive concurrency against simulated knee servers: weir's gradient and
//! AIMD (the bare keyed controllers, and the core `Limiter` with
//! `per_key_adaptive` enforcing each host's cap through its semaphore), fixed limits 0.5C / C / 2C, and the peers `tower-acc` (Gradient2,
//! Vegas, AIMD) and `congestion-limiter` (Gradient, Vegas, AIMD), all driven
//! by the same deterministic simulator (`weir::adaptive::sim`) on the fake
//! clock. Run: `cargo bench -p weir-bench --bench adaptive`.
//!
//! Every adaptive contender gets the same bounds (min 1, max 1000, initial
//! 10) and otherwise its defaults. Ratios are against the best fixed limit
//! (C itself) on the same server without steps.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::Duration;

use congestion_limiter::limiter::{DefaultLimiter, Limiter, Outcome as ClOutcome, Token};
use congestion_limiter::limits::LimitAlgorithm;
use weir::adaptive::sim::{run, Fixed, Policy, Scenario, ServerSpec, Trace};
use weir::adaptive::{AdaptiveConfig, Algorithm, KeyedAdaptive, Outcome, Sample};
use weir::{InFlight, Instant, LimiterConfig, LimiterGrant, ManualClock};

const MIN: usize = 1;
const MAX: usize = 1000;
const INITIAL: usize = 10;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---- weir's Limiter as a simulator policy --------------------------------

/// The core `Limiter` with an adaptive cap per host (`per_key_adaptive`):
/// admission through its semaphore, reports with the host as key.
struct WeirLimiter(weir::Limiter<usize, ManualClock>);

impl Policy for WeirLimiter {
    type Token = (LimiterGrant, InFlight);
    fn try_start(&mut self, _: Instant, host: usize, _: u32) -> Option<Self::Token> {
        let grant = self.0.try_acquire_grant(&host, 1).ok()?;
        Some((grant, self.0.in_flight_now(&host)))
    }
    fn finish(&mut self, _: Instant, host: usize, (grant, started): Self::Token, s: Sample) {
        self.0.report(&host, started, s.rtt, s.outcome);
        self.0.release(grant);
    }
    fn limit(&self, host: usize) -> u32 {
        self.0.key_limit(&host).unwrap_or(0)
    }
}

// ---- peers as simulator policies --------------------------------------

/// A tower-acc algorithm per host.
struct TowerAcc<A>(Vec<A>);

impl<A: tower_acc::Algorithm> Policy for TowerAcc<A> {
    type Token = ();
    fn try_start(&mut self, _: Instant, host: usize, in_flight: u32) -> Option<()> {
        (in_flight < self.0[host].max_concurrency() as u32).then_some(())
    }
    fn finish(&mut self, _: Instant, host: usize, (): (), s: Sample) {
        let cancelled = s.outcome == Outcome::Cancelled;
        let error = s.outcome.is_overload();
        self.0[host].update(s.rtt, s.in_flight as usize, error, cancelled);
    }
    fn limit(&self, host: usize) -> u32 {
        self.0[host].max_concurrency() as u32
    }
}

/// congestion-limiter reads tokio's clock: one paused runtime whose time
/// is moved to the simulator's before every call.
struct TokioTime {
    rt: tokio::runtime::Runtime,
    at: Instant,
}

impl TokioTime {
    fn new() -> Rc<RefCell<Self>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        Rc::new(RefCell::new(TokioTime {
            rt,
            at: Instant::ZERO,
        }))
    }

    fn block_on<F: std::future::Future>(&mut self, now: Instant, f: F) -> F::Output {
        let dt = now - self.at;
        self.at = self.at.max(now);
        self.rt.block_on(async {
            if !dt.is_zero() {
                tokio::time::advance(dt).await;
            }
            let out = f.await;
            // Let the limiter's spawned permit-forgetting tasks run.
            tokio::task::yield_now().await;
            out
        })
    }
}

/// A congestion-limiter limiter per host.
struct Congestion<L> {
    time: Rc<RefCell<TokioTime>>,
    hosts: Vec<DefaultLimiter<L>>,
}

impl<L: LimitAlgorithm + Sync + std::fmt::Debug> Policy for Congestion<L> {
    type Token = Token;
    fn try_start(&mut self, now: Instant, host: usize, _: u32) -> Option<Token> {
        let limiter = &self.hosts[host];
        self.time.borrow_mut().block_on(now, limiter.try_acquire())
    }
    fn finish(&mut self, now: Instant, host: usize, token: Token, s: Sample) {
        let outcome = match s.outcome {
            Outcome::Cancelled => None,
            o if o.is_overload() => Some(ClOutcome::Overload),
            _ => Some(ClOutcome::Success),
        };
        let limiter = &self.hosts[host];
        self.time
            .borrow_mut()
            .block_on(now, limiter.release(token, outcome));
    }
    fn limit(&self, host: usize) -> u32 {
        self.hosts[host].state().limit() as u32
    }
}

// ---- contenders ------------------------------------------------------------

#[derive(Clone, Copy)]
enum Contender {
    Weir(Algorithm),
    WeirLimiter,
    Fixed(f64),
    TowerGradient2,
    TowerVegas,
    TowerAimd,
    ClGradient,
    ClVegas,
    ClAimd,
}

impl Contender {
    const ALL: [Contender; 12] = [
        Contender::Weir(Algorithm::Gradient),
        Contender::WeirLimiter,
        Contender::Weir(Algorithm::Aimd),
        Contender::Fixed(0.5),
        Contender::Fixed(1.0),
        Contender::Fixed(2.0),
        Contender::TowerGradient2,
        Contender::TowerVegas,
        Contender::TowerAimd,
        Contender::ClGradient,
        Contender::ClVegas,
        Contender::ClAimd,
    ];

    fn name(self) -> String {
        match self {
            Contender::Weir(Algorithm::Gradient) => "weir gradient".into(),
            Contender::Weir(Algorithm::Aimd) => "weir aimd".into(),
            Contender::WeirLimiter => "weir Limiter per-key".into(),
            Contender::Fixed(k) => format!("fixed {k}C"),
            Contender::TowerGradient2 => "tower-acc Gradient2".into(),
            Contender::TowerVegas => "tower-acc Vegas".into(),
            Contender::TowerAimd => "tower-acc Aimd".into(),
            Contender::ClGradient => "congestion-limiter Gradient".into(),
            Contender::ClVegas => "congestion-limiter Vegas".into(),
            Contender::ClAimd => "congestion-limiter Aimd".into(),
        }
    }

    /// Run `scenario` with `clients` clients of this contender; `c` is the
    /// first capacity of each host (what fixed limits are scaled from).
    fn run(self, scenario: &Scenario, clients: usize) -> Trace {
        let hosts = scenario.hosts.len();
        let clock = ManualClock::new();
        match self {
            Contender::Weir(algorithm) => {
                let config = AdaptiveConfig {
                    min: MIN as u32,
                    max: MAX as u32,
                    initial: INITIAL as u32,
                    algorithm,
                };
                let mut p: Vec<_> = (0..clients)
                    .map(|_| KeyedAdaptive::new(config, None).unwrap())
                    .collect();
                run(scenario, &mut p, &clock)
            }
            Contender::WeirLimiter => {
                let config = LimiterConfig {
                    per_key_adaptive: Some(AdaptiveConfig {
                        min: MIN as u32,
                        max: MAX as u32,
                        initial: INITIAL as u32,
                        algorithm: Algorithm::Gradient,
                    }),
                    ..LimiterConfig::default()
                };
                let mut p: Vec<_> = (0..clients)
                    .map(|_| {
                        WeirLimiter(weir::Limiter::new(config.clone(), clock.clone()).unwrap())
                    })
                    .collect();
                run(scenario, &mut p, &clock)
            }
            Contender::Fixed(k) => {
                // One fixed limit for every host: scaled from the first host.
                let c = f64::from(scenario.hosts[0].capacity) / clients as f64;
                let mut p = vec![Fixed(((k * c).round() as u32).max(1)); clients];
                run(scenario, &mut p, &clock)
            }
            Contender::TowerGradient2 => {
                let make = || {
                    tower_acc::Gradient2::builder()
                        .initial_limit(INITIAL)
                        .min_limit(MIN)
                        .max_limit(MAX)
                        .build()
                };
                let mut p: Vec<_> = (0..clients)
                    .map(|_| TowerAcc((0..hosts).map(|_| make()).collect()))
                    .collect();
                run(scenario, &mut p, &clock)
            }
            Contender::TowerVegas => {
                let make = || {
                    tower_acc::Vegas::builder()
                        .initial_limit(INITIAL)
                        .max_limit(MAX)
                        .build()
                };
                let mut p: Vec<_> = (0..clients)
                    .map(|_| TowerAcc((0..hosts).map(|_| make()).collect()))
                    .collect();
                run(scenario, &mut p, &clock)
            }
            Contender::TowerAimd => {
                let make = || {
                    tower_acc::Aimd::builder()
                        .initial_limit(INITIAL)
                        .min_limit(MIN)
                        .max_limit(MAX)
                        .build()
                };
                let mut p: Vec<_> = (0..clients)
                    .map(|_| TowerAcc((0..hosts).map(|_| make()).collect()))
                    .collect();
                run(scenario, &mut p, &clock)
            }
            Contender::ClGradient => congestion(scenario, clients, || {
                congestion_limiter::limits::Gradient::new(INITIAL, MIN..=MAX)
            }),
            Contender::ClVegas => congestion(scenario, clients, || {
                congestion_limiter::limits::Vegas::new(INITIAL, MIN..=MAX)
            }),
            Contender::ClAimd => congestion(scenario, clients, || {
                congestion_limiter::limits::Aimd::new(INITIAL, MIN..=MAX)
            }),
        }
    }
}

fn congestion<L: LimitAlgorithm + Sync + std::fmt::Debug>(
    scenario: &Scenario,
    clients: usize,
    make: impl Fn() -> L,
) -> Trace {
    let time = TokioTime::new();
    let mut p: Vec<_> = (0..clients)
        .map(|_| Congestion {
            time: time.clone(),
            hosts: (0..scenario.hosts.len())
                .map(|_| DefaultLimiter::new(make()))
                .collect(),
        })
        .collect();
    run(scenario, &mut p, &ManualClock::new())
}

// ---- scenarios and the table ---------------------------------------------

struct Phase {
    host: usize,
    from: u64,
    to: u64,
    /// The capacity in this phase, and the best fixed limit's steady
    /// (goodput, p99) on that server.
    c: u32,
    best: (f64, Duration),
    base: Duration,
}

fn best_fixed(spec: &ServerSpec, c: u32) -> (f64, Duration) {
    let mut spec = spec.clone();
    spec.steps.clear();
    spec.capacity = c;
    let trace = run(
        &Scenario::one(spec, secs(20)),
        &mut [Fixed(c)],
        &ManualClock::new(),
    );
    (
        trace.goodput(0, secs(10), secs(20)),
        trace.rtt_quantile(0, secs(10), secs(20), 0.99),
    )
}

fn phase(scenario: &Scenario, host: usize, from: u64, to: u64) -> Phase {
    let spec = &scenario.hosts[host];
    let c = spec.capacity_at(secs(from));
    Phase {
        host,
        from,
        to,
        c,
        best: best_fixed(spec, c),
        base: spec.base_rtt,
    }
}

fn report(title: &str, scenario: &Scenario, clients: usize, phases: &[Phase]) {
    println!("\n### {title}\n");
    println!("| contender | phase | C | settle ±15% | limit mean ± sd | goodput × best fixed | p99 × best fixed | p99 / minRTT | 429s |");
    println!("|:--|:--|--:|--:|--:|--:|--:|--:|--:|");
    for contender in Contender::ALL {
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| contender.run(scenario, clients)));
        let trace = match run {
            Ok(trace) => trace,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                println!("| {} | panicked: {msg} | | | | | | | |", contender.name());
                continue;
            }
        };
        for p in phases {
            let (a, b) = (secs(p.from), secs(p.to));
            let steady = secs(p.to - (p.to - p.from) / 2);
            let settle = trace
                .settle_time(p.host, a, b, 0.15, secs(1))
                .map_or("never".to_string(), |t| format!("{:.2} s", t.as_secs_f64()));
            let spread = trace.spread(p.host, steady, b);
            let goodput = trace.goodput(p.host, steady, b) / p.best.0;
            let p99 = trace.rtt_quantile(p.host, steady, b, 0.99);
            println!(
                "| {} | {}–{} s{} | {} | {} | {:.1} ± {:.1} | {:.3} | {:.2} | {:.2} | {} |",
                contender.name(),
                p.from,
                p.to,
                if scenario.hosts.len() > 1 {
                    format!(" host {}", p.host)
                } else {
                    String::new()
                },
                p.c,
                settle,
                spread.mean,
                spread.stddev,
                goodput,
                p99.as_secs_f64() / p.best.1.as_secs_f64(),
                p99.as_secs_f64() / p.base.as_secs_f64(),
                trace.refused(p.host, a, b),
            );
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read. A peer that
    // panics is reported as such, without a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let one = Scenario::one(ServerSpec::knee(50), secs(30));
    report(
        "One client, C = 50, 100 ms ± 10%",
        &one,
        1,
        &[phase(&one, 0, 0, 30)],
    );

    let mut spec = ServerSpec::knee(50);
    spec.queue = Some(10);
    let refusing = Scenario::one(spec, secs(30));
    report(
        "One client, C = 50, 429 beyond 10 queued",
        &refusing,
        1,
        &[phase(&refusing, 0, 0, 30)],
    );

    let mut spec = ServerSpec::knee(50);
    spec.steps = vec![(secs(20), 20), (secs(40), 80)];
    let steps = Scenario::one(spec, secs(60));
    report(
        "One client, C steps 50 → 20 → 80 (fixed limits scaled from 50)",
        &steps,
        1,
        &[
            phase(&steps, 0, 0, 20),
            phase(&steps, 0, 20, 40),
            phase(&steps, 0, 40, 60),
        ],
    );

    let shared = Scenario::one(ServerSpec::knee(50), secs(30));
    report(
        "Four clients sharing C = 50 (limits summed; fixed limits split)",
        &shared,
        4,
        &[phase(&shared, 0, 0, 30)],
    );

    let mut hosts = vec![
        ServerSpec::knee(10),
        ServerSpec::knee(40),
        ServerSpec::knee(120),
    ];
    hosts[0].base_rtt = Duration::from_millis(30);
    hosts[2].base_rtt = Duration::from_millis(250);
    let multi = Scenario {
        hosts,
        ..Scenario::one(ServerSpec::knee(1), secs(30))
    };
    report(
        "One client, three hosts: C = 10 @ 30 ms, 40 @ 100 ms, 120 @ 250 ms (one limiter per host; fixed limits scaled from 10)",
        &multi,
        1,
        &[phase(&multi, 0, 0, 30), phase(&multi, 1, 0, 30), phase(&multi, 2, 0, 30)],
    );

    let two = Scenario {
        hosts: vec![ServerSpec::knee(10), ServerSpec::knee(60)],
        ..Scenario::one(ServerSpec::knee(1), secs(30))
    };
    report(
        "One client, two hosts behind one limiter: C = 10 and 60 @ 100 ms (fixed limits scaled from 10)",
        &two,
        1,
        &[phase(&two, 0, 0, 30), phase(&two, 1, 0, 30)],
    );
}
