//! `SharedGuardLayer` (feature `redis`) on a real redis-server: two servers
//! of a fleet (two guards, each with its own connection) shed one client by
//! one shared quota and one shared cap; a store that is down gets the
//! limiter's failure policy.
#![cfg(feature = "redis")]

#[path = "../../redis/tests/support/mod.rs"]
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tower::{Layer, ServiceExt};
use weir::{LimiterConfig, Quota};
use weir_redis::{FailurePolicy, StoreOptions};
use weir_tower::SharedGuardLayer;

fn from(ip: [u8; 4]) -> Request<()> {
    let mut req = Request::new(());
    req.extensions_mut().insert(SocketAddr::from((ip, 40_000)));
    req
}

fn header(resp: &Response<impl Sized>, name: &str) -> Option<u64> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

async fn ok(_req: Request<()>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from("ok"))))
}

fn guard(url: &str, limits: LimiterConfig, policy: FailurePolicy) -> SharedGuardLayer {
    let options = StoreOptions {
        prefix: "tower:".into(),
        timeout: Duration::from_millis(150),
        ttl_slack: Duration::from_millis(200),
        ..Default::default()
    };
    SharedGuardLayer::new(support::shared_limiter(url, options, limits, policy)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_shed_one_client_by_the_fleet_quota() {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let limits = || LimiterConfig {
        per_key_rate: vec![Quota::per_second(3).unwrap()],
        ..Default::default()
    };
    let fleet = [
        guard(&server.url(), limits(), FailurePolicy::Closed).layer(tower::service_fn(ok)),
        guard(&server.url(), limits(), FailurePolicy::Closed).layer(tower::service_fn(ok)),
    ];
    let mut remaining = Vec::new();
    for i in 0..3 {
        let resp = fleet[i % 2]
            .clone()
            .oneshot(from([10, 0, 0, 1]))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "request {i}");
        assert_eq!(header(&resp, "ratelimit-limit"), Some(3));
        remaining.push(header(&resp, "ratelimit-remaining").unwrap());
        assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
    }
    assert_eq!(remaining, [2, 1, 0], "one quota across both servers");
    let shed = fleet[1].clone().oneshot(from([10, 0, 0, 1])).await.unwrap();
    assert_eq!(shed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&shed, "retry-after"),
        Some(1),
        "the store's wait, rounded up"
    );
    assert_eq!(header(&shed, "ratelimit-remaining"), Some(0));
    // Another client has its own quota.
    let other = fleet[0].clone().oneshot(from([10, 0, 0, 2])).await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_cap_sheds_on_the_other_server_until_the_body_ends() {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let limits = || LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    };
    let (tx, rx) = mpsc::unbounded::<Result<Frame<Bytes>, Infallible>>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    let streaming = tower::service_fn(move |_req: Request<()>| {
        let rx = rx.lock().unwrap().take().expect("called once");
        async move { Ok::<_, Infallible>(Response::new(StreamBody::new(rx))) }
    });
    let a = guard(&server.url(), limits(), FailurePolicy::Closed).layer(streaming);
    let b = guard(&server.url(), limits(), FailurePolicy::Closed).layer(tower::service_fn(ok));
    let held = a.oneshot(from([10, 0, 0, 1])).await.unwrap();
    assert_eq!(held.status(), StatusCode::OK);
    assert!(held.body().holds_permit());
    let shed = b.clone().oneshot(from([10, 0, 0, 1])).await.unwrap();
    assert_eq!(shed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&shed, "retry-after"), Some(1), "busy_retry_after");
    // The body ends: the lease goes back to the store.
    tx.unbounded_send(Ok(Frame::data(Bytes::from("done"))))
        .unwrap();
    drop(tx);
    assert_eq!(held.into_body().collect().await.unwrap().to_bytes(), "done");
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let resp = b.clone().oneshot(from([10, 0, 0, 1])).await.unwrap();
        if resp.status() == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lease was not released"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn with_the_store_down(policy: FailurePolicy) -> Vec<StatusCode> {
    let Some(mut server) = support::RedisServer::start() else {
        return Vec::new();
    };
    let limits = LimiterConfig {
        per_key_rate: vec![Quota::per_second(2).unwrap()],
        ..Default::default()
    };
    let svc = guard(&server.url(), limits, policy).layer(tower::service_fn(ok));
    assert_eq!(
        svc.clone()
            .oneshot(from([10, 0, 0, 1]))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    server.stop();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let start = std::time::Instant::now();
        let resp = tokio::time::timeout(
            Duration::from_secs(5),
            svc.clone().oneshot(from([10, 0, 0, 9])),
        )
        .await
        .expect("nothing hangs")
        .unwrap();
        assert!(
            start.elapsed() < Duration::from_millis(800),
            "{:?}",
            start.elapsed()
        );
        if resp.status() != StatusCode::OK {
            assert!(header(&resp, "retry-after").unwrap() >= 1);
        }
        statuses.push(resp.status());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_closed_sheds() {
    let s = with_the_store_down(FailurePolicy::Closed).await;
    assert!(
        s.is_empty() || s.iter().all(|&c| c == StatusCode::TOO_MANY_REQUESTS),
        "{s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_open_serves() {
    let s = with_the_store_down(FailurePolicy::Open).await;
    assert!(s.iter().all(|&c| c == StatusCode::OK), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_down_local_guards_in_memory() {
    // The in-memory limiter has the same quota: 2 per second, burst 2.
    let s = with_the_store_down(FailurePolicy::Local).await;
    assert!(
        s.is_empty()
            || s == [
                StatusCode::OK,
                StatusCode::OK,
                StatusCode::TOO_MANY_REQUESTS
            ],
        "{s:?}"
    );
}
