//! Issue 6: the `weir-tower` guard in front of an axum service, against the
//! bare service, driven by a small tokio load generator (reqwest keep-alive
//! connections) on 127.0.0.1.
//!
//! ```sh
//! cargo run -p weir-bench --release --bin tower_guard
//! cargo run -p weir-bench --release --bin tower_guard -- --secs 0.8 --rounds 6 --connections 64 \
//!     --cap 16 --probe-rate 2000 --fill-backoff-ms 1 --over-secs 4 --guard all
//! ```
//!
//! Two phases, each bounded in time (~10 s and ~2 × 4 s):
//!
//! 1. **Below the cap**: a handler that answers "ok" at once; the guard's
//!    limits are far above the load (`--guard all`: global and per-client
//!    caps and a per-client quota, so every response gets exact
//!    `RateLimit-*` headers; or `concurrency`, `per-key`, `rate` alone).
//!    `--connections` closed loops; bare and guarded alternate in
//!    `--rounds` pairs of `--secs` runs (the machine is shared: pairs cancel
//!    slow drifts). Printed: req/s and guarded ÷ bare (target ≥ 0.95).
//! 2. **Above the cap**: a handler that takes 50 ms, the guard capped at
//!    `--cap` in flight. `--cap` closed loops keep the handler full (a loop
//!    turned away waits `--fill-backoff-ms`, default 1, before it asks again;
//!    0 makes the loops spin on 429s, ~15–25 k/s); on top,
//!    open-loop probes (`--probe-rate` per second, each on its own task, on a
//!    runtime and thread of their own apart from the fill loops, so their
//!    latency is the server's and not a client-side queue's) are over
//!    the cap and must get 429 at once. Printed: the probes' 429 latency
//!    p50 / p99 / max (target p99 ≤ 1 ms), and the handler's in-flight count
//!    sampled every 2 ms (flat at the cap, never above; the bare service,
//!    for contrast, runs every request at once).
//!
//! For an external load generator instead, `wrk` is in Debian
//! (`apt-get install -y wrk`); this binary does not need it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::Router;
use weir::{LimiterConfig, Quota};
use weir_tower::GuardLayer;

struct Args {
    secs: f64,
    connections: usize,
    cap: usize,
    probe_rate: f64,
    fill_backoff_ms: f64,
    over_secs: f64,
    rounds: usize,
    guard: String,
}

fn args() -> Args {
    let mut a = Args {
        secs: 0.8,
        connections: 64,
        cap: 16,
        probe_rate: 2_000.0,
        fill_backoff_ms: 1.0,
        over_secs: 4.0,
        rounds: 6,
        guard: String::from("all"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--guard" {
            a.guard = it
                .next()
                .expect("--guard needs all|concurrency|per-key|rate");
            continue;
        }
        let mut value = || -> f64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--secs" => a.secs = value().clamp(0.5, 30.0),
            "--connections" => a.connections = value() as usize,
            "--cap" => a.cap = value() as usize,
            "--over-secs" => a.over_secs = value().clamp(1.0, 30.0),
            "--probe-rate" => a.probe_rate = value().clamp(1.0, 50_000.0),
            "--fill-backoff-ms" => a.fill_backoff_ms = value().clamp(0.0, 50.0),
            "--rounds" => a.rounds = (value() as usize).max(1),
            other => panic!(
                "unknown flag {other} (--secs --connections --cap --probe-rate --fill-backoff-ms --rounds --guard)"
            ),
        }
    }
    a
}

/// Handler state: how many handler calls are running now.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
}

struct Running<'a>(&'a Gauge);

impl<'a> Running<'a> {
    fn enter(g: &'a Gauge) -> Self {
        g.now.fetch_add(1, Ordering::Relaxed);
        Running(g)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn fast(State(g): State<Arc<Gauge>>) -> &'static str {
    let _r = Running::enter(&g);
    "ok"
}

async fn slow(State(g): State<Arc<Gauge>>) -> &'static str {
    let _r = Running::enter(&g);
    tokio::time::sleep(Duration::from_millis(50)).await;
    "ok"
}

/// Which server a measurement runs against.
#[derive(Clone, Copy)]
enum Kind {
    Bare,
    Guarded { cap: Option<usize> },
}

/// Starts `router` (with connect info, as the guard keys by client IP) on
/// the server runtime; returns its address.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    addr
}

/// Limits far above the load (admits everything): `all` = global and
/// per-client caps and a per-client quota (headers exact); or one of them.
fn below_cap_config(guard: &str) -> LimiterConfig {
    let cap = Some(100_000);
    let rate = vec![Quota::per_second(10_000_000).unwrap()];
    match guard {
        "concurrency" => LimiterConfig {
            concurrency: cap,
            ..Default::default()
        },
        "per-key" => LimiterConfig {
            per_key: cap,
            ..Default::default()
        },
        "rate" => LimiterConfig {
            per_key_rate: rate,
            ..Default::default()
        },
        "all" => LimiterConfig {
            concurrency: cap,
            per_key: cap,
            per_key_rate: rate,
            ..Default::default()
        },
        other => panic!("--guard {other}: expected all|concurrency|per-key|rate"),
    }
}

fn app(slow_handler: bool, kind: Kind, gauge: Arc<Gauge>, guard: &str) -> Router {
    let router = if slow_handler {
        Router::new().fallback(slow)
    } else {
        Router::new().fallback(fast)
    }
    .with_state(gauge);
    match kind {
        Kind::Bare => router,
        Kind::Guarded { cap } => {
            let config = match cap {
                Some(cap) => LimiterConfig {
                    concurrency: Some(cap),
                    ..Default::default()
                },
                // Far above the load: admits everything, headers exact.
                None => below_cap_config(guard),
            };
            router.layer(GuardLayer::new(config).unwrap())
        }
    }
}

/// What a load run saw.
#[derive(Default)]
struct Load {
    ok: u64,
    rejected: u64,
    /// Latencies of 429 answers, µs.
    rejection_us: Vec<u32>,
}

/// `loops` closed-loop clients on keep-alive connections for `secs`.
/// A loop that got a 429 waits `backoff` before its next request (zero:
/// at once, so that loops over the cap spin on 429s).
async fn load(addr: SocketAddr, loops: usize, secs: f64, backoff: Duration) -> Load {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(loops)
        .build()
        .unwrap();
    let url = format!("http://{addr}/");
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..loops)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let mut seen = Load::default();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let resp = http.get(&url).send().await.unwrap();
                    let status = resp.status();
                    resp.bytes().await.unwrap();
                    match status.as_u16() {
                        200 => seen.ok += 1,
                        429 => {
                            seen.rejected += 1;
                            let us = t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                            seen.rejection_us.push(us);
                            if !backoff.is_zero() {
                                tokio::time::sleep(backoff).await;
                            }
                        }
                        other => panic!("unexpected status {other}"),
                    }
                }
                seen
            })
        })
        .collect();
    let mut all = Load::default();
    for task in tasks {
        let seen = task.await.unwrap();
        all.ok += seen.ok;
        all.rejected += seen.rejected;
        all.rejection_us.extend(seen.rejection_us);
    }
    all
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Samples `gauge` every 2 ms until `stop`; returns the samples.
fn sample(gauge: Arc<Gauge>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<usize>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            out.push(gauge.now.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(2));
        }
        out
    })
}

/// Open-loop probes: one request every `1 / rate` s for `secs`, each on
/// its own task, so a probe's latency is the service's, not a queue's in
/// the load generator. Returns what the probes saw.
async fn probe(addr: SocketAddr, rate: f64, secs: f64) -> Load {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let url = format!("http://{addr}/");
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = Vec::new();
    while Instant::now() < deadline {
        tick.tick().await;
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let resp = http.get(&url).send().await.unwrap();
            let status = resp.status().as_u16();
            resp.bytes().await.unwrap();
            (status, t.elapsed())
        }));
    }
    let mut seen = Load::default();
    for task in tasks {
        match task.await.unwrap() {
            (200, _) => seen.ok += 1,
            (429, took) => {
                seen.rejected += 1;
                seen.rejection_us
                    .push(took.as_micros().min(u128::from(u32::MAX)) as u32);
            }
            (other, _) => panic!("unexpected status {other}"),
        }
    }
    seen
}

/// CPU time the server's worker thread has used so far (ns, from
/// `/proc/thread-self/schedstat`): the task runs on the runtime's only
/// worker, which does all the server's work (I/O included).
fn server_cpu_ns(server: &tokio::runtime::Runtime) -> Option<u64> {
    let read = server.spawn(async {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        text.split_whitespace().next()?.parse::<u64>().ok()
    });
    server.block_on(read).ok().flatten()
}

/// Phase 0: the guard's own cost, in process (no sockets): `Service::call`
/// of the bare `service_fn` and of the guarded one, ns per request.
async fn in_process(guard: &str) -> (f64, f64) {
    use tower::{Layer, Service, ServiceExt};
    let n = 200_000u32;
    let handler = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    });
    let request = |i: u32| {
        let mut req = http::Request::new(());
        req.extensions_mut()
            .insert(SocketAddr::from(([10, 0, (i % 8) as u8, 1], 40_000)));
        req
    };
    let mut bare = handler;
    let t = Instant::now();
    for i in 0..n {
        let resp = bare.ready().await.unwrap().call(request(i)).await.unwrap();
        assert_eq!(resp.body(), "ok");
    }
    let bare_ns = t.elapsed().as_nanos() as f64 / f64::from(n);
    let mut guarded = GuardLayer::new(below_cap_config(guard))
        .unwrap()
        .layer(handler);
    let t = Instant::now();
    for i in 0..n {
        let resp = guarded
            .ready()
            .await
            .unwrap()
            .call(request(i))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let guarded_ns = t.elapsed().as_nanos() as f64 / f64::from(n);
    (bare_ns, guarded_ns)
}

/// Phase 0 too: a rejection, in process. The guard's cap (1) is held by a
/// permit taken beforehand, so every call is answered 429; ns per request,
/// the response and its body dropped.
async fn in_process_shed(guard: &str) -> f64 {
    use tower::{Layer, Service, ServiceExt};
    let n = 200_000u32;
    let handler = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    });
    let mut config = below_cap_config(guard);
    if config.per_key.is_some() {
        config.per_key = Some(1);
    } else {
        config.concurrency = Some(1);
    }
    let addr = SocketAddr::from(([10, 0, 0, 1], 40_000));
    let mut guarded = GuardLayer::new(config).unwrap().layer(handler);
    let _held = guarded.limiter().try_acquire(addr.ip(), 1).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        let mut req = http::Request::new(());
        req.extensions_mut().insert(addr);
        let resp = guarded.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(resp.status(), 429);
    }
    t.elapsed().as_nanos() as f64 / f64::from(n)
}

fn main() {
    let a = args();
    // Server and load generator on separate single-worker runtimes: one
    // core each, as far as the machine lets them.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    // ---- 0. in process
    let (bare_ns, guarded_ns) = client.block_on(in_process(&a.guard));
    println!(
        "tower_guard: in process (Service::call, no sockets) — bare {bare_ns:.0} ns/request, guarded {guarded_ns:.0} ns/request: the guard costs {:.0} ns",
        guarded_ns - bare_ns
    );
    let shed_ns = client.block_on(in_process_shed(&a.guard));
    println!("tower_guard: in process, a 429 (cap held) — {shed_ns:.0} ns/request");
    println!();

    // ---- 1. below the cap: alternating short runs, ratio per pair.
    let gauge = Arc::new(Gauge::default());
    let bare = server.block_on(serve(app(false, Kind::Bare, gauge.clone(), &a.guard)));
    let guarded = server.block_on(serve(app(
        false,
        Kind::Guarded { cap: None },
        gauge.clone(),
        &a.guard,
    )));
    client.block_on(load(bare, a.connections, 0.3, Duration::ZERO)); // warm-up
    client.block_on(load(guarded, a.connections, 0.3, Duration::ZERO));
    let (mut bare_rates, mut guarded_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    // Server CPU ns and requests, [bare, guarded].
    let (mut cpu, mut served) = ([0u64; 2], [0u64; 2]);
    for round in 0..a.rounds {
        let mut pair = [0.0f64; 2]; // [bare, guarded]
        for guarded_now in [round % 2 == 1, round % 2 == 0] {
            let addr = if guarded_now { guarded } else { bare };
            let before = server_cpu_ns(&server);
            let seen = client.block_on(load(addr, a.connections, a.secs, Duration::ZERO));
            let after = server_cpu_ns(&server);
            assert_eq!(seen.rejected, 0, "below the cap nothing is rejected");
            let which = usize::from(guarded_now);
            pair[which] = seen.ok as f64 / a.secs;
            if let (Some(before), Some(after)) = (before, after) {
                cpu[which] += after - before;
                served[which] += seen.ok;
            }
        }
        bare_rates.push(pair[0]);
        guarded_rates.push(pair[1]);
        ratios.push(pair[1] / pair[0]);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (best_bare, best_guarded) = (best(&bare_rates), best(&guarded_rates));
    let median_ratio = median(&mut ratios);
    println!(
        "tower_guard: below the cap — {} connections, {} alternating pairs of {:.1} s runs, guard config `{}`",
        a.connections, a.rounds, a.secs, a.guard
    );
    println!("| service | best req/s | median req/s | × bare (best) |");
    println!("|:--|--:|--:|--:|");
    println!(
        "| bare axum | {best_bare:.0} | {:.0} | 1.000 |",
        median(&mut bare_rates)
    );
    println!(
        "| axum + weir-tower guard | {best_guarded:.0} | {:.0} | {:.3} |",
        median(&mut guarded_rates),
        best_guarded / best_bare
    );
    println!(
        "ratio guarded ÷ bare: median of pairs {median_ratio:.3}, best ÷ best {:.3} (target ≥ 0.95)",
        best_guarded / best_bare
    );
    if served.iter().all(|&n| n > 0) {
        let per = |i: usize| cpu[i] as f64 / served[i] as f64 / 1e3;
        println!(
            "server CPU per request: bare {:.1} µs, guarded {:.1} µs → CPU-bound capacity ratio {:.3} (insensitive to other load on the machine)",
            per(0),
            per(1),
            per(0) / per(1)
        );
    }

    // ---- 2. above the cap: `cap` closed loops fill the handler; open-loop
    // probes on top are over the cap and must be answered 429 at once.
    let prober = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!();
    println!(
        "tower_guard: above the cap — handler 50 ms, guard cap {} in flight, {} closed loops (back off {} ms after a 429) + {:.0} probes/s open loop, {:.1} s",
        a.cap, a.cap, a.fill_backoff_ms, a.probe_rate, a.over_secs
    );
    println!("| service | ok/s | 429/s | probe 429 latency p50 | p99 | max | handler in flight: min / median / max (2 ms samples) |");
    println!("|:--|--:|--:|--:|--:|--:|--:|");
    for kind in [Kind::Guarded { cap: Some(a.cap) }, Kind::Bare] {
        let gauge = Arc::new(Gauge::default());
        let addr = server.block_on(serve(app(true, kind, gauge.clone(), &a.guard)));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = sample(gauge, stop.clone());
        // The fill loops on the client runtime; the probes on a runtime of
        // their own (this thread), so that a probe's latency is not spent
        // waiting behind the fill loops' 429s in the load generator.
        let fill = client.spawn(load(
            addr,
            a.cap,
            a.over_secs,
            Duration::from_secs_f64(a.fill_backoff_ms / 1e3),
        ));
        let mut probes = prober.block_on(async {
            // Let the loops take the slots first.
            tokio::time::sleep(Duration::from_millis(100)).await;
            probe(addr, a.probe_rate, a.over_secs - 0.2).await
        });
        let fill = client.block_on(fill).unwrap();
        stop.store(true, Ordering::Relaxed);
        let samples = sampler.join().unwrap();
        // The steady part: after the first 100 ms, before the last 100 ms.
        let steady = &samples[50.min(samples.len())..samples.len().saturating_sub(50).max(50)];
        let mut sorted = steady.to_vec();
        sorted.sort_unstable();
        probes.rejection_us.sort_unstable();
        let name = match kind {
            Kind::Bare => "bare axum",
            Kind::Guarded { .. } => "axum + weir-tower guard",
        };
        let (lo, mid, hi) = (
            sorted.first().copied().unwrap_or(0),
            sorted.get(sorted.len() / 2).copied().unwrap_or(0),
            sorted.last().copied().unwrap_or(0),
        );
        let secs = a.over_secs;
        println!(
            "| {name} | {:.0} | {:.0} | {:.3} ms | {:.3} ms | {:.3} ms | {lo} / {mid} / {hi} |",
            (fill.ok + probes.ok) as f64 / secs,
            (fill.rejected + probes.rejected) as f64 / secs,
            percentile(&probes.rejection_us, 50.0),
            percentile(&probes.rejection_us, 99.0),
            percentile(&probes.rejection_us, 100.0),
        );
        if let Kind::Guarded { cap: Some(cap) } = kind {
            assert!(
                hi <= cap,
                "the handler ran {hi} at once, over the cap {cap}"
            );
            let at_cap = steady.iter().filter(|&&n| n == cap).count();
            println!(
                "guard: handler in flight at the cap in {:.1} % of {} samples (never above); {} probes rejected, p99 {:.3} ms (target ≤ 1 ms)",
                100.0 * at_cap as f64 / steady.len().max(1) as f64,
                steady.len(),
                probes.rejected,
                percentile(&probes.rejection_us, 99.0),
            );
        }
    }
}
