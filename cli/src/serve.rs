//! `weir serve`: the local target server (127.0.0.1 only), the native twin
//! of bindings/js/server/target.js for the routes the demo and hand tests use.
//!
//! Routes: any path answers `Hello, World!` after a uniform random delay
//! in `--delay` (or 429 with `Retry-After: 1` at `--429-rate`);
//! `/delay?ms=N`; `/status/N[?retry-after=S]`; `/bytes?n=N`; `/echo`
//! (method, url, headers as JSON); `/__weir/stats` (`total`, `current`,
//! `maxConcurrent`, `uptimeMs`).
//!
//! With `--capacity N` the default route is a knee: at most N requests in
//! their delay at once, the rest wait their turn (FIFO), as in the JS server.
//!
//! Invariants: binds 127.0.0.1 only; `current` counts requests between
//! arrival and the end of their handler, whether answered or abandoned by
//! the client (a guard decrements it on drop); keep-alive on.

use std::cell::Cell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::args::ServeArgs;
use crate::row::json_string;

const HELLO: &str = "Hello, World!";

/// The server's counters.
#[derive(Debug)]
pub struct Stats {
    total: AtomicU64,
    current: AtomicU64,
    max: AtomicU64,
    started: Instant,
}

struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    fn arrive(&self) -> InFlight<'_> {
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = self.current.fetch_add(1, Ordering::Relaxed) + 1;
        self.max.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    fn json(&self) -> String {
        format!(
            "{{\"total\":{},\"current\":{},\"maxConcurrent\":{},\"uptimeMs\":{:.1},\"hosts\":{{}}}}",
            self.total.load(Ordering::Relaxed),
            // (this request included, as the JS server counts it)
            self.current.load(Ordering::Relaxed),
            self.max.load(Ordering::Relaxed),
            self.started.elapsed().as_secs_f64() * 1000.0
        )
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x7a26e7);
    h.finish() | 1
}

/// A uniform float in [0, 1) (xorshift64*).
fn random() -> f64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn int_param(query: Option<&str>, name: &str, default: u64, max: u64) -> u64 {
    query_param(query, name)
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(default, |v| v.min(max))
}

fn text(status: u16, body: impl Into<Bytes>, content_type: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("a valid response")
}

/// The server's options.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// Uniform delay range of the default route, in ms.
    pub delay_ms: (f64, f64),
    /// Share of default-route requests answered 429.
    pub rate_429: f64,
    /// At most this many default-route requests served at once (the rest
    /// wait in turn); `None`: no limit.
    pub capacity: Option<usize>,
}

async fn handle(
    req: Request<Incoming>,
    target: Target,
    stats: Arc<Stats>,
    service: Option<Arc<tokio::sync::Semaphore>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let _in_flight = stats.arrive();
    let path = req.uri().path();
    let query = req.uri().query();
    let resp = if let Some(code) = path.strip_prefix("/status/") {
        match code.parse::<u16>() {
            Ok(c) if (200..=599).contains(&c) => {
                let mut r = text(c, format!("status {c}"), "text/plain");
                if let Some(ra) = query_param(query, "retry-after") {
                    if let Ok(v) = ra.parse() {
                        r.headers_mut().insert("retry-after", v);
                    }
                }
                r
            }
            _ => text(400, "bad status", "text/plain"),
        }
    } else if path == "/delay" {
        tokio::time::sleep(Duration::from_millis(int_param(query, "ms", 0, 600_000))).await;
        text(200, HELLO, "text/plain")
    } else if path == "/bytes" {
        let n = int_param(query, "n", 0, 1 << 30) as usize;
        text(200, vec![b'a'; n], "application/octet-stream")
    } else if path == "/__weir/stats" {
        text(200, stats.json(), "application/json")
    } else if path == "/echo" {
        let mut body = String::from("{\"method\":");
        json_string(&mut body, req.method().as_str());
        body.push_str(",\"url\":");
        json_string(&mut body, &req.uri().to_string());
        body.push_str(",\"headers\":{");
        for (i, (k, v)) in req.headers().iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            json_string(&mut body, k.as_str());
            body.push(':');
            json_string(&mut body, &String::from_utf8_lossy(v.as_bytes()));
        }
        body.push_str("}}");
        text(200, body, "application/json")
    } else if target.rate_429 > 0.0 && random() < target.rate_429 {
        let mut r = text(429, "Too Many Requests", "text/plain");
        r.headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        r
    } else {
        let (lo, hi) = target.delay_ms;
        let delay = lo + random() * (hi - lo);
        // The knee: served in turn (tokio's semaphore is FIFO); the slot
        // comes back when the answer is made or the client goes away.
        let _slot = match &service {
            Some(s) => s.acquire().await.ok(),
            None => None,
        };
        if delay > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(delay / 1000.0)).await;
        }
        text(200, HELLO, "text/plain")
    };
    Ok(resp)
}

/// Binds 127.0.0.1:`port` (0: any free port) and serves until the returned
/// task is dropped or aborted. Returns the bound address.
pub async fn start(
    port: u16,
    target: Target,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats {
        total: AtomicU64::new(0),
        current: AtomicU64::new(0),
        max: AtomicU64::new(0),
        started: Instant::now(),
    });
    let service = target
        .capacity
        .map(|n| Arc::new(tokio::sync::Semaphore::new(n)));
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let stats = Arc::clone(&stats);
            let slots = service.clone();
            tokio::spawn(async move {
                let service =
                    service_fn(move |req| handle(req, target, Arc::clone(&stats), slots.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

/// `weir serve`: serves until SIGINT or SIGTERM; the exit code.
pub async fn run(args: ServeArgs) -> i32 {
    let target = Target {
        delay_ms: args.delay,
        rate_429: args.rate_429,
        capacity: args.capacity,
    };
    let (addr, task) = match start(args.port, target).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "weir serve: --port: cannot listen on 127.0.0.1:{} ({e})",
                args.port
            );
            return 2;
        }
    };
    let url = format!("http://{addr}");
    println!(
        "weir serve: listening on {url} (delay {}-{} ms, {}429 rate {}; stats at {url}/__weir/stats)",
        args.delay.0,
        args.delay.1,
        args.capacity
            .map_or(String::new(), |n| format!("capacity {n}, ")),
        args.rate_429
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            task.abort();
            return 0;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    task.abort();
    0
}
