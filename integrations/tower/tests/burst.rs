//! A real axum server on 127.0.0.1 behind the guard, hit by a burst of 2,000
//! concurrent requests with a cap of 50 in flight.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::sync::{mpsc, watch};
use weir::LimiterConfig;
use weir_tower::GuardLayer;

const BURST: usize = 2_000;
const CAP: usize = 50;

#[derive(Default)]
struct Handler {
    active: AtomicUsize,
    max_active: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_2000_never_puts_more_than_50_in_the_handler() {
    let seen = Arc::new(Handler::default());
    let (open_gate, gate) = watch::channel(false);
    let guard = GuardLayer::new(LimiterConfig {
        concurrency: Some(CAP),
        ..Default::default()
    })
    .unwrap();
    let limiter = guard.limiter().clone();
    let handler = {
        let seen = seen.clone();
        move || {
            let (seen, mut gate) = (seen.clone(), gate.clone());
            async move {
                let now = seen.active.fetch_add(1, Ordering::SeqCst) + 1;
                seen.max_active.fetch_max(now, Ordering::SeqCst);
                // Hold the slot until the test has seen every rejection.
                gate.wait_for(|open| *open).await.unwrap();
                seen.active.fetch_sub(1, Ordering::SeqCst);
                "done"
            }
        }
    };
    let app = Router::new().route("/", get(handler)).layer(guard);

    // A deep accept backlog so that 2,000 connects do not wait on SYN retries.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = socket.listen(4_096).unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    for _ in 0..BURST {
        let (client, done_tx) = (client.clone(), done_tx.clone());
        tokio::spawn(async move {
            let resp = client.get(format!("http://{addr}/")).send().await.unwrap();
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = resp.text().await.unwrap();
            done_tx.send((status, retry_after, body)).unwrap();
        });
    }
    drop(done_tx);

    let run = async {
        let (mut ok, mut rejected) = (0, 0);
        while let Some((status, retry_after, body)) = done_rx.recv().await {
            match status {
                200 => {
                    assert_eq!(body, "done");
                    ok += 1;
                }
                429 => {
                    assert_eq!(
                        retry_after.as_deref(),
                        Some("1"),
                        "a Busy rejection's estimate"
                    );
                    assert!(body.contains("retry after 1 s"));
                    rejected += 1;
                    if rejected == BURST - CAP {
                        // Everyone else was turned away while 50 held the
                        // handler: now let them finish.
                        assert_eq!(seen.active.load(Ordering::SeqCst), CAP);
                        open_gate.send(true).unwrap();
                    }
                }
                other => panic!("unexpected status {other}"),
            }
        }
        (ok, rejected)
    };
    let (ok, rejected) = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("a request hung");
    assert_eq!((ok, rejected), (CAP, BURST - CAP));
    assert_eq!(seen.max_active.load(Ordering::SeqCst), CAP);
    let stats = limiter.stats();
    assert_eq!(
        (stats.in_flight, stats.keys),
        (0, 0),
        "every permit came back"
    );
}
