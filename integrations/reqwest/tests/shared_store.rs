//! `LimitMiddlewareBuilder::shared` (feature `redis`) against a real HTTP
//! server on 127.0.0.1 and a real redis-server: two clients (two "workers",
//! each with its own store connection) share one per-host quota and never
//! exceed it together; a 429's `Retry-After` seen by one holds the host for
//! the other; a store that is down gets the shared limiter's policy.
#![cfg(feature = "redis")]

#[path = "../../redis/tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use weir::{LimiterConfig, Quota};
use weir_redis::{FailurePolicy, StoreOptions};
use weir_reqwest::{LimitMiddleware, RetryPolicy};

#[derive(Default)]
struct Log {
    arrivals: Vec<Instant>,
    /// Answer the next request with 429 + `Retry-After: 1`.
    throttle_next: bool,
}

async fn handle(State(log): State<Arc<Mutex<Log>>>) -> Response {
    let mut log = log.lock().unwrap();
    log.arrivals.push(Instant::now());
    if std::mem::take(&mut log.throttle_next) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response();
    }
    "ok".into_response()
}

async fn http_server() -> (String, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let app = Router::new().fallback(handle).with_state(Arc::clone(&log));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

fn client(redis_url: &str, limits: LimiterConfig, policy: FailurePolicy) -> ClientWithMiddleware {
    let options = StoreOptions {
        prefix: "reqwest:".into(),
        timeout: Duration::from_millis(150),
        ttl_slack: Duration::from_millis(200),
        ..Default::default()
    };
    let shared = support::shared_limiter(redis_url, options, limits, policy);
    let mw = LimitMiddleware::builder(LimiterConfig::default())
        .shared(shared)
        .retry(RetryPolicy {
            attempts: 2,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    ClientBuilder::new(reqwest::Client::new()).with(mw).build()
}

/// 10 per second per host, burst 5, for the whole fleet.
fn fleet_quota() -> LimiterConfig {
    LimiterConfig {
        per_key: Some(4),
        per_key_rate: vec![Quota::per_second(10).unwrap().with_burst(5).unwrap()],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_exceed_the_hosts_shared_quota() {
    let Some(redis) = support::RedisServer::start() else {
        return;
    };
    let (url, log) = http_server().await;
    let workers = [
        client(&redis.url(), fleet_quota(), FailurePolicy::Closed),
        client(&redis.url(), fleet_quota(), FailurePolicy::Closed),
    ];
    let start = Instant::now();
    let requests = (0..20).map(|i| {
        let c = workers[i % 2].clone();
        let url = url.clone();
        tokio::spawn(async move { c.get(&url).send().await.unwrap().text().await.unwrap() })
    });
    for r in requests.collect::<Vec<_>>() {
        assert_eq!(r.await.unwrap(), "ok");
    }
    let arrivals = log.lock().unwrap().arrivals.clone();
    assert_eq!(arrivals.len(), 20);
    // 20 units at 10/s with a burst of 5: the last no sooner than 1.5 s in,
    // and never more than 5 + 10·w in any window w (a small allowance for
    // the HTTP hop between the store's decision and the server's clock).
    assert!(
        start.elapsed() >= Duration::from_millis(1450),
        "{:?}",
        start.elapsed()
    );
    for (i, a) in arrivals.iter().enumerate() {
        for (j, b) in arrivals.iter().enumerate().skip(i) {
            let w = b.duration_since(*a).as_secs_f64() + 0.02;
            assert!(
                (j - i + 1) as f64 <= 5.0 + 10.0 * w,
                "{} arrivals within {w} s",
                j - i + 1
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_one_worker_holds_the_host_for_the_other() {
    let Some(redis) = support::RedisServer::start() else {
        return;
    };
    let (url, log) = http_server().await;
    let limits = || LimiterConfig {
        per_key: Some(4),
        ..Default::default()
    };
    let a = client(&redis.url(), limits(), FailurePolicy::Closed);
    let b = client(&redis.url(), limits(), FailurePolicy::Closed);
    assert_eq!(
        b.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    log.lock().unwrap().throttle_next = true;
    // `a` gets the 429 (Retry-After: 1), pauses the host for the fleet, and
    // retries after it.
    let a2 = a.clone();
    let url2 = url.clone();
    let first = tokio::spawn(async move { a2.get(&url2).send().await.unwrap().status() });
    while log.lock().unwrap().throttle_next {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let throttled_at = *log.lock().unwrap().arrivals.last().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // `b`, another worker, sends while the host is paused: it waits it out.
    assert_eq!(
        b.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    assert_eq!(first.await.unwrap(), 200);
    let arrivals = log.lock().unwrap().arrivals.clone();
    assert_eq!(arrivals.len(), 4);
    for (i, at) in arrivals[2..].iter().enumerate() {
        let after = at.duration_since(throttled_at);
        assert!(
            after >= Duration::from_millis(950),
            "request {i} after the 429 arrived {after:?} later, inside the shared Retry-After"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_closed_fails_open_sends() {
    let Some(mut redis) = support::RedisServer::start() else {
        return;
    };
    let (url, log) = http_server().await;
    let closed = client(&redis.url(), fleet_quota(), FailurePolicy::Closed);
    let open = client(&redis.url(), fleet_quota(), FailurePolicy::Open);
    assert!(closed.get(&url).send().await.is_ok());
    redis.stop();
    let start = Instant::now();
    let err = closed.get(&url).send().await.unwrap_err();
    assert!(format!("{err:?}").contains("weir redis store"), "{err:?}");
    assert_eq!(
        open.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(log.lock().unwrap().arrivals.len(), 2, "closed sent nothing");
}
