//! The native half of `bench/js/redis.mjs` (which starts the redis-server,
//! runs this binary next to the JS contenders and prints the table): weir's
//! `SharedLimiter` against a local redis-server.
//!
//! ```sh
//! cargo run -p weir-bench --release --bin redis_store -- --url redis://127.0.0.1:6379/ \
//!   --mode throughput --callers 64 --keys 10000 --ms 2000
//! ```
//!
//! - `--mode throughput`: a quota no caller reaches (10^9/s per key), so
//!   every decision admits: `callers` tasks call `try_acquire` in a loop for
//!   `ms`; prints decisions/s, store round trips per decision, p99 latency;
//! - `--mode exact`: one key, `--limit`/s with burst `--limit`; `callers`
//!   tasks `acquire` (waiting as told by the store) for `ms`; prints the
//!   admissions and their worst excess over `limit + limit·w` in any window w.
//!
//! Output: one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weir::{LimiterConfig, Quota};
use weir_redis::{FailurePolicy, RedisStore, SharedConfig, SharedLimiter, StoreOptions};

fn flag(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = flag("--url", "redis://127.0.0.1:6379/");
    let mode = flag("--mode", "throughput");
    let callers: usize = flag("--callers", "1").parse()?;
    let keys: usize = flag("--keys", "1").parse()?;
    let run = Duration::from_millis(flag("--ms", "2000").parse()?);
    let limit: u32 = flag("--limit", "100").parse()?;
    let prefix = flag("--prefix", "bench-native:");
    let quota = if mode == "exact" {
        Quota::per_second(limit)?
    } else {
        Quota::per_second(1_000_000_000)?
    };
    let store = RedisStore::new(
        redis::Client::open(url)?,
        StoreOptions {
            prefix,
            timeout: Duration::from_secs(2),
            ..Default::default()
        },
    )?;
    let limiter = Arc::new(SharedLimiter::new(
        Arc::clone(&store),
        SharedConfig {
            limits: LimiterConfig {
                per_key_rate: vec![quota],
                ..Default::default()
            },
            on_store_error: FailurePolicy::Closed,
            local_share: 1,
        },
    )?);
    // Warm up: the script loaded, the connection made.
    drop(limiter.try_acquire("warm", 1).await?);
    let trips_before = store.stats().round_trips;
    let start = Instant::now();
    let end = tokio::time::Instant::now() + run;
    let mut tasks = Vec::new();
    for c in 0..callers {
        let limiter = Arc::clone(&limiter);
        let exact = mode == "exact";
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut admitted = Vec::new();
            let mut i = c;
            while tokio::time::Instant::now() < end {
                let key = if exact { 0 } else { i % keys };
                i += callers;
                let t = Instant::now();
                if exact {
                    match tokio::time::timeout_at(end, limiter.acquire(key.to_string(), 1)).await {
                        Ok(permit) => {
                            permit.expect("admitted");
                            admitted.push(t.elapsed() + (t - start));
                        }
                        Err(_) => break,
                    }
                } else {
                    let permit = limiter.try_acquire(key.to_string(), 1).await;
                    latencies.push(t.elapsed());
                    permit.expect("a 10^9/s quota admits");
                }
            }
            (latencies, admitted)
        }));
    }
    let mut latencies = Vec::new();
    let mut admitted = Vec::new();
    for t in tasks {
        let (l, a) = t.await?;
        latencies.extend(l);
        admitted.extend(a);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let trips = store.stats().round_trips - trips_before;
    if mode == "exact" {
        admitted.sort_unstable();
        // Worst excess over `limit + limit·w` in any window w of the admissions.
        let per_ns = f64::from(limit) / 1e9;
        let mut worst = 0.0f64;
        for i in 0..admitted.len() {
            for j in i..admitted.len() {
                let w = (admitted[j] - admitted[i]).as_nanos() as f64;
                worst = worst.max((j - i + 1) as f64 - (f64::from(limit) + per_ns * w));
            }
        }
        println!(
            "{{\"admitted\":{},\"seconds\":{elapsed},\"excess\":{}}}",
            admitted.len(),
            worst.floor().max(0.0)
        );
    } else {
        latencies.sort_unstable();
        let n = latencies.len();
        let p99 = latencies[(n * 99).div_ceil(100) - 1].as_secs_f64() * 1e3;
        println!(
            "{{\"decisions\":{n},\"seconds\":{elapsed},\"roundTrips\":{trips},\"p99Ms\":{p99}}}"
        );
    }
    Ok(())
}
