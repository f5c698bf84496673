//! Issue 4: reqwest + `weir-reqwest` against plain reqwest with a
//! `buffer_unordered` pool, both at the same in-flight bound, against a local
//! axum server that answers after a random 0–300 ms.
//!
//! ```sh
//! cargo run -p weir-bench --release --bin reqwest_fetch
//! cargo run -p weir-bench --release --bin reqwest_fetch -- --requests 20000 --in-flight 1000 --rounds 2
//! ```
//!
//! Every request goes to 127.0.0.1 only; the run is bounded by its request
//! count. Per round, each contender sends `--requests` GETs with at most
//! `--in-flight` outstanding and reads every body:
//!
//! - **pool**: plain `reqwest::Client`, `stream::iter(..).buffer_unordered(N)`;
//! - **weir**: `reqwest_middleware` with [`weir_reqwest::LimitMiddleware`]
//!   (`per_key: N`, retries on), *all* requests issued at once — the limiter
//!   alone keeps N in flight, the permit held until the body is read.
//!
//! Printed: req/s, mean latency, the Little's-law bound (in flight ÷ mean
//! latency, the best any client can do at that latency), and weir ÷ pool.
//! Needs `ulimit -n` above 2 × in-flight + a few (client and server ends).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::Router;
use futures::stream::{self, FuturesUnordered, StreamExt};
use weir::LimiterConfig;
use weir_reqwest::LimitMiddleware;

struct Args {
    requests: usize,
    in_flight: usize,
    max_delay_ms: u64,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        requests: 20_000,
        in_flight: 1_000,
        max_delay_ms: 300,
        rounds: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--requests" => a.requests = value(),
            "--in-flight" => a.in_flight = value(),
            "--max-delay-ms" => a.max_delay_ms = value() as u64,
            "--rounds" => a.rounds = value().max(1),
            other => {
                panic!("unknown flag {other} (--requests --in-flight --max-delay-ms --rounds)")
            }
        }
    }
    a
}

/// SplitMix64 of a counter: the server's random delays, reproducible.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Server {
    next: AtomicU64,
    max_delay_us: u64,
}

async fn delayed(State(s): State<Arc<Server>>) -> &'static str {
    let n = s.next.fetch_add(1, Ordering::Relaxed);
    let us = mix(n) % (s.max_delay_us + 1);
    tokio::time::sleep(Duration::from_micros(us)).await;
    "ok"
}

/// Starts the server on its own runtime thread; returns its address.
fn serve(max_delay_ms: u64) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let state = Arc::new(Server {
                next: AtomicU64::new(0),
                max_delay_us: max_delay_ms * 1000,
            });
            let app = Router::new().fallback(delayed).with_state(state);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn client(in_flight: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(in_flight)
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .unwrap()
}

/// One contender's round.
struct Round {
    elapsed: Duration,
    /// Mean send-to-body-read latency (pool only: a weir request's future
    /// includes its wait for a permit).
    mean_latency: Option<Duration>,
}

async fn run_pool(http: &reqwest::Client, url: &str, a: &Args) -> Round {
    let start = Instant::now();
    let total_ns: u128 = stream::iter(0..a.requests)
        .map(|_| async {
            let t = Instant::now();
            let body = http.get(url).send().await.unwrap().bytes().await.unwrap();
            assert_eq!(&body[..], b"ok");
            t.elapsed().as_nanos()
        })
        .buffer_unordered(a.in_flight)
        .fold(0u128, |sum, ns| async move { sum + ns })
        .await;
    Round {
        elapsed: start.elapsed(),
        mean_latency: Some(Duration::from_nanos((total_ns / a.requests as u128) as u64)),
    }
}

async fn run_weir(http: &reqwest_middleware::ClientWithMiddleware, url: &str, a: &Args) -> Round {
    let start = Instant::now();
    let all: FuturesUnordered<_> = (0..a.requests)
        .map(|_| async {
            let resp = http.get(url).send().await.unwrap();
            // Waiting for a permit is part of this future, so its latency is
            // not comparable to the pool's; the core's p50/p95/p99 (time to
            // headers, from the permit on) are reported instead.
            let body = resp.bytes().await.unwrap();
            assert_eq!(&body[..], b"ok");
        })
        .collect();
    all.collect::<()>().await;
    let elapsed = start.elapsed();
    Round {
        elapsed,
        mean_latency: None,
    }
}

fn main() {
    let a = args();
    let addr = serve(a.max_delay_ms);
    let url = format!("http://{addr}/");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let plain = client(a.in_flight);
        let mw = LimitMiddleware::new(LimiterConfig {
            per_key: Some(a.in_flight),
            ..Default::default()
        })
        .unwrap();
        let limited = reqwest_middleware::ClientBuilder::new(client(a.in_flight))
            .with(mw.clone())
            .build();
        // Warm both pools: open the connections once.
        let warm = Args {
            requests: a.in_flight * 2,
            rounds: 1,
            ..a
        };
        run_pool(&plain, &url, &warm).await;
        run_weir(&limited, &url, &warm).await;

        let (mut best_pool, mut best_weir): (Option<Round>, Option<Round>) = (None, None);
        for round in 0..a.rounds {
            // Alternate the order so neither always runs second.
            for weir_first in [round % 2 == 1, round % 2 == 0] {
                if weir_first {
                    let before = mw.host_stats(&addr.to_string());
                    let r = run_weir(&limited, &url, &a).await;
                    let after = mw.host_stats(&addr.to_string());
                    assert_eq!(
                        after.sent - before.sent,
                        a.requests as u64,
                        "every request sent once"
                    );
                    assert_eq!(after.in_flight, 0);
                    if best_weir.as_ref().is_none_or(|b| r.elapsed < b.elapsed) {
                        best_weir = Some(r);
                    }
                } else {
                    let r = run_pool(&plain, &url, &a).await;
                    if best_pool.as_ref().is_none_or(|b| r.elapsed < b.elapsed) {
                        best_pool = Some(r);
                    }
                }
            }
        }
        let (pool, weir) = (best_pool.unwrap(), best_weir.unwrap());
        let stats = mw.host_stats(&addr.to_string());
        report(&a, &pool, &weir, stats);
    });
}

fn report(a: &Args, pool: &Round, weir: &Round, stats: weir_reqwest::HostStats) {
    let rate = |r: &Round| a.requests as f64 / r.elapsed.as_secs_f64();
    let expected_mean = Duration::from_micros(a.max_delay_ms * 1000 / 2);
    let pool_latency = pool.mean_latency.unwrap_or(expected_mean);
    let bound = a.in_flight as f64 / pool_latency.as_secs_f64();
    let ideal = a.in_flight as f64 / expected_mean.as_secs_f64();
    println!(
        "reqwest_fetch: {} requests, {} in flight, server delay uniform 0–{} ms (mean {:?}), best of {} rounds",
        a.requests, a.in_flight, a.max_delay_ms, expected_mean, a.rounds
    );
    println!("| contender | req/s | mean latency | Little bound (in flight ÷ mean latency) | × bound | × pool |");
    println!("|:--|--:|--:|--:|--:|--:|");
    println!(
        "| pool (reqwest + buffer_unordered) | {:.0} | {:.1} ms | {:.0} | {:.3} | 1.000 |",
        rate(pool),
        pool_latency.as_secs_f64() * 1e3,
        bound,
        rate(pool) / bound,
    );
    println!(
        "| weir (reqwest + weir-reqwest, all issued at once) | {:.0} | p50 {:.1} ms (core) | {:.0} | {:.3} | {:.3} |",
        rate(weir),
        stats.p50.unwrap_or_default().as_secs_f64() * 1e3,
        bound,
        rate(weir) / bound,
        rate(weir) / rate(pool),
    );
    println!(
        "ideal bound at the server's mean delay: {ideal:.0} req/s; weir's core figures for the host: p50 {:?}, p95 {:?}, p99 {:?}, sent {}, retried {}",
        stats.p50, stats.p95, stats.p99, stats.sent, stats.retried
    );
    println!(
        "ratio weir ÷ pool = {:.3} (target ≥ 0.98)",
        rate(weir) / rate(pool)
    );
}
