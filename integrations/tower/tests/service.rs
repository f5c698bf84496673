//! The guard driven directly as a tower `Service` (no sockets), on tokio's
//! paused clock: deterministic.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::FutureExt;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tower::{Layer, Service, ServiceExt};
use weir::{LimiterConfig, Quota};
use weir_tower::{GuardError, GuardLayer};

fn from(ip: [u8; 4]) -> Request<()> {
    let mut req = Request::new(());
    req.extensions_mut().insert(SocketAddr::from((ip, 40_000)));
    req
}

fn header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

/// A handler answering "ok" at once.
/// Waits until `svc` is ready, calls it with `req`, and unwraps the answer.
async fn send<S>(svc: &mut S, req: Request<()>) -> S::Response
where
    S: Service<Request<()>>,
    S::Error: std::fmt::Debug,
{
    svc.ready().await.unwrap().call(req).await.unwrap()
}

async fn ok(_req: Request<()>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from("ok"))))
}

#[tokio::test(start_paused = true)]
async fn the_permit_is_held_until_the_body_finishes_streaming() {
    type Chunks = mpsc::UnboundedReceiver<Result<Frame<Bytes>, Infallible>>;
    let (tx, rx) = mpsc::unbounded();
    let rx: Arc<Mutex<Option<Chunks>>> = Arc::new(Mutex::new(Some(rx)));
    let handler = tower::service_fn(move |_req: Request<()>| {
        let rx = rx.lock().unwrap().take();
        async move {
            // The first call streams from the channel; later ones are empty.
            let rx = rx.unwrap_or_else(|| mpsc::unbounded().1);
            Ok::<_, Infallible>(Response::new(StreamBody::new(rx)))
        }
    });
    let guard = GuardLayer::new(LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    })
    .unwrap();
    let limiter = guard.limiter().clone();
    let mut svc = guard.layer(handler);

    let resp = send(&mut svc, from([1, 2, 3, 4])).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.body().holds_permit());
    assert_eq!(
        limiter.stats().in_flight,
        1,
        "the handler returned, the body has not"
    );
    let second = send(&mut svc, from([1, 2, 3, 4])).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);

    tx.unbounded_send(Ok(Frame::data(Bytes::from("part"))))
        .unwrap();
    drop(tx);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"part");
    assert_eq!(
        limiter.stats().in_flight,
        0,
        "released at the end of the body"
    );
    let third = send(&mut svc, from([1, 2, 3, 4])).await;
    assert_eq!(third.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_client_gets_the_exact_retry_after() {
    let guard = GuardLayer::new(LimiterConfig {
        per_key: Some(5),
        per_key_rate: vec![Quota::new(2, Duration::from_secs(10)).unwrap()],
        ..Default::default()
    })
    .unwrap();
    let mut svc = guard.layer(tower::service_fn(ok));
    // With a quota set, the `RateLimit-*` figures are the core's exact rate
    // status (as the JS guard sends), not the in-flight cap of 5.
    for (remaining, reset) in [(1, 5), (0, 10)] {
        let resp = send(&mut svc, from([9, 9, 9, 9])).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(resp.headers(), "ratelimit-limit"), Some(2));
        assert_eq!(
            header(resp.headers(), "ratelimit-remaining"),
            Some(remaining)
        );
        assert_eq!(header(resp.headers(), "ratelimit-reset"), Some(reset));
        assert_eq!(resp.headers()["ratelimit-policy"], "2;w=10");
    }
    tokio::time::advance(Duration::from_millis(1_500)).await;
    // Two per 10 s, both spent at t=0: the next slot is at t=5 s, 3.5 s away.
    let resp = send(&mut svc, from([9, 9, 9, 9])).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(resp.headers(), "retry-after"),
        Some(4),
        "3.5 s rounds up"
    );
    // Full again at t=10 s: 8.5 s away, rounded up.
    assert_eq!(header(resp.headers(), "ratelimit-reset"), Some(9));
    assert_eq!(header(resp.headers(), "ratelimit-remaining"), Some(0));
    assert_eq!(header(resp.headers(), "ratelimit-limit"), Some(2));
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(std::str::from_utf8(&text)
        .unwrap()
        .contains("retry after 4 s"));
    // Another client is unaffected.
    let other = send(&mut svc, from([8, 8, 8, 8])).await;
    assert_eq!(other.status(), StatusCode::OK);
    // And the first is admitted again once the quota allows.
    tokio::time::advance(Duration::from_millis(3_500)).await;
    let resp = send(&mut svc, from([9, 9, 9, 9])).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_busy_client_gets_the_fixed_estimate_and_the_chosen_status() {
    let guard = GuardLayer::builder(LimiterConfig {
        concurrency: Some(1),
        ..Default::default()
    })
    .reject_status(StatusCode::SERVICE_UNAVAILABLE)
    .busy_retry_after(Duration::from_secs(3))
    .build()
    .unwrap();
    let mut svc = guard.layer(tower::service_fn(ok));
    let held = send(&mut svc, from([1, 1, 1, 1])).await;
    assert_eq!(header(held.headers(), "ratelimit-limit"), Some(1));
    assert_eq!(header(held.headers(), "ratelimit-remaining"), Some(0));
    let resp = send(&mut svc, from([2, 2, 2, 2])).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(resp.headers(), "retry-after"), Some(3));
    assert_eq!(header(resp.headers(), "ratelimit-limit"), Some(1));
    drop(held);
    let resp = send(&mut svc, from([2, 2, 2, 2])).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_bounded_wait_admits_when_room_frees_in_time_and_rejects_otherwise() {
    let guard = GuardLayer::builder(LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    })
    .max_wait(Duration::from_millis(100))
    .build()
    .unwrap();
    let limiter = guard.limiter().clone();
    let mut svc = guard.layer(tower::service_fn(ok));
    let held = send(&mut svc, from([5, 5, 5, 5])).await;

    // Room frees 60 ms in: the waiter gets it.
    let waiting = tokio::spawn(svc.ready().await.unwrap().call(from([5, 5, 5, 5])));
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(!waiting.is_finished());
    drop(held);
    let admitted = waiting.await.unwrap().unwrap();
    assert_eq!(admitted.status(), StatusCode::OK);

    // Nothing frees: rejected after the 100 ms, not before, not never.
    let start = tokio::time::Instant::now();
    let resp = send(&mut svc, from([5, 5, 5, 5])).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(
        limiter.stats().queued,
        0,
        "the timed-out waiter left the queue"
    );
    drop(admitted);
    assert_eq!(limiter.stats().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_beyond_the_wait_is_rejected_at_once() {
    let guard = GuardLayer::builder(LimiterConfig {
        per_key_rate: vec![Quota::new(1, Duration::from_secs(60)).unwrap()],
        ..Default::default()
    })
    .max_wait(Duration::from_millis(100))
    .build()
    .unwrap();
    let mut svc = guard.layer(tower::service_fn(ok));
    let ok = send(&mut svc, from([6, 6, 6, 6])).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let start = tokio::time::Instant::now();
    let resp = send(&mut svc, from([6, 6, 6, 6])).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no point waiting 100 ms for a 60 s quota"
    );
    assert_eq!(header(resp.headers(), "retry-after"), Some(60));
}

/// The core's rule (`weir::guard`): a wait that ends without a permit is
/// answered as the key stands then. Here a shared quota runs dry while the
/// request waits for its client's in-flight cap, so the answer is that
/// quota's `Retry-After`, not the busy estimate (as the JS guard answers).
#[tokio::test(start_paused = true)]
async fn a_fruitless_wait_is_answered_with_the_quota_that_now_denies() {
    let guard = GuardLayer::builder(LimiterConfig {
        per_key: Some(1),
        rate: vec![Quota::new(2, Duration::from_secs(60)).unwrap()],
        ..Default::default()
    })
    .max_wait(Duration::from_millis(100))
    .busy_retry_after(Duration::from_secs(1))
    .build()
    .unwrap();
    let mut svc = guard.layer(tower::service_fn(ok));
    // Holds client 8's one permit and takes one of the two tokens.
    let held = send(&mut svc, from([8, 8, 8, 8])).await;
    // Client 8 again: busy, so it waits (a token is still there).
    let waiting = tokio::spawn(svc.ready().await.unwrap().call(from([8, 8, 8, 8])));
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Client 9 takes the last token meanwhile.
    let other = send(&mut svc, from([9, 9, 9, 9])).await;
    assert_eq!(other.status(), StatusCode::OK);
    let resp = waiting.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = header(resp.headers(), "retry-after").unwrap();
    assert!(
        retry_after > 1,
        "the quota denies now: its wait ({retry_after} s), not the 1 s busy estimate"
    );
    drop((held, other));
}

#[tokio::test(start_paused = true)]
async fn handler_errors_release_the_permit() {
    let failing = tower::service_fn(|_req: Request<()>| async {
        Err::<Response<Full<Bytes>>, &'static str>("boom")
    });
    let guard = GuardLayer::new(LimiterConfig {
        concurrency: Some(1),
        ..Default::default()
    })
    .unwrap();
    let limiter = guard.limiter().clone();
    let mut svc = guard.layer(failing);
    for _ in 0..3 {
        let err = svc
            .ready()
            .await
            .unwrap()
            .call(from([7, 7, 7, 7]))
            .await
            .unwrap_err();
        assert_eq!(err, "boom");
        assert_eq!(limiter.stats().in_flight, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_named_header_keys_clients_behind_a_proxy() {
    let guard = GuardLayer::builder(LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    })
    .client_ip_header(http::HeaderName::from_static("x-forwarded-for"))
    .build()
    .unwrap();
    let mut svc = guard.layer(tower::service_fn(ok));
    let via_proxy = |client: &str| {
        let mut req = from([10, 0, 0, 1]); // the proxy
        req.headers_mut().insert(
            "x-forwarded-for",
            format!("{client}, 10.0.0.1").parse().unwrap(),
        );
        req
    };
    let a = send(&mut svc, via_proxy("203.0.113.1")).await;
    let b = send(&mut svc, via_proxy("203.0.113.2")).await;
    let a_again = send(&mut svc, via_proxy("203.0.113.1")).await;
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a_again.status(), StatusCode::TOO_MANY_REQUESTS);
    // No header: the peer address is the key.
    let direct = send(&mut svc, from([10, 0, 0, 1])).await;
    assert_eq!(direct.status(), StatusCode::OK);
}

#[test]
fn bad_configs_are_refused_at_construction() {
    let err = GuardLayer::new(LimiterConfig {
        concurrency: Some(0),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, GuardError::Limiter(e) if e.field == "concurrency"));
    assert!(err.to_string().contains("concurrency"), "{err}");
    let err = GuardLayer::new(LimiterConfig {
        per_key: Some(0),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("per_key"), "{err}");
    assert_eq!(
        GuardLayer::new(LimiterConfig::default()).unwrap_err(),
        GuardError::NoLimit
    );
    let err = GuardLayer::builder(LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    })
    .reject_status(StatusCode::OK)
    .build()
    .unwrap_err();
    assert_eq!(err, GuardError::RejectStatus(StatusCode::OK));
    assert!(err.to_string().contains("429"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_million_distinct_clients_leave_no_resident_keys() {
    let guard = GuardLayer::new(LimiterConfig {
        concurrency: Some(10_000),
        per_key: Some(2),
        per_key_rate: vec![Quota::per_second(5).unwrap()],
        ..Default::default()
    })
    .unwrap();
    let limiter = guard.limiter().clone();
    let mut svc = guard.layer(tower::service_fn(ok));
    let mut held = Vec::with_capacity(1_000);
    let mut most_rate_keys = 0;
    for batch in 0..1_000u32 {
        for i in 0..1_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(batch * 1_000 + i + 1));
            let mut req = Request::new(());
            req.extensions_mut().insert(SocketAddr::new(ip, 1));
            let resp = svc.call(req).now_or_never().unwrap().unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            held.push(resp);
        }
        let stats = limiter.stats();
        assert_eq!(
            (stats.in_flight, stats.keys),
            (1_000, 1_000),
            "the batch is in flight"
        );
        held.clear();
        most_rate_keys = most_rate_keys.max(stats.rate_keys);
        // 50 ms between batches: a key's bucket (5/s) is full again 200 ms
        // after its request, so about 4 batches' keys are live at a time.
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    let stats = limiter.stats();
    assert_eq!((stats.in_flight, stats.keys, stats.queued), (0, 0, 0));
    // Idle rate state is swept as the map grows: resident rate keys stay a
    // small multiple of the live ones, never the million seen.
    assert!(
        most_rate_keys <= 20_000,
        "rate keys peaked at {most_rate_keys}"
    );
    assert!(
        stats.rate_keys <= 20_000,
        "rate keys at the end: {}",
        stats.rate_keys
    );
    // Once every bucket is full again, an explicit sweep leaves nothing.
    tokio::time::advance(Duration::from_secs(1)).await;
    limiter.evict_idle();
    assert_eq!(limiter.stats().rate_keys, 0);
}

#[tokio::test(start_paused = true)]
async fn with_a_quota_even_a_busy_rejection_carries_the_exact_rate_figures() {
    let guard = GuardLayer::builder(LimiterConfig {
        per_key: Some(1),
        per_key_rate: vec![Quota::per_minute(10).unwrap()],
        ..Default::default()
    })
    .busy_retry_after(Duration::from_secs(2))
    .build()
    .unwrap();
    let mut svc = guard.layer(tower::service_fn(ok));
    let held = send(&mut svc, from([5, 5, 5, 5])).await;
    assert_eq!(header(held.headers(), "ratelimit-limit"), Some(10));
    assert_eq!(header(held.headers(), "ratelimit-remaining"), Some(9));
    assert_eq!(header(held.headers(), "ratelimit-reset"), Some(6));
    assert_eq!(held.headers()["ratelimit-policy"], "10;w=60");
    // At the in-flight cap of 1: busy, yet the quota still has 9 units, and
    // the headers say so (not the in-flight approximation's 0).
    let busy = send(&mut svc, from([5, 5, 5, 5])).await;
    assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(busy.headers(), "retry-after"), Some(2));
    assert_eq!(header(busy.headers(), "ratelimit-limit"), Some(10));
    assert_eq!(header(busy.headers(), "ratelimit-remaining"), Some(9));
    drop(held);
}
