//! The command line of `weir`: `fetch`, `serve`, `demo` and their options.
//!
//! Invariants: the commands, options, defaults and bounds are those of the
//! JS CLI (js/cli/args.js) — the shared suite in tests/cli runs both binaries
//! on the same command lines. Every bad argument is a clap error naming it
//! (exit code 2); `--help` prints [`USAGE`], the same text the JS CLI prints.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use weir_redis::FailurePolicy;

use crate::values::{self, Rate};

/// What `weir --help` prints (kept in step with js/cli/main.js).
pub const USAGE: &str = "usage: weir <command> [options]

  weir fetch [FILE|-]   fetch URLs (one a line; blank and # lines skipped), NDJSON rows on stdout
      --concurrency N       in flight at most (default 100); 'auto': found from the answers (up to 1,000)
      --per-host N          in flight per host:port at most (default unlimited); 'auto': found per host (up to 1,000)
      --rate 20/s           global rate; repeatable (--rate 20/s --rate 600/min); units /ms /s /min /h;
                            bursts of up to the count by default, or say so: --rate 20/s,burst=5
      --per-host-rate 5/s   rate per host; repeatable; ,burst=N as for --rate
      --retries N           retries on 429/503/network errors (default 2; Retry-After honoured)
      --timeout 20s         per attempt, from admission to the end of the body (default 30s;
                            time queued for a host or a rate is not counted; 'none': no timeout,
                            and no AbortSignal per request, the fastest setting)
      --method M            HTTP method (default GET)
      --header 'K: V'       request header; repeatable
      --save DIR            write bodies to DIR (file names derived safely from the URL)
      --output FILE         NDJSON rows to FILE instead of stdout
      --progress MODE       auto (bar on a terminal, lines otherwise), bar, lines, none
      --redis URL           fleet mode: the caps, rates and Retry-After pauses above are shared by
                            every weir fetch using this Redis (redis://host:6379/0) and prefix;
                            exit 2 if it cannot be reached at start
      --redis-prefix P      the namespace of the shared limits (default weir:)
      --redis-policy MODE   when Redis fails mid-run: closed (the request fails, its row says why;
                            the default), open (sent without the shared limits), local (sent under
                            this process's own limits)
  weir serve [--port P] [--delay 0-300ms] [--capacity N] [--429-rate R]
                        the local target server (\"Hello, World!\" after a random delay), 127.0.0.1 only
  weir demo [--requests N] [--concurrency L] [--delay 0-300ms] [--server child|in-process]
            [--target URL] [--json]
                        the seed scenario (100,000 requests, 1,000 in flight) against a local server
                        (or the server at --target)
  weir --version        the version
";

/// `weir`.
#[derive(Parser, Debug)]
#[command(name = "weir", override_help = USAGE, disable_version_flag = true)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The three commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fetch URLs.
    #[command(override_help = USAGE)]
    Fetch(Box<FetchArgs>),
    /// The local target server.
    #[command(override_help = USAGE)]
    Serve(ServeArgs),
    /// The seed scenario.
    #[command(override_help = USAGE)]
    Demo(DemoArgs),
}

fn concurrency(t: &str) -> Result<usize, String> {
    values::whole(t, 1, 1_000_000).map(|n| n as usize)
}

/// The most `--concurrency auto` lets in flight (as in the Node build).
pub const AUTO_MAX: usize = 1000;

/// `--concurrency` / `--per-host`: a fixed cap, or `auto` (an adaptive cap
/// up to [`AUTO_MAX`] that follows the answers; per host for `--per-host`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    Fixed(usize),
    Auto,
}

impl Cap {
    /// The most in flight at once.
    pub fn max(self) -> usize {
        match self {
            Cap::Fixed(n) => n,
            Cap::Auto => AUTO_MAX,
        }
    }
}

fn cap(t: &str) -> Result<Cap, String> {
    if t == "auto" {
        Ok(Cap::Auto)
    } else {
        concurrency(t).map(Cap::Fixed)
    }
}
fn retries(t: &str) -> Result<u32, String> {
    values::whole(t, 0, 100).map(|n| n as u32)
}
/// `--timeout`: per attempt, or `None` (`--timeout none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

fn timeout(t: &str) -> Result<Timeout, String> {
    values::parse_timeout(t).map(Timeout)
}
fn prefix(t: &str) -> Result<String, String> {
    if t.is_empty() {
        Err("expected a non-empty prefix, e.g. weir:".to_owned())
    } else {
        Ok(t.to_owned())
    }
}
fn progress(t: &str) -> Result<Progress, String> {
    match t {
        "auto" => Ok(Progress::Auto),
        "bar" => Ok(Progress::Bar),
        "lines" => Ok(Progress::Lines),
        "none" => Ok(Progress::None),
        _ => Err(format!("expected auto, bar, lines or none, got '{t}'")),
    }
}

/// `--progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A bar on a terminal, lines otherwise.
    Auto,
    /// A live bar.
    Bar,
    /// Periodic lines.
    Lines,
    /// Nothing but the summary.
    None,
}

/// Options of `weir fetch`.
#[derive(Args, Debug, Clone)]
pub struct FetchArgs {
    /// The URL list, `-` for stdin.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: String,
    #[arg(long, value_name = "N", default_value = "100", value_parser = cap, allow_negative_numbers = true)]
    pub concurrency: Cap,
    #[arg(long = "per-host", value_name = "N", value_parser = cap, allow_negative_numbers = true)]
    pub per_host: Option<Cap>,
    #[arg(long, value_name = "RATE", value_parser = values::parse_rate)]
    pub rate: Vec<Rate>,
    #[arg(long = "per-host-rate", value_name = "RATE", value_parser = values::parse_rate)]
    pub per_host_rate: Vec<Rate>,
    #[arg(long, value_name = "N", default_value = "2", value_parser = retries, allow_negative_numbers = true)]
    pub retries: u32,
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = timeout)]
    pub timeout: Timeout,
    #[arg(long, value_name = "M", default_value = "GET", value_parser = values::parse_method)]
    pub method: String,
    #[arg(long, value_name = "'K: V'", value_parser = values::parse_header)]
    pub header: Vec<(String, String)>,
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = progress)]
    pub progress: Progress,
    /// Fleet mode: the limits live on this Redis (crate::fleet).
    #[arg(long, value_name = "URL", value_parser = crate::fleet::parse_url)]
    pub redis: Option<String>,
    #[arg(long = "redis-prefix", value_name = "P", requires = "redis", value_parser = prefix)]
    pub redis_prefix: Option<String>,
    #[arg(long = "redis-policy", value_name = "MODE", requires = "redis", value_parser = crate::fleet::parse_policy)]
    pub redis_policy: Option<FailurePolicy>,
}

impl FetchArgs {
    /// Whether anything can make a request wait inside the limiter (a
    /// per-host cap, a per-host rate, or the fleet's shared limits): then
    /// the window of URLs in flight looks ahead, so that one saturated host
    /// does not hold every slot.
    pub fn keyed(&self) -> bool {
        self.per_host.is_some() || !self.per_host_rate.is_empty() || self.redis.is_some()
    }
}

fn port(t: &str) -> Result<u16, String> {
    values::whole(t, 0, 65_535).map(|n| n as u16)
}
fn rate_429(t: &str) -> Result<f64, String> {
    values::parse_number(t, 0.0, 1.0)
}

/// Options of `weir serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[arg(long, value_name = "P", default_value = "8080", value_parser = port)]
    pub port: u16,
    #[arg(long, value_name = "RANGE", default_value = "0-300ms", value_parser = values::parse_delay_range)]
    pub delay: (f64, f64),
    #[arg(long = "429-rate", value_name = "R", default_value = "0", value_parser = rate_429)]
    pub rate_429: f64,
    /// A knee: at most N served at once, the rest wait in turn.
    #[arg(long, value_name = "N", value_parser = concurrency, allow_negative_numbers = true)]
    pub capacity: Option<usize>,
}

fn requests(t: &str) -> Result<u64, String> {
    values::whole(t, 1, 10_000_000_000)
}
fn demo_concurrency(t: &str) -> Result<usize, String> {
    values::whole(t, 1, 100_000).map(|n| n as usize)
}
fn server_mode(t: &str) -> Result<ServerMode, String> {
    match t {
        "child" => Ok(ServerMode::Child),
        "in-process" => Ok(ServerMode::InProcess),
        _ => Err(format!("expected child or in-process, got '{t}'")),
    }
}
fn target_url(t: &str) -> Result<String, String> {
    match reqwest::Url::parse(t) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
            Ok(t.trim_end_matches('/').to_owned())
        }
        _ => Err(format!("expected an http(s) URL, got '{t}'")),
    }
}

/// Where `weir demo`'s target server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerMode {
    /// `weir serve` in a child process (its own core).
    Child,
    /// In this process, on its own thread.
    InProcess,
}

/// Options of `weir demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    #[arg(long, value_name = "N", default_value = "100000", value_parser = requests)]
    pub requests: u64,
    #[arg(long, value_name = "L", default_value = "1000", value_parser = demo_concurrency)]
    pub concurrency: usize,
    #[arg(long, value_name = "RANGE", default_value = "0-300ms", value_parser = values::parse_delay_range)]
    pub delay: (f64, f64),
    #[arg(long, value_name = "MODE", default_value = "child", value_parser = server_mode)]
    pub server: ServerMode,
    /// A server already running (e.g. `weir serve`), instead of starting one.
    #[arg(long, value_name = "URL", value_parser = target_url)]
    pub target: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("weir").chain(args.iter().copied()))
    }

    fn fetch(args: &[&str]) -> FetchArgs {
        let mut all = vec!["fetch"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().command {
            Command::Fetch(f) => *f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fetch_defaults_and_repeats() {
        let f = fetch(&[]);
        assert_eq!(f.input, "-");
        assert_eq!(f.concurrency, Cap::Fixed(100));
        assert_eq!(fetch(&["--concurrency", "auto"]).concurrency, Cap::Auto);
        assert_eq!(fetch(&["--per-host", "auto"]).per_host, Some(Cap::Auto));
        assert_eq!(f.per_host, None);
        assert_eq!(f.retries, 2);
        assert_eq!(f.timeout.0, Some(Duration::from_secs(30)));
        assert_eq!(f.method, "GET");
        assert_eq!(f.progress, Progress::Auto);
        let f = fetch(&[
            "urls.txt",
            "--rate=20/s",
            "--rate",
            "600/min",
            "--header",
            "A: 1",
            "--header",
            "B: 2",
            "--per-host",
            "4",
            "--timeout",
            "none",
            "--per-host-rate",
            "5/s,burst=1",
        ]);
        assert_eq!(f.input, "urls.txt");
        assert_eq!(f.rate.len(), 2);
        assert_eq!(f.per_host_rate[0].burst, Some(1));
        assert_eq!(f.header[1], ("B".to_owned(), "2".to_owned()));
        assert_eq!(f.per_host, Some(Cap::Fixed(4)));
        assert_eq!(f.timeout.0, None);
        assert!(f.keyed());
    }

    #[test]
    fn bad_arguments_are_named() {
        for (args, name) in [
            (&["fetch", "--concurrency", "0"][..], "--concurrency"),
            (&["fetch", "--rate", "4294967296/s"], "--rate"),
            (
                &["fetch", "--per-host-rate", "5000000000/s"],
                "--per-host-rate",
            ),
            (&["fetch", "--bogus"], "--bogus"),
            (&["fetch", "a.txt", "b.txt"], "b.txt"),
            (&["fetch", "--timeout"], "--timeout"),
            (
                &["fetch", "--concurrency", "1", "--concurrency", "2"],
                "--concurrency",
            ),
            (&["serve", "--429-rate", "2"], "--429-rate"),
            (&["demo", "--target", "ftp://x"], "--target"),
            (&["frobnicate"], "frobnicate"),
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            let text = e.to_string();
            assert!(text.contains(name), "{args:?}: {text}");
        }
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            ErrorKind::DisplayHelp
        );
    }

    #[test]
    fn serve_and_demo_defaults() {
        let Command::Serve(s) = parse(&["serve"]).unwrap().command else {
            panic!()
        };
        assert_eq!((s.port, s.delay, s.rate_429), (8080, (0.0, 300.0), 0.0));
        let Command::Demo(d) = parse(&["demo", "--target", "http://127.0.0.1:9/"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!((d.requests, d.concurrency), (100_000, 1000));
        assert_eq!(d.target.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(d.server, ServerMode::Child);
    }
}
