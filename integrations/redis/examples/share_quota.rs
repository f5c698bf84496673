//! One process of a fleet sharing a quota: admits as fast as the shared
//! limits allow for `WEIR_RUN_MS` from the wall-clock instant `WEIR_START`
//! (ns since the epoch) and prints one line per admission (`WEIR <ns>`).
//! Used by the cross-language test (tests/redis/) next to Node processes.
//!
//! ```sh
//! WEIR_URL=redis://127.0.0.1:6379/ WEIR_PREFIX=x: WEIR_RUN_MS=1000 \
//!   cargo run -p weir-limiter-redis --example share_quota
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use weir::{LimiterConfig, Quota};
use weir_redis::{FailurePolicy, RedisStore, SharedConfig, SharedLimiter, StoreOptions};

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = env("WEIR_URL", "redis://127.0.0.1:6379/");
    let start: u64 = env("WEIR_START", "0").parse()?;
    let run = Duration::from_millis(env("WEIR_RUN_MS", "1000").parse()?);
    let limit: u32 = env("WEIR_LIMIT", "100").parse()?;
    let burst: u32 = env("WEIR_BURST", "10").parse()?;
    let store = RedisStore::new(
        redis::Client::open(url)?,
        StoreOptions {
            prefix: env("WEIR_PREFIX", "x:"),
            ..Default::default()
        },
    )?;
    let limiter = Arc::new(SharedLimiter::new(
        store,
        SharedConfig {
            limits: LimiterConfig {
                per_key_rate: vec![Quota::per_second(limit)?.with_burst(burst)?],
                ..Default::default()
            },
            on_store_error: FailurePolicy::Closed,
            local_share: 1,
        },
    )?);
    let now = wall_ns();
    if start > now {
        tokio::time::sleep(Duration::from_nanos(start - now)).await;
    }
    let end = tokio::time::Instant::now() + run;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let limiter = Arc::clone(&limiter);
        tasks.push(tokio::spawn(async move {
            let mut admitted = Vec::new();
            while let Ok(permit) = tokio::time::timeout_at(end, limiter.acquire("shared", 1)).await
            {
                permit.expect("admitted");
                admitted.push(wall_ns());
            }
            admitted
        }));
    }
    for task in tasks {
        for at in task.await? {
            println!("WEIR {at}");
        }
    }
    Ok(())
}
