//! `weir demo`: the seed scenario. A local server answers "Hello, World!"
//! after a random delay (0–300 ms by default); N requests (default 100,000)
//! go through the `weir fetch` pipeline with L in flight (default 1,000).
//! Prints requests/s, the Little's-law bound (in flight ÷ mean latency),
//! the server-delay bound (in flight ÷ mean server delay), client CPU per
//! request and peak RSS — the same report as the JS CLI's `weir demo`.
//!
//! Invariants: the pipeline is `fetch::fetch_all`, unchanged (rows
//! discarded); with `--target URL` no server is started and the figures
//! are the client's alone (what `npm run demo` compares across CLIs).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::args::{DemoArgs, ServerMode};
use crate::fetch::{self, Ctx, Rows};
use crate::lines::Line;
use crate::progress::{summary_lines, Mode, Progress};
use crate::row::json_string;
use crate::serve::{self, Target};
use crate::signal::Signal;
use crate::usage;

enum Server {
    External,
    Child(tokio::process::Child),
    InProcess(tokio::task::JoinHandle<()>),
}

async fn start_server(args: &DemoArgs) -> Result<(String, Server), String> {
    if let Some(url) = &args.target {
        return Ok((url.clone(), Server::External));
    }
    let (lo, hi) = args.delay;
    match args.server {
        ServerMode::InProcess => {
            let (addr, task) = serve::start(
                0,
                Target {
                    delay_ms: (lo, hi),
                    rate_429: 0.0,
                    capacity: None,
                },
            )
            .await
            .map_err(|e| format!("cannot start the server: {e}"))?;
            Ok((format!("http://{addr}"), Server::InProcess(task)))
        }
        ServerMode::Child => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
            let mut child = tokio::process::Command::new(exe)
                .args(["serve", "--port", "0", "--delay", &format!("{lo}-{hi}ms")])
                .stdout(Stdio::piped())
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start the server: {e}"))?;
            let out = child.stdout.take().expect("piped");
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                    return Ok((url, Server::Child(child)));
                }
            }
            Err("the server exited before listening".to_owned())
        }
    }
}

/// `maxConcurrent` from the server's `/__weir/stats`.
async fn server_max_concurrent(url: &str) -> Option<u64> {
    let body = reqwest::get(format!("{url}/__weir/stats"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let at = body.find("\"maxConcurrent\":")? + "\"maxConcurrent\":".len();
    let digits: String = body[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `weir demo` with parsed options; the exit code.
pub async fn run(args: DemoArgs) -> i32 {
    let (lo, hi) = args.delay;
    let where_ = match (&args.target, args.server) {
        (Some(url), _) => url.clone(),
        (None, ServerMode::Child) => "child".to_owned(),
        (None, ServerMode::InProcess) => "in-process".to_owned(),
    };
    if !args.json {
        eprintln!(
            "weir demo: {} requests, {} in flight, server delay {lo}-{hi} ms ({where_})",
            args.requests, args.concurrency
        );
    }
    let (url, server) = match start_server(&args).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("weir demo: {e}");
            return 1;
        }
    };
    let (client, limits) = match fetch::client_for(
        fetch::limits_for(crate::args::Cap::Fixed(args.concurrency), None, &[], &[]),
        0,
        None,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("weir demo: {e}");
            return 1;
        }
    };
    let stop = Signal::default();
    let abort = Signal::default();
    let ctx = Arc::new(Ctx {
        client,
        method: reqwest::Method::GET,
        headers: Default::default(),
        timeout: Some(Duration::from_secs(60)),
        save: None,
        abort: abort.clone(),
    });
    let mode = if args.json {
        Mode::None
    } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Mode::Bar
    } else {
        Mode::Lines
    };
    let progress = Progress::new(mode, fetch::sampler(&limits));
    progress.set_total(args.requests);
    let reporter = progress.spawn_reporter(if mode == Mode::Bar {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    });
    let interrupts = fetch::on_interrupt(&progress, &stop, &abort);
    let hello = format!("{url}/hello");
    let urls = stream::iter((0..args.requests).map(move |_| Line::Url(hello.clone())));
    let cpu_start = usage::cpu_time();
    let outcome = fetch::fetch_all(urls, ctx, args.concurrency, Rows::None, &progress, &stop).await;
    let cpu = usage::cpu_time().saturating_sub(cpu_start);
    if let Some(r) = reporter {
        r.abort();
    }
    interrupts.abort();
    let server_max = server_max_concurrent(&url).await.unwrap_or(0);
    match server {
        Server::External => {}
        Server::Child(mut c) => {
            let _ = c.kill().await;
        }
        Server::InProcess(t) => t.abort(),
    }
    let s = &outcome.summary;
    let secs = s.elapsed.as_secs_f64();
    let cpu_ms = cpu.as_secs_f64() * 1000.0;
    let mean_s = s.mean_ms / 1000.0;
    let bound = if mean_s > 0.0 {
        args.concurrency as f64 / mean_s
    } else {
        0.0
    };
    let mean_delay_s = (lo + hi) / 2.0 / 1000.0;
    let server_bound = if mean_delay_s > 0.0 {
        args.concurrency as f64 / mean_delay_s
    } else {
        f64::INFINITY
    };
    let of_bound = if bound > 0.0 {
        s.req_per_sec / bound
    } else {
        0.0
    };
    let of_server = if server_bound.is_finite() {
        s.req_per_sec / server_bound
    } else {
        0.0
    };
    let cpu_per_req = if s.done > 0 {
        cpu_ms / s.done as f64
    } else {
        0.0
    };
    let cpu_share = if secs > 0.0 {
        cpu_ms / (secs * 1000.0)
    } else {
        0.0
    };
    let peak_mb = s.peak_rss_bytes as f64 / (1024.0 * 1024.0);
    if args.json {
        let mut statuses = String::from("{");
        for (i, (k, v)) in s.by_status.iter().enumerate() {
            if i > 0 {
                statuses.push(',');
            }
            json_string(&mut statuses, k);
            statuses.push_str(&format!(":{v}"));
        }
        statuses.push('}');
        let mut server_json = String::new();
        json_string(&mut server_json, &where_);
        let finite = |x: f64| {
            if x.is_finite() {
                format!("{x}")
            } else {
                "null".to_owned()
            }
        };
        println!(
            "{{\"client\":\"native\",\"requests\":{},\"concurrency\":{},\"delayMs\":[{lo},{hi}],\"server\":{server_json},\
\"seconds\":{secs},\"reqPerSec\":{},\"meanLatencyMs\":{},\"littleBound\":{bound},\"ofBound\":{of_bound},\
\"serverDelayBound\":{},\"ofServerDelayBound\":{of_server},\"clientCpuMsPerRequest\":{cpu_per_req},\
\"clientCpuShare\":{cpu_share},\"serverMaxConcurrent\":{server_max},\"peakRssMB\":{peak_mb},\
\"p50\":{},\"p95\":{},\"p99\":{},\"byStatus\":{statuses}}}",
            s.done,
            args.concurrency,
            s.req_per_sec,
            s.mean_ms,
            finite(server_bound),
            s.p50,
            s.p95,
            s.p99
        );
    } else {
        for line in summary_lines(s) {
            eprintln!("weir: {line}");
        }
        println!("requests/s:        {:.0}", s.req_per_sec);
        println!(
            "Little's-law bound: {bound:.0} req/s ({} in flight / {:.1} ms mean latency)",
            args.concurrency, s.mean_ms
        );
        println!("achieved / bound:  {:.1}%", 100.0 * of_bound);
        println!(
            "server-delay bound: {} req/s ({} in flight / {:.0} ms mean server delay); achieved {:.1}%",
            if server_bound.is_finite() {
                format!("{server_bound:.0}")
            } else {
                "-".to_owned()
            },
            args.concurrency,
            (lo + hi) / 2.0,
            100.0 * of_server
        );
        println!(
            "client CPU:        {cpu_per_req:.3} ms per request, {:.0}% of one core{}",
            100.0 * cpu_share,
            if cpu_share > 0.85 {
                " (the client is CPU-bound: latency above the server delay is queueing for this core)"
            } else {
                ""
            }
        );
        println!("server saw at most {server_max} concurrent requests");
        println!("peak RSS:          {peak_mb:.1} MB");
    }
    if s.interrupted {
        130
    } else if s.errors > 0 {
        1
    } else {
        0
    }
}
