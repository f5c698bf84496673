//! `weir`: a bulk URL fetcher on the weir limiter core — `fetch`, `serve`,
//! `demo`, the same commands, options, NDJSON rows and exit codes as the JS
//! CLI (`npx weir`), built on `weir::limited_as_completed`, `weir::Limiter`
//! and `weir::retry` through the reqwest integration.
//!
//! Exit codes: 0 done (rows may hold errors), 1 a failure of the run itself
//! (or, for `demo`, requests that failed), 2 a bad argument (the message
//! names it), 130 interrupted by Ctrl-C.
//!
//! ```sh
//! weir fetch urls.txt --concurrency 200 --per-host 8 --rate 20/s,burst=5 > rows.ndjson
//! # a fleet: every process with this Redis and prefix shares the limits
//! weir fetch part-1.txt --per-host-rate 50/s --redis redis://10.0.0.5:6379/0 > rows.ndjson
//! ```

mod args;
mod demo;
mod fetch;
mod fleet;
mod histogram;
mod lines;
mod names;
mod progress;
mod row;
mod serve;
mod signal;
mod usage;
mod values;

use clap::error::ErrorKind;
use clap::Parser;

use crate::args::{Cli, Command, USAGE};

fn main() {
    if matches!(std::env::args().nth(1).as_deref(), Some("--version" | "-V")) {
        println!("weir {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                ErrorKind::DisplayHelp => {
                    print!("{USAGE}");
                    0
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                | ErrorKind::MissingSubcommand => {
                    print!("{USAGE}");
                    2
                }
                _ => {
                    let _ = e.print();
                    2
                }
            };
            std::process::exit(code);
        }
    };
    // One thread by default: a bulk fetcher waits on the network, and on one
    // thread it uses less memory and less CPU per request than on a
    // multi-threaded runtime (bench/README.md, "The native weir").
    // WEIR_THREADS=N (N > 1) runs N worker threads, e.g. for many TLS handshakes.
    let threads = std::env::var("WEIR_THREADS")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(1);
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weir: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Fetch(a) => fetch::run(*a).await,
            Command::Serve(a) => serve::run(a).await,
            Command::Demo(a) => demo::run(a).await,
        }
    });
    // A stdin read may still be pending on a blocking thread (Ctrl-C while
    // stdin stays open): do not wait for it.
    runtime.shutdown_background();
    std::process::exit(code);
}
