//! Batching on a real redis-server: decisions of callers that arrive while a
//! `gcra.lua` call is in flight go out as one call, decided in arrival order
//! exactly as one by one (the differential test checks the arithmetic against
//! the core); and a batch caught by a frozen or dead server settles every
//! caller in it with its policy's outcome.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use weir::{LimiterConfig, Quota};
use weir_redis::{Admission, FailurePolicy, SharedError, SharedLimiter, StoreOptions};

const TIMEOUT: Duration = Duration::from_millis(150);
/// A call must settle within the timeout plus this (scheduling on a busy machine).
const MARGIN: Duration = Duration::from_millis(400);

fn quota_only(url: &str, prefix: &str, policy: FailurePolicy) -> Arc<SharedLimiter> {
    let options = StoreOptions {
        prefix: prefix.into(),
        timeout: TIMEOUT,
        ttl_slack: Duration::from_millis(200),
        ..Default::default()
    };
    let limits = LimiterConfig {
        per_key_rate: vec![Quota::per_second(10).unwrap().with_burst(4).unwrap()],
        ..Default::default()
    };
    support::shared_limiter(url, options, limits, policy)
}

/// Twelve decisions polled in order on one thread: the first goes out alone
/// (the store was idle), the eleven that arrive while it is in flight go out
/// as one call. Burst 4: the first four admitted, remaining 3, 2, 1, 0; the
/// other eight denied with one wait (one instant for the batch).
#[tokio::test(flavor = "current_thread")]
async fn concurrent_decisions_go_out_as_one_call_in_arrival_order() {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let limiter = quota_only(&server.url(), "b:", FailurePolicy::Closed);
    drop(limiter.try_admit("warm", 1).await.unwrap());
    let before = limiter.store_stats().round_trips;
    let decisions = join_all((0..12).map(|_| limiter.try_admit("k", 1))).await;
    assert_eq!(
        limiter.store_stats().round_trips - before,
        2,
        "one call for the first, one for the eleven queued behind it"
    );
    let mut remaining = Vec::new();
    let mut waits = Vec::new();
    for (i, d) in decisions.into_iter().enumerate() {
        match d.unwrap() {
            Admission::Admitted { figures, .. } => {
                assert!(waits.is_empty(), "request {i} admitted after a denial");
                remaining.push(figures.unwrap().remaining.unwrap());
            }
            Admission::RateLimited {
                retry_after,
                figures,
            } => {
                assert_eq!(figures.unwrap().remaining, Some(0));
                waits.push(retry_after);
            }
            Admission::Busy => panic!("no caps"),
        }
    }
    assert_eq!(remaining, [3, 2, 1, 0]);
    assert_eq!(waits.len(), 8);
    assert!(
        waits.iter().all(|&w| w == waits[0]),
        "one instant, one wait: {waits:?}"
    );
    assert!(waits[0] > Duration::ZERO && waits[0] <= Duration::from_millis(100));
}

/// Many callers of `acquire` (which waits its turn) on one key and others:
/// batched, the shared quota still admits exactly what GCRA allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_waiters_never_exceed_the_quota() {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let limiter = quota_only(&server.url(), "w:", FailurePolicy::Closed);
    let start = std::time::Instant::now();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move {
                let key = if i % 3 == 0 { "other" } else { "k" };
                limiter.acquire(key, 1).await.map(drop)?;
                Ok::<_, SharedError>((key, start.elapsed()))
            })
        })
        .collect();
    let mut on_k = Vec::new();
    for t in tasks {
        let (key, at) = t.await.unwrap().unwrap();
        if key == "k" {
            on_k.push(at);
        }
    }
    on_k.sort();
    assert!(
        on_k[15] - on_k[0] >= Duration::from_millis(1150),
        "16 units at 10/s, burst 4: {:?}",
        on_k[15] - on_k[0]
    );
    // 16 units on "k" at 10/s with a burst of 4: never more than 4 + 10·w
    // in any window w (timed here, on the client, when each acquire returns:
    // 50 ms of allowance for scheduling; one unit too many still fails).
    for (i, a) in on_k.iter().enumerate() {
        for (j, b) in on_k.iter().enumerate().skip(i) {
            let w = (*b - *a).as_secs_f64() + 0.05;
            assert!(
                (j - i + 1) as f64 <= 4.0 + 10.0 * w,
                "{} admissions in {w} s",
                j - i + 1
            );
        }
    }
    let stats = limiter.store_stats();
    assert!(
        stats.round_trips < 24 + 12,
        "{} round trips for 24 admissions",
        stats.round_trips
    );
}

/// A batch queued behind a call the server never answers (frozen), or whose
/// server dies while it is in flight: every caller settles within the
/// timeout (plus scheduling), each with its policy's outcome.
async fn a_batch_meets_the_policy(policy: FailurePolicy, kill: bool) {
    let Some(mut server) = support::RedisServer::start() else {
        return;
    };
    let limiter = quota_only(&server.url(), "f:", policy);
    assert!(!limiter.try_acquire("warm", 1).await.unwrap().is_fallback());
    server.signal("-STOP");
    let start = std::time::Instant::now();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move {
                let key = format!("k{}", i % 8);
                let out = tokio::time::timeout(Duration::from_secs(5), limiter.acquire(key, 1))
                    .await
                    .expect("a caller of the batch hung");
                (out, start.elapsed())
            })
        })
        .collect();
    if kill {
        // The calls are in flight (or queued) when the server dies.
        tokio::time::sleep(Duration::from_millis(30)).await;
        server.stop();
    }
    for t in tasks {
        let (out, took) = t.await.unwrap();
        assert!(
            took <= TIMEOUT + MARGIN,
            "{policy:?}: settled after {took:?}"
        );
        match policy {
            FailurePolicy::Closed => {
                assert!(matches!(out, Err(SharedError::Store(_))), "{out:?}")
            }
            FailurePolicy::Open => {
                let p = out.expect("open admits");
                assert!(!p.is_shared() && !p.is_fallback());
            }
            FailurePolicy::Local => assert!(out.expect("local admits").is_fallback()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_behind_a_frozen_server_settles_closed() {
    a_batch_meets_the_policy(FailurePolicy::Closed, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_behind_a_frozen_server_settles_open() {
    a_batch_meets_the_policy(FailurePolicy::Open, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_behind_a_frozen_server_settles_local() {
    a_batch_meets_the_policy(FailurePolicy::Local, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_in_flight_when_the_server_dies_settles_closed() {
    a_batch_meets_the_policy(FailurePolicy::Closed, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_in_flight_when_the_server_dies_settles_local() {
    a_batch_meets_the_policy(FailurePolicy::Local, true).await;
}
