//! weir-reqwest against a real HTTP server on 127.0.0.1 (two ports = two
//! hosts). The server counts concurrent requests per `Host` and can answer
//! 429 + `Retry-After` (seconds or date), 503, slow or gated bodies.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::sync::Notify;
use weir::LimiterConfig;
use weir_reqwest::{BudgetPolicy, LimitMiddleware, RetryPolicy};

#[derive(Default)]
struct HostLog {
    in_flight: usize,
    max_in_flight: usize,
    hits: usize,
    arrivals: Vec<(Instant, String)>,
}

#[derive(Default)]
struct Server {
    hosts: Mutex<HashMap<String, HostLog>>,
    gate: Notify,
}

impl Server {
    fn log<R>(&self, host: &str, f: impl FnOnce(&mut HostLog) -> R) -> R {
        f(self
            .hosts
            .lock()
            .unwrap()
            .entry(host.to_owned())
            .or_default())
    }
    fn hits(&self, host: &str) -> usize {
        self.log(host, |l| l.hits)
    }
    fn max_in_flight(&self, host: &str) -> usize {
        self.log(host, |l| l.max_in_flight)
    }
    fn arrivals(&self, host: &str) -> Vec<(Instant, String)> {
        self.log(host, |l| l.arrivals.clone())
    }
}

/// Counts the request in flight until dropped.
struct InFlight {
    server: Arc<Server>,
    host: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.server.log(&self.host, |l| l.in_flight -= 1);
    }
}

async fn handle(State(server): State<Arc<Server>>, req: Request<Body>) -> Response {
    let host = req.headers()["host"].to_str().unwrap().to_owned();
    let path = req.uri().path().to_owned();
    let (in_flight, hits) = server.log(&host, |l| {
        l.in_flight += 1;
        l.max_in_flight = l.max_in_flight.max(l.in_flight);
        l.hits += 1;
        l.arrivals.push((Instant::now(), path.clone()));
        (l.in_flight, l.hits)
    });
    let guard = InFlight {
        server: server.clone(),
        host: host.clone(),
    };
    let plain = |status: StatusCode, headers: &[(&str, String)]| {
        let mut resp = Response::builder().status(status);
        for (name, value) in headers {
            resp = resp.header(*name, value);
        }
        resp.body(Body::from("done")).unwrap()
    };
    match path.as_str() {
        "/ok" => plain(StatusCode::OK, &[]),
        "/503" => plain(StatusCode::SERVICE_UNAVAILABLE, &[]),
        "/429-once" if hits == 1 => plain(
            StatusCode::TOO_MANY_REQUESTS,
            &[("retry-after", "1".into())],
        ),
        "/429-date-once" if hits == 1 => {
            let at = SystemTime::now() + Duration::from_secs(2);
            plain(
                StatusCode::TOO_MANY_REQUESTS,
                &[("retry-after", httpdate::fmt_http_date(at))],
            )
        }
        "/429-hour-once" if hits == 1 => plain(
            StatusCode::TOO_MANY_REQUESTS,
            &[("retry-after", "3600".into())],
        ),
        "/429-once" | "/429-date-once" | "/429-hour-once" => plain(StatusCode::OK, &[]),
        // Three chunks, 10 ms apart; counted in flight until the last is out.
        "/slow" => {
            let chunks = futures::stream::unfold((0, Some(guard)), |(i, mut guard)| async move {
                if i == 3 {
                    drop(guard.take());
                    return None;
                }
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Some((
                    Ok::<_, Infallible>(Bytes::from_static(b"chunk")),
                    (i + 1, guard),
                ))
            });
            Response::new(Body::from_stream(chunks))
        }
        // Headers at once; the body ends when `n` requests of this host are
        // in flight together (the gate opens for all).
        "/gated" => {
            let n: usize = req
                .uri()
                .query()
                .unwrap()
                .trim_start_matches("n=")
                .parse()
                .unwrap();
            let srv = server.clone();
            if in_flight >= n {
                server.gate.notify_waiters();
            }
            let chunks = futures::stream::once(async move {
                let opened = srv.gate.notified();
                tokio::pin!(opened);
                opened.as_mut().enable();
                if srv.log(&guard.host, |l| l.in_flight) < n {
                    opened.await;
                }
                srv.gate.notify_waiters();
                drop(guard);
                Ok::<_, Infallible>(Bytes::from_static(b"gated"))
            });
            Response::new(Body::from_stream(chunks))
        }
        other => panic!("unexpected path {other}"),
    }
}

/// Starts the server on two ports; returns it and the two `host:port`s.
async fn serve() -> (Arc<Server>, String, String) {
    let server = Arc::new(Server::default());
    let app = Router::new().fallback(handle).with_state(server.clone());
    let mut hosts = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let app = app.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        hosts.push(addr.to_string());
    }
    let b = hosts.pop().unwrap();
    let a = hosts.pop().unwrap();
    (server, a, b)
}

fn client(mw: &LimitMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(mw.clone())
        .build()
}

/// Up to 3 retries (4 attempts), fast back-off.
fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_secs(5),
        ..RetryPolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_in_flight_never_exceeds_per_key_while_bodies_are_read() {
    let (server, a, b) = serve().await;
    let mw = LimitMiddleware::new(LimiterConfig {
        per_key: Some(2),
        ..Default::default()
    })
    .unwrap();
    let http = client(&mw);
    let mut tasks = Vec::new();
    for host in [&a, &b] {
        for _ in 0..12 {
            let (http, url) = (http.clone(), format!("http://{host}/slow"));
            tasks.push(tokio::spawn(async move {
                let body = http.get(url).send().await.unwrap().bytes().await.unwrap();
                assert_eq!(&body[..], b"chunkchunkchunk");
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    for host in [&a, &b] {
        assert_eq!(server.hits(host), 12);
        assert_eq!(server.max_in_flight(host), 2, "host {host}");
        assert_eq!(mw.host_stats(host).in_flight, 0);
        assert_eq!(mw.host_stats(host).sent, 12);
    }
    assert_eq!(mw.limiter().stats().in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_permit_lives_until_the_body_is_read_or_dropped() {
    let (_server, a, _) = serve().await;
    let mw = LimitMiddleware::new(LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    })
    .unwrap();
    let http = client(&mw);
    let resp = http.get(format!("http://{a}/slow")).send().await.unwrap();
    assert_eq!(
        resp.url().as_str(),
        format!("http://{a}/slow"),
        "URL survives the body swap"
    );
    assert_eq!(
        mw.host_stats(&a).in_flight,
        1,
        "headers are in, body is not read yet"
    );
    assert_eq!(resp.bytes().await.unwrap().len(), 15);
    assert_eq!(mw.host_stats(&a).in_flight, 0);

    let resp = http.get(format!("http://{a}/slow")).send().await.unwrap();
    assert_eq!(mw.host_stats(&a).in_flight, 1);
    drop(resp);
    assert_eq!(
        mw.host_stats(&a).in_flight,
        0,
        "dropping the response releases"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_at_headers_lets_bodies_overlap() {
    let (server, a, _) = serve().await;
    let mw = LimitMiddleware::builder(LimiterConfig {
        per_key: Some(2),
        ..Default::default()
    })
    .release_at_headers(true)
    .build()
    .unwrap();
    let http = client(&mw);
    // Every body ends only once 6 requests are in flight at the server at
    // once: possible only because permits go back at the headers.
    let all = futures::future::join_all((0..6).map(|_| {
        let http = http.clone();
        let url = format!("http://{a}/gated?n=6");
        async move {
            let resp = http.get(url).send().await.unwrap();
            resp.bytes().await.unwrap()
        }
    }));
    let bodies = tokio::time::timeout(Duration::from_secs(20), all)
        .await
        .expect("bodies hung");
    assert!(bodies.iter().all(|b| &b[..] == b"gated"));
    assert_eq!(server.max_in_flight(&a), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_seconds_pauses_the_host_while_others_are_served() {
    let (server, a, b) = serve().await;
    let mw = LimitMiddleware::builder(LimiterConfig::default())
        .retry(fast_retries())
        .build()
        .unwrap();
    let http = client(&mw);
    let first = tokio::spawn({
        let http = http.clone();
        let url = format!("http://{a}/429-once");
        async move { http.get(url).send().await.unwrap().status() }
    });
    // Once the 429 is counted, the pause is in force.
    while mw.host_stats(&a).status_429 == 0 {
        tokio::task::yield_now().await;
    }
    let queued: Vec<_> = (0..3)
        .map(|_| {
            let (http, url) = (http.clone(), format!("http://{a}/429-once"));
            tokio::spawn(async move { http.get(url).send().await.unwrap().status() })
        })
        .collect();
    for _ in 0..5 {
        let resp = http.get(format!("http://{b}/ok")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    assert_eq!(
        first.await.unwrap(),
        StatusCode::OK,
        "retried after the pause"
    );
    for task in queued {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }

    let a_arrivals = server.arrivals(&a);
    assert_eq!(a_arrivals.len(), 5, "the 429, its retry, and 3 queued");
    let t429 = a_arrivals[0].0;
    for (t, _) in &a_arrivals[1..] {
        assert!(
            *t - t429 >= Duration::from_secs(1),
            "host A was sent to {:?} after its 429",
            *t - t429
        );
    }
    let next_a = a_arrivals[1..].iter().map(|(t, _)| *t).min().unwrap();
    let b_arrivals = server.arrivals(&b);
    assert_eq!(b_arrivals.len(), 5);
    assert!(
        b_arrivals.iter().all(|(t, _)| *t < next_a),
        "host B waited for host A's pause"
    );
    let stats = mw.host_stats(&a);
    assert_eq!((stats.status_429, stats.retried, stats.sent), (1, 1, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_as_an_http_date_is_honoured() {
    let (server, a, _) = serve().await;
    let mw = LimitMiddleware::builder(LimiterConfig::default())
        .retry(fast_retries())
        .build()
        .unwrap();
    let resp = client(&mw)
        .get(format!("http://{a}/429-date-once"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let arrivals = server.arrivals(&a);
    assert_eq!(arrivals.len(), 2);
    // The date (now + 2 s) has whole-second precision: at least 1 s remains.
    assert!(arrivals[1].0 - arrivals[0].0 >= Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_capped_by_max_delay() {
    let (server, a, _) = serve().await;
    // (Core wants max_delay >= base_delay.)
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        ..fast_retries()
    };
    let mw = LimitMiddleware::builder(LimiterConfig::default())
        .retry(policy)
        .build()
        .unwrap();
    // The server asks for an hour; the cap makes it a millisecond (the
    // timeout only catches a hang, it is 120 times shorter than the hour).
    let send = client(&mw).get(format!("http://{a}/429-hour-once")).send();
    let resp = tokio::time::timeout(Duration::from_secs(30), send)
        .await
        .expect("the cap was ignored")
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(server.hits(&a), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_requests_are_retried_up_to_max_retries() {
    let (server, a, _) = serve().await;
    let policy = RetryPolicy {
        budget: BudgetPolicy {
            min_per_window: 100,
            ..BudgetPolicy::default()
        },
        ..fast_retries()
    };
    let mw = LimitMiddleware::builder(LimiterConfig::default())
        .retry(policy)
        .build()
        .unwrap();
    let http = client(&mw);
    let resp = http.get(format!("http://{a}/503")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.hits(&a), 1 + 3);
    let resp = http
        .put(format!("http://{a}/503"))
        .body("same bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.hits(&a), 2 * (1 + 3));
    assert_eq!(mw.host_stats(&a).retried, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_and_streamed_bodies_are_not_retried() {
    let (server, a, _) = serve().await;
    let mw = LimitMiddleware::builder(LimiterConfig::default())
        .retry(fast_retries())
        .build()
        .unwrap();
    let http = client(&mw);
    let resp = http
        .post(format!("http://{a}/503"))
        .body("once")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.hits(&a), 1);
    // PUT is idempotent, but a streamed body cannot be sent twice.
    let streamed = reqwest::Body::wrap(String::from("stream"));
    let resp = http
        .put(format!("http://{a}/503"))
        .body(streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.hits(&a), 2);
    assert_eq!(mw.host_stats(&a).retried, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_caps_amplification() {
    let (server, a, _) = serve().await;
    let policy = RetryPolicy {
        budget: BudgetPolicy {
            ratio: 0.1,
            min_per_window: 2,
            window: Duration::from_secs(60),
        },
        ..fast_retries()
    };
    let mw = LimitMiddleware::builder(LimiterConfig::default())
        .retry(policy)
        .build()
        .unwrap();
    let http = client(&mw);
    for _ in 0..20 {
        let resp = http.get(format!("http://{a}/503")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    // 2 + 10 % of 20 requests = 4 retries, where 3 per request would be 60.
    assert_eq!(mw.host_stats(&a).retried, 4);
    assert_eq!(server.hits(&a), 20 + 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_errors_are_retried_for_idempotent_methods_only() {
    // A port nobody listens on: connection refused, at once.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mw = LimitMiddleware::builder(LimiterConfig::default())
        .retry(fast_retries())
        .build()
        .unwrap();
    let http = client(&mw);
    let key = closed.to_string();
    assert!(http.get(format!("http://{closed}/")).send().await.is_err());
    assert_eq!(
        (mw.host_stats(&key).sent, mw.host_stats(&key).retried),
        (4, 3)
    );
    assert!(http
        .post(format!("http://{closed}/"))
        .body("x")
        .send()
        .await
        .is_err());
    assert_eq!(mw.host_stats(&key).sent, 5);
    assert_eq!(mw.limiter().stats().in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_key_groups_hosts() {
    let (server, a, b) = serve().await;
    let mw = LimitMiddleware::builder(LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    })
    .key_fn(|_| "everyone".to_owned())
    .build()
    .unwrap();
    let http = client(&mw);
    let all = (0..4).map(|i| {
        let http = http.clone();
        let url = format!("http://{}/slow", if i % 2 == 0 { &a } else { &b });
        async move { http.get(url).send().await.unwrap().bytes().await.unwrap() }
    });
    futures::future::join_all(all).await;
    assert_eq!(mw.host_stats("everyone").sent, 4);
    // One permit for both hosts: never more than one in flight anywhere.
    assert_eq!(server.max_in_flight(&a), 1);
    assert_eq!(server.max_in_flight(&b), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_stats_carry_core_latency_percentiles_and_queue_figures() {
    let (_server, a, _) = serve().await;
    let mw = LimitMiddleware::new(LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(mw.host_stats(&a).p50, None, "no sample yet");
    let http = client(&mw);
    let held = http.get(format!("http://{a}/slow")).send().await.unwrap();
    // A second request for the host waits for the permit: counted queued.
    let waiting = tokio::spawn({
        let (http, url) = (http.clone(), format!("http://{a}/ok"));
        async move { http.get(url).send().await.unwrap().status() }
    });
    while mw.host_stats(&a).queued == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(mw.host_stats(&a).in_flight, 1);
    drop(held);
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);
    let stats = mw.host_stats(&a);
    assert_eq!((stats.queued, stats.sent), (0, 2));
    assert!(stats.p50.is_some() && stats.p99 >= stats.p50);
    assert_eq!(mw.all_host_stats().len(), 1);
}

#[test]
fn bad_retry_options_are_refused_naming_the_field() {
    let build = |policy: RetryPolicy| {
        LimitMiddleware::builder(LimiterConfig::default())
            .retry(policy)
            .build()
            .unwrap_err()
            .field
    };
    let mut p = RetryPolicy::default();
    p.budget.ratio = f64::NAN;
    assert_eq!(build(p), "retry.budget.ratio");
    let mut p = RetryPolicy::default();
    p.budget.window = Duration::ZERO;
    assert_eq!(build(p), "retry.budget.window");
    let p = RetryPolicy {
        max_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    assert_eq!(build(p), "retry.max_delay");
}

/// With `LimiterConfig::adaptive`, every attempt is reported: each 503 of a
/// request sent after the last cut lowers the cap (×0.8), through the
/// limiter's runtime limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_answers_lower_an_adaptive_cap() {
    let (_server, a, _) = serve().await;
    let config = LimiterConfig {
        adaptive: Some(weir::adaptive::AdaptiveConfig {
            min: 1,
            max: 100,
            initial: 10,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mw = LimitMiddleware::builder(config)
        .retry(RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let http = client(&mw);
    assert_eq!(mw.limiter().limits().0, Some(10));
    for want in [8, 6, 5] {
        let resp = http.get(format!("http://{a}/503")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(mw.limiter().adaptive_stats().unwrap().limit, want);
        assert_eq!(mw.limiter().limits().0, Some(want as usize));
    }
    // Overload answers carry no RTT; a served one does not lower the cap.
    assert_eq!(mw.limiter().adaptive_stats().unwrap().sample_rtt, None);
    http.get(format!("http://{a}/ok")).send().await.unwrap();
    assert_eq!(mw.limiter().adaptive_stats().unwrap().limit, 5);
}

/// With `LimiterConfig::per_key_adaptive`, every attempt is reported with
/// its host: 503s from one host lower that host's cap only, and the
/// limiter enforces it (a third request to the host waits while two run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_answers_lower_only_their_hosts_adaptive_cap() {
    let (_server, a, b) = serve().await;
    let config = LimiterConfig {
        per_key_adaptive: Some(weir::adaptive::AdaptiveConfig {
            min: 1,
            max: 100,
            initial: 4,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mw = LimitMiddleware::builder(config)
        .retry(RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let http = client(&mw);
    let limiter = mw.limiter();
    // The default key is `host:port`: the two listeners are two hosts.
    let (key_a, key_b) = (a.clone(), b.clone());
    for want in [3, 2] {
        let resp = http.get(format!("http://{a}/503")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(limiter.key_limit(&key_a), Some(want));
        assert_eq!(limiter.adaptive_stats_of(&key_a).unwrap().limit, want);
    }
    assert_eq!(
        limiter.key_limit(&key_b),
        Some(4),
        "the other host keeps its cap"
    );
    http.get(format!("http://{b}/ok")).send().await.unwrap();
    assert_eq!(limiter.key_limit(&key_b), Some(4));
    assert_eq!(limiter.adaptive_stats(), None, "no global adaptive cap");
    // The cap is enforced: with 2 held on host a, a third acquire is refused.
    let held: Vec<_> = (0..2)
        .map(|_| limiter.try_acquire(key_a.clone(), 1).unwrap())
        .collect();
    assert!(limiter.try_acquire(key_a.clone(), 1).is_err());
    drop(held);
}
