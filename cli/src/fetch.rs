//! `weir fetch [FILE|-]`: URLs in (lazily), NDJSON rows out in completion
//! order, progress and a summary on stderr.
//!
//! Invariants:
//! - No limiting logic here: the window of URLs in flight is core's
//!   [`weir::limited_as_completed_stream`], every request goes through the
//!   [`weir_reqwest::LimitMiddleware`] (core's `Limiter` per host + core's
//!   retry controller). This file maps lines to requests and requests to rows.
//! - Every line worth a row gets exactly one row, whatever happens to it
//!   (bad URL, too long, network error, timeout, Ctrl-C); a row is written
//!   once its URL is done, never kept.
//! - Rows are buffered and written in batches: when 64 KiB are waiting, or
//!   when no other row is ready right now — so output is prompt and cheap.
//! - A closed stdout (`| head -1`) ends the run quietly: no more pulling,
//!   in-flight requests dropped, no summary, exit 0.

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use weir::adaptive::AdaptiveConfig;
use weir::LimiterConfig;
use weir_reqwest::{LimitMiddleware, RetryPolicy};

use crate::args::{Cap, FetchArgs, Progress as ProgressArg, AUTO_MAX};
use crate::lines::{Line, Lines, MAX_LINE};
use crate::names::save_path;
use crate::progress::{summary_lines, Mode, Progress, Sample, Summary};
use crate::row::Row;
use crate::signal::Signal;

/// What every URL's request needs.
pub struct Ctx {
    /// reqwest behind the limit middleware (and the attempt counter).
    pub client: ClientWithMiddleware,
    /// `--method`.
    pub method: reqwest::Method,
    /// `--header`s.
    pub headers: reqwest::header::HeaderMap,
    /// `--timeout`: per attempt, from admission to the end of the body.
    pub timeout: Option<Duration>,
    /// `--save DIR`.
    pub save: Option<PathBuf>,
    /// Fired by the second Ctrl-C (or a closed stdout): in-flight requests end.
    pub abort: Signal,
}

/// The attempts of one request, counted by [`CountAttempts`].
#[derive(Clone, Debug, Default)]
struct Attempts(Arc<AtomicU32>);

/// Counts the attempts that reach the network (inside the limit
/// middleware, so after admission and once per retry).
struct CountAttempts;

#[async_trait::async_trait]
impl Middleware for CountAttempts {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if let Some(a) = extensions.get::<Attempts>() {
            a.0.fetch_add(1, Ordering::Relaxed);
        }
        next.run(req, extensions).await
    }
}

/// How a request's error reads in its row.
fn describe(e: &reqwest_middleware::Error, timeout: Option<Duration>) -> String {
    match e {
        reqwest_middleware::Error::Reqwest(e) => describe_reqwest(e, timeout),
        reqwest_middleware::Error::Middleware(e) => format!("{e:#}"),
    }
}

fn describe_reqwest(e: &reqwest::Error, timeout: Option<Duration>) -> String {
    if e.is_timeout() {
        return match timeout {
            Some(t) => format!(
                "TimeoutError: no complete answer within --timeout ({} ms)",
                t.as_millis()
            ),
            None => "TimeoutError: timed out".to_owned(),
        };
    }
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The row of one input line: check, request (through the limiter), read
/// the body (to a file with `--save`).
pub async fn fetch_one(ctx: Arc<Ctx>, line: Line) -> Row {
    let started = Instant::now();
    let text = match line {
        Line::TooLong { prefix, bytes } => {
            return Row::failed(
                prefix,
                format!("line too long ({bytes} bytes; the limit is {MAX_LINE}, 1 MiB)"),
            )
        }
        Line::Url(text) => text,
    };
    let url = match reqwest::Url::parse(&text) {
        Err(_) => return Row::failed(text, "invalid URL"),
        Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
            let e = format!("unsupported protocol {}:", u.scheme());
            return Row::failed(text, e);
        }
        Ok(u) => u,
    };
    let attempts = Attempts::default();
    let outcome = tokio::select! {
        biased;
        () = ctx.abort.wait() => Err("AbortError: interrupted".to_owned()),
        r = request(&ctx, url, attempts.clone()) => r,
    };
    let (status, bytes, error) = match outcome {
        Ok((status, bytes)) => (Some(status), bytes, None),
        Err(e) => (None, 0, Some(e)),
    };
    Row {
        url: text,
        status,
        bytes,
        ms: started.elapsed().as_secs_f64() * 1000.0,
        attempts: attempts.0.load(Ordering::Relaxed),
        error,
    }
}

async fn request(ctx: &Ctx, url: reqwest::Url, attempts: Attempts) -> Result<(u16, u64), String> {
    let path = match &ctx.save {
        Some(dir) => Some(save_path(dir, url.as_str())?),
        None => None,
    };
    let mut req = ctx
        .client
        .request(ctx.method.clone(), url)
        .headers(ctx.headers.clone())
        .with_extension(attempts);
    if let Some(t) = ctx.timeout {
        req = req.timeout(t);
    }
    let mut resp = req.send().await.map_err(|e| describe(&e, ctx.timeout))?;
    let status = resp.status().as_u16();
    let mut file = match &path {
        Some(p) => Some(
            tokio::fs::File::create(p)
                .await
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let mut bytes = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| describe_reqwest(&e, ctx.timeout))?
    {
        bytes += chunk.len() as u64;
        if let Some(f) = &mut file {
            f.write_all(&chunk)
                .await
                .map_err(|e| format!("cannot write {}: {e}", path.as_ref().unwrap().display()))?;
        }
    }
    if let Some(f) = &mut file {
        f.flush().await.map_err(|e| format!("cannot write: {e}"))?;
    }
    Ok((status, bytes))
}

/// How the rows of a run end up.
pub enum Rows {
    /// Discarded (`weir demo`).
    None,
    /// Written to stdout or `--output`.
    To(Box<dyn AsyncWrite + Unpin + Send>),
}

/// How a run ended.
pub struct Outcome {
    /// The summary numbers.
    pub summary: Summary,
    /// The row output was closed under us (EPIPE).
    pub output_closed: bool,
    /// The row output failed otherwise.
    pub output_error: Option<std::io::Error>,
}

const BATCH: usize = 64 * 1024;

/// The pipeline shared by `weir fetch` and `weir demo`: `lines` (pulled
/// lazily, ended by `stop`) through core's `limited_as_completed` with
/// `window` in flight, rows to `rows`.
pub async fn fetch_all<S>(
    lines: S,
    ctx: Arc<Ctx>,
    window: usize,
    mut rows: Rows,
    progress: &Progress,
    stop: &Signal,
) -> Outcome
where
    S: Stream<Item = Line>,
{
    let stopper = stop.clone();
    let source = lines
        .take_until(async move { stopper.wait().await })
        .map(|line| fetch_one(Arc::clone(&ctx), line));
    let results = weir::limited_as_completed_stream(source, window).expect("window >= 1");
    let mut results = pin!(results);
    let mut buffer = String::with_capacity(BATCH + 4096);
    let mut output_closed = false;
    let mut output_error = None;
    loop {
        // A row ready now joins the batch; otherwise the batch goes out
        // before we wait.
        let next =
            match std::future::poll_fn(|cx| Poll::Ready(results.as_mut().poll_next(cx))).await {
                Poll::Ready(r) => r,
                Poll::Pending => {
                    if let Err(e) = flush(&mut rows, &mut buffer).await {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            output_closed = true;
                        } else {
                            output_error = Some(e);
                        }
                        break;
                    }
                    results.next().await
                }
            };
        let Some(row) = next else { break };
        progress.record(&row);
        if let Rows::To(_) = rows {
            row.write_to(&mut buffer);
            if buffer.len() >= BATCH {
                if let Err(e) = flush(&mut rows, &mut buffer).await {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        output_closed = true;
                    } else {
                        output_error = Some(e);
                    }
                    break;
                }
            }
        }
    }
    if !output_closed && output_error.is_none() {
        if let Err(e) = flush(&mut rows, &mut buffer).await {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                output_closed = true;
            } else {
                output_error = Some(e);
            }
        }
    }
    Outcome {
        summary: progress.finish(),
        output_closed,
        output_error,
    }
}

async fn flush(rows: &mut Rows, buffer: &mut String) -> std::io::Result<()> {
    if let Rows::To(out) = rows {
        if !buffer.is_empty() {
            out.write_all(buffer.as_bytes()).await?;
            buffer.clear();
        }
        out.flush().await?;
    }
    Ok(())
}

/// The limits of a run: `--concurrency` (`auto`: an adaptive cap up to
/// [`AUTO_MAX`]), `--per-host`, `--rate`, `--per-host-rate`.
pub fn limits_for(
    concurrency: Cap,
    per_host: Option<Cap>,
    rate: &[crate::values::Rate],
    per_host_rate: &[crate::values::Rate],
) -> LimiterConfig {
    LimiterConfig {
        concurrency: match concurrency {
            Cap::Fixed(n) => Some(n),
            Cap::Auto => None,
        },
        per_key: match per_host {
            Some(Cap::Fixed(n)) => Some(n),
            _ => None,
        },
        rate: rate.iter().map(|r| r.quota()).collect(),
        per_key_rate: per_host_rate.iter().map(|r| r.quota()).collect(),
        max_queue: None,
        // `auto`: the reqwest middleware reports every attempt to it.
        adaptive: (concurrency == Cap::Auto).then(|| AdaptiveConfig {
            max: AUTO_MAX as u32,
            ..AdaptiveConfig::default()
        }),
        // `--per-host auto`: one controller per host, reported the same way.
        per_key_adaptive: (per_host == Some(Cap::Auto)).then(|| AdaptiveConfig {
            max: AUTO_MAX as u32,
            ..AdaptiveConfig::default()
        }),
    }
}

/// The limit middleware and client for `limits`. With `shared` (fleet
/// mode, `--redis`) the shared limiter admits every attempt and the local
/// limiter keeps only what is this process's own: the adaptive caps of
/// `--concurrency auto` and `--per-host auto` and the `Retry-After` pauses
/// of the retry logic.
pub fn client_for(
    limits: LimiterConfig,
    retries: u32,
    shared: Option<Arc<weir_redis::SharedLimiter>>,
) -> Result<(ClientWithMiddleware, LimitMiddleware), String> {
    let config = match shared {
        None => limits,
        Some(_) => LimiterConfig {
            adaptive: limits.adaptive,
            per_key_adaptive: limits.per_key_adaptive,
            ..LimiterConfig::default()
        },
    };
    let retry = RetryPolicy {
        attempts: retries + 1,
        ..RetryPolicy::default()
    };
    let limits = LimitMiddleware::builder(config)
        .retry(retry.clone())
        .build()
        .map_err(|e| format!("{}: {}", e.field, e.problem))?;
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let mut client = reqwest_middleware::ClientBuilder::new(http).with(limits.clone());
    if let Some(shared) = shared {
        client = client.with(crate::fleet::SharedLimits::new(shared, &retry));
    }
    Ok((client.with(CountAttempts).build(), limits))
}

/// The progress sampler: the limiter's and the retry controller's figures.
pub fn sampler(limits: &LimitMiddleware) -> Arc<dyn Fn() -> Sample + Send + Sync> {
    let limits = limits.clone();
    Arc::new(move || {
        let l = limits.limiter().stats();
        let mut s = Sample {
            in_flight: l.in_flight,
            queued: l.queued,
            ..Sample::default()
        };
        let mut hosts = limits.all_host_stats();
        for (_, h) in &hosts {
            s.retries += h.retried;
            s.status_429 += h.status_429;
        }
        hosts.retain(|(_, h)| h.queued > 0);
        hosts.sort_by_key(|(_, h)| std::cmp::Reverse(h.queued));
        s.busiest = hosts
            .into_iter()
            .take(3)
            .map(|(k, h)| (k, h.queued))
            .collect();
        s
    })
}

/// Installs Ctrl-C handling: the first press fires `stop` (no new URLs),
/// the second fires `abort` (in-flight requests too).
pub fn on_interrupt(
    progress: &Progress,
    stop: &Signal,
    abort: &Signal,
) -> tokio::task::JoinHandle<()> {
    let (progress, stop, abort) = (progress.clone(), stop.clone(), abort.clone());
    tokio::spawn(async move {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            if progress.interrupt() == 1 {
                progress
                    .note("interrupted: finishing in-flight requests (Ctrl-C again to abort them)");
                stop.fire();
            } else {
                progress.note("aborting in-flight requests");
                abort.fire();
                return;
            }
        }
    })
}

/// Counts the URL lines of a regular file in the background (for the
/// progress total); gives up when `cancel` is set.
fn count_lines(path: &Path, progress: &Progress, cancel: Arc<AtomicBool>) {
    let path = path.to_owned();
    let progress = progress.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let Ok(mut f) = std::fs::File::open(&path) else {
            return;
        };
        let mut buf = vec![0u8; 1 << 20];
        let (mut count, mut at_start, mut content) = (0u64, true, false);
        loop {
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(_) => return,
            };
            for &b in &buf[..n] {
                if b == b'\n' {
                    count += u64::from(content);
                    at_start = true;
                    content = false;
                } else if at_start && b != b' ' && b != b'\t' && b != b'\r' {
                    at_start = false;
                    content = b != b'#';
                }
            }
        }
        progress.set_total(count + u64::from(content));
    });
}

/// A usage error of `weir fetch` found after parsing (exit 2).
fn usage_error(message: String) -> i32 {
    eprintln!("weir fetch: {message}");
    2
}

/// The lines of the input, pulled lazily.
fn line_stream(reader: Box<dyn AsyncRead + Unpin + Send>) -> impl Stream<Item = Line> {
    futures_util::stream::unfold(Lines::new(reader), |mut lines| async move {
        match lines.next().await {
            Ok(Some(line)) => Some((line, lines)),
            Ok(None) => None,
            Err(e) => {
                eprintln!("weir fetch: input: read error ({e}); stopping");
                None
            }
        }
    })
}

/// `weir fetch` with parsed options; the exit code.
pub async fn run(args: FetchArgs) -> i32 {
    if let Some(dir) = &args.save {
        if dir.exists() && !dir.is_dir() {
            return usage_error(format!(
                "--save: {} exists and is not a directory",
                dir.display()
            ));
        }
        if let Err(e) = std::fs::create_dir_all(dir) {
            return usage_error(format!("--save: cannot create {} ({e})", dir.display()));
        }
    }
    let save = match &args.save {
        Some(dir) => match std::fs::canonicalize(dir) {
            Ok(d) => Some(d),
            Err(e) => return usage_error(format!("--save: {} ({e})", dir.display())),
        },
        None => None,
    };
    let reader: Box<dyn AsyncRead + Unpin + Send> = if args.input == "-" {
        Box::new(tokio::io::stdin())
    } else {
        let path = Path::new(&args.input);
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                return usage_error(format!(
                    "{}: is a directory (FILE must be a file of URLs, or - for stdin)",
                    args.input
                ))
            }
            Ok(_) => {}
            Err(e) => return usage_error(format!("{}: cannot read ({e})", args.input)),
        }
        match tokio::fs::File::open(path).await {
            Ok(f) => Box::new(f),
            Err(e) => return usage_error(format!("{}: cannot read ({e})", args.input)),
        }
    };
    let limits = limits_for(
        args.concurrency,
        args.per_host,
        &args.rate,
        &args.per_host_rate,
    );
    let shared = match &args.redis {
        None => None,
        Some(url) => {
            let prefix = args.redis_prefix.as_deref().unwrap_or("weir:");
            let policy = args.redis_policy.unwrap_or_default();
            // The adaptive caps of `auto` stay this process's own (fed by
            // its own answers): the fleet shares no such cap then.
            let fleet = LimiterConfig {
                adaptive: None,
                per_key_adaptive: None,
                ..limits.clone()
            };
            match crate::fleet::connect(url, prefix, policy, fleet).await {
                Ok(s) => Some(s),
                Err(e) => return usage_error(e),
            }
        }
    };
    let out: Box<dyn AsyncWrite + Unpin + Send> = match &args.output {
        Some(p) => match tokio::fs::File::create(p).await {
            Ok(f) => Box::new(f),
            Err(e) => return usage_error(format!("--output: cannot write {} ({e})", p.display())),
        },
        None => Box::new(tokio::io::stdout()),
    };
    let (client, limits) = match client_for(limits, args.retries, shared) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in &args.header {
        match (
            reqwest::header::HeaderName::from_bytes(k.as_bytes()),
            reqwest::header::HeaderValue::from_str(v),
        ) {
            (Ok(k), Ok(v)) => {
                headers.append(k, v);
            }
            _ => return usage_error(format!("--header: not a valid header: '{k}: {v}'")),
        }
    }
    let method = match reqwest::Method::from_bytes(args.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return usage_error(format!("--method: not a valid method: '{}'", args.method)),
    };
    let stop = Signal::default();
    let abort = Signal::default();
    let ctx = Arc::new(Ctx {
        client,
        method,
        headers,
        timeout: args.timeout.0,
        save,
        abort: abort.clone(),
    });
    let mode = match args.progress {
        ProgressArg::Auto => {
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                Mode::Bar
            } else {
                Mode::Lines
            }
        }
        ProgressArg::Bar => Mode::Bar,
        ProgressArg::Lines => Mode::Lines,
        ProgressArg::None => Mode::None,
    };
    let progress = Progress::new(mode, sampler(&limits));
    let cancel_count = Arc::new(AtomicBool::new(false));
    if args.input != "-" {
        count_lines(Path::new(&args.input), &progress, Arc::clone(&cancel_count));
    }
    let period = std::env::var("WEIR_PROGRESS_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(if mode == Mode::Bar {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        });
    let reporter = progress.spawn_reporter(period);
    let interrupts = on_interrupt(&progress, &stop, &abort);
    let window = if args.keyed() {
        args.concurrency.max() * 2
    } else {
        args.concurrency.max()
    };
    let outcome = fetch_all(
        line_stream(reader),
        Arc::clone(&ctx),
        window,
        Rows::To(out),
        &progress,
        &stop,
    )
    .await;
    cancel_count.store(true, Ordering::Relaxed);
    if let Some(r) = reporter {
        r.abort();
    }
    interrupts.abort();
    if outcome.output_closed {
        abort.fire();
        return 0;
    }
    if let Some(e) = outcome.output_error {
        eprintln!("weir fetch: cannot write the rows ({e})");
        return 1;
    }
    for line in summary_lines(&outcome.summary) {
        eprintln!("weir: {line}");
    }
    if outcome.summary.interrupted {
        130
    } else {
        0
    }
}
