//! The store fails: redis-server killed and restarted, or frozen (SIGSTOP)
//! past the timeout. Each failure policy does what it documents, every call
//! settles, and the shared limits hold again once the server is back.

mod support;

use std::sync::Arc;
use std::time::Duration;

use weir::{LimiterConfig, LimiterError, Quota};
use weir_redis::{FailurePolicy, Mode, SharedError, SharedLimiter, StoreFailure, StoreOptions};

const TIMEOUT: Duration = Duration::from_millis(150);
/// A call must settle within the timeout plus this (scheduling on a busy machine).
const MARGIN: Duration = Duration::from_millis(400);

fn options(prefix: &str, lease: Duration) -> StoreOptions {
    StoreOptions {
        prefix: prefix.into(),
        lease,
        timeout: TIMEOUT,
        ttl_slack: Duration::from_millis(200),
    }
}

fn limiter(url: &str, policy: FailurePolicy) -> Arc<SharedLimiter> {
    let limits = LimiterConfig {
        per_key: Some(2),
        per_key_rate: vec![Quota::per_second(5).unwrap()],
        ..Default::default()
    };
    support::shared_limiter(url, options("f:", Duration::from_secs(5)), limits, policy)
}

/// Acquire with an outer bound: nothing may hang.
async fn bounded(
    limiter: &SharedLimiter,
    key: &str,
) -> (Result<weir_redis::SharedPermit, SharedError>, Duration) {
    let start = std::time::Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(5), limiter.acquire(key, 1))
        .await
        .expect("an acquire hung");
    (out, start.elapsed())
}

/// While the store fails: the policy's documented behaviour.
async fn check_failing(
    limiter: &SharedLimiter,
    policy: FailurePolicy,
    key: &str,
    timeout_cause: bool,
) {
    let (out, took) = bounded(limiter, key).await;
    assert!(
        took <= TIMEOUT + MARGIN,
        "{policy:?}: settled after {took:?}"
    );
    match policy {
        FailurePolicy::Closed => match out {
            Err(SharedError::Store(e)) => {
                if timeout_cause {
                    assert_eq!(e.cause, StoreFailure::Timeout(TIMEOUT), "{e}");
                }
                assert!(e.to_string().contains(e.op), "{e}");
            }
            other => panic!("closed: {other:?}"),
        },
        FailurePolicy::Open => {
            let permit = out.expect("open admits");
            assert!(!permit.is_shared() && !permit.is_fallback());
        }
        FailurePolicy::Local => {
            let first = out.expect("local admits from the in-memory limiter");
            assert!(first.is_fallback());
            drop(first);
            // The in-memory limiter has the same options: burst 5 per key.
            let mut admitted = 1;
            let mut refused = None;
            for _ in 0..6 {
                match tokio::time::timeout(Duration::from_secs(5), limiter.try_acquire(key, 1))
                    .await
                    .unwrap()
                {
                    Ok(p) => {
                        assert!(p.is_fallback());
                        admitted += 1;
                    }
                    Err(e) => {
                        refused = Some(e);
                        break;
                    }
                }
            }
            assert_eq!(admitted, 5, "local burst");
            assert!(
                matches!(
                    refused,
                    Some(SharedError::Limiter(LimiterError::RateLimited { .. }))
                ),
                "{refused:?}"
            );
        }
    }
    let stats = limiter.store_stats();
    assert_eq!(stats.mode, Mode::Degraded);
    assert!(stats.errors >= 1 && stats.last_error.is_some());
}

/// After the server is back: admitted through the store again, limits hold.
async fn check_recovered(limiter: &SharedLimiter, key: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(Ok(p)) =
            tokio::time::timeout(Duration::from_secs(2), limiter.try_acquire(key, 1)).await
        {
            if p.is_shared() {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store did not come back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = limiter.store_stats();
    assert_eq!(stats.mode, Mode::Ok);
    assert!(stats.recoveries >= 1);
    // Fresh key after the first success: the shared burst of 5, then a denial.
    let fresh = format!("{key}-after");
    for i in 0..5 {
        let p = limiter
            .try_acquire(fresh.as_str(), 1)
            .await
            .unwrap_or_else(|e| panic!("unit {i}: {e}"));
        assert!(p.is_shared());
    }
    assert!(matches!(
        limiter.try_acquire(fresh.as_str(), 1).await,
        Err(SharedError::RateLimited { .. })
    ));
}

async fn stopped_and_restarted(policy: FailurePolicy) {
    let Some(mut server) = support::RedisServer::start() else {
        return;
    };
    let limiter = limiter(&server.url(), policy);
    assert!(limiter.acquire("k", 1).await.unwrap().is_shared());
    server.stop();
    check_failing(&limiter, policy, "k", false).await;
    // Still failing a little later (the client's reconnection is bounded too).
    tokio::time::sleep(Duration::from_millis(300)).await;
    check_failing(&limiter, policy, "k2", false).await;
    server.restart();
    check_recovered(&limiter, "k3").await;
}

async fn frozen_past_the_timeout(policy: FailurePolicy) {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let limiter = limiter(&server.url(), policy);
    assert!(limiter.acquire("k", 1).await.unwrap().is_shared());
    server.signal("-STOP");
    check_failing(&limiter, policy, "k", true).await;
    server.signal("-CONT");
    check_recovered(&limiter, "k3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_denies_while_redis_is_down_then_recovers() {
    stopped_and_restarted(FailurePolicy::Closed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_admits_while_redis_is_down_then_recovers() {
    stopped_and_restarted(FailurePolicy::Open).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_falls_back_while_redis_is_down_then_recovers() {
    stopped_and_restarted(FailurePolicy::Local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_denies_while_redis_is_frozen() {
    frozen_past_the_timeout(FailurePolicy::Closed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_admits_while_redis_is_frozen() {
    frozen_past_the_timeout(FailurePolicy::Open).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_falls_back_while_redis_is_frozen() {
    frozen_past_the_timeout(FailurePolicy::Local).await;
}

/// A waiter for a lease (the holder keeps it for 30 s) when the server dies:
/// under `Closed` it fails at once (the lost subscription wakes it), instead
/// of sleeping until the lease would expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_waiter_meets_the_policy_when_redis_dies() {
    let Some(mut server) = support::RedisServer::start() else {
        return;
    };
    let limiter = limiter_with_own_store(&server.url(), "w:");
    tokio::time::sleep(Duration::from_millis(100)).await; // subscribed
    let held = limiter.acquire("k", 1).await.unwrap();
    // Another "process" (its own limiter) waits for the key's only permit.
    let other = limiter_with_own_store(&server.url(), "w:");
    let waiter = tokio::spawn(async move { other.acquire("k", 1).await.map(drop) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "the cap is held");
    server.stop();
    let stopped = std::time::Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter settles")
        .unwrap();
    assert!(matches!(out, Err(SharedError::Store(_))), "{out:?}");
    assert!(
        stopped.elapsed() <= Duration::from_secs(2),
        "settled {:?} after the server died",
        stopped.elapsed()
    );
    drop(held);
}

fn limiter_with_own_store(url: &str, prefix: &str) -> Arc<SharedLimiter> {
    let limits = LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    };
    support::closed_limiter(url, options(prefix, Duration::from_secs(30)), limits)
}
