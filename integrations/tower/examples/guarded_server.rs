//! An axum server on 127.0.0.1 that sheds load per client IP.
//!
//! ```text
//! cargo run -p weir-limiter-tower --example guarded_server
//! curl -i http://127.0.0.1:3000/            # 200, RateLimit-* headers
//! for i in $(seq 12); do curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:3000/slow & done
//! ```
//! Each client may have 4 requests in flight and 10 per second (bursts of
//! 10); beyond that it gets `429` with `Retry-After` at once.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use weir::{LimiterConfig, Quota};
use weir_tower::GuardLayer;

#[tokio::main]
async fn main() {
    let guard = GuardLayer::new(LimiterConfig {
        concurrency: Some(256),
        per_key: Some(4),
        per_key_rate: vec![Quota::per_second(10).expect("valid quota")],
        ..Default::default()
    })
    .expect("valid limits");
    let limiter = guard.limiter().clone();
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "slow hello\n"
            }),
        )
        .route(
            "/stats",
            get(move || async move { format!("{:?}\n", limiter.stats()) }),
        )
        .layer(guard);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000")
        .await
        .expect("port 3000 free");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("bound")
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .expect("server runs");
}
