//! The running tally of a fetch run, its live report on stderr (an
//! `indicatif` bar on a terminal, periodic lines otherwise) and the final
//! summary — the same lines the JS CLI prints (js/cli/progress.js).
//!
//! Invariants: only counters are kept (a fixed-size latency histogram, one
//! counter per status), so memory does not grow with the number of URLs;
//! the bar and the notes never garble each other (notes go through the bar).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::histogram::Histogram;
use crate::row::Row;
use crate::usage;

/// What the limiter and the retry controller say now.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Requests holding a permit.
    pub in_flight: usize,
    /// Requests waiting for a permit, a rate or a pause.
    pub queued: usize,
    /// Retries decided.
    pub retries: u64,
    /// 429 responses seen.
    pub status_429: u64,
    /// Up to three hosts with requests queued: `(host, queued)`.
    pub busiest: Vec<(String, u32)>,
}

/// How the live report looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A live bar (a terminal).
    Bar,
    /// A line every period.
    Lines,
    /// Nothing live.
    None,
}

#[derive(Debug)]
struct Tally {
    total: Option<u64>,
    done: u64,
    errors: u64,
    by_status: BTreeMap<String, u64>,
    latency: Histogram,
    recent: std::collections::VecDeque<(Instant, u64)>,
    interrupted: u32,
}

/// The tally, shared by the pipeline (rows), the signal handler (notes) and
/// the reporting task.
#[derive(Clone)]
pub struct Progress {
    tally: Arc<Mutex<Tally>>,
    started: Instant,
    mode: Mode,
    bar: Option<ProgressBar>,
    sample: Arc<dyn Fn() -> Sample + Send + Sync>,
}

/// The numbers of the summary.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Rows.
    pub done: u64,
    /// Seconds from start to finish.
    pub elapsed: Duration,
    /// `done` per second.
    pub req_per_sec: f64,
    /// Rows by status (`"200"`, …, `"error"`), sorted as strings.
    pub by_status: BTreeMap<String, u64>,
    /// Rows with an error.
    pub errors: u64,
    /// Latency percentiles of the rows without error (ms).
    pub p50: f64,
    /// 95th.
    pub p95: f64,
    /// 99th.
    pub p99: f64,
    /// Rows the percentiles are taken over.
    pub timed: u64,
    /// Their mean latency (ms).
    pub mean_ms: f64,
    /// Retries decided.
    pub retries: u64,
    /// 429s seen.
    pub status_429: u64,
    /// This process's peak resident set size.
    pub peak_rss_bytes: u64,
    /// Whether Ctrl-C was pressed.
    pub interrupted: bool,
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{} ms", ms.round())
    } else {
        format!("{ms:.1} ms")
    }
}

fn fmt_duration(ms: f64) -> String {
    let s = (ms / 1000.0).round().max(0.0) as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

impl Progress {
    /// A tally reporting in `mode`, sampling the limiter with `sample`.
    pub fn new(mode: Mode, sample: Arc<dyn Fn() -> Sample + Send + Sync>) -> Progress {
        let bar = (mode == Mode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
            bar
        });
        Progress {
            tally: Arc::new(Mutex::new(Tally {
                total: None,
                done: 0,
                errors: 0,
                by_status: BTreeMap::new(),
                latency: Histogram::default(),
                recent: Default::default(),
                interrupted: 0,
            })),
            started: Instant::now(),
            mode,
            bar,
            sample,
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The number of URL lines, once known.
    pub fn set_total(&self, total: u64) {
        self.tally().total = Some(total);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_style(
                ProgressStyle::with_template("[{bar:20}] {msg}")
                    .expect("a valid template")
                    .progress_chars("#>."),
            );
        }
    }

    /// Counts one finished row.
    pub fn record(&self, row: &Row) {
        let mut t = self.tally();
        t.done += 1;
        let key = match (&row.error, row.status) {
            (Some(_), _) | (None, None) => {
                t.errors += 1;
                "error".to_owned()
            }
            (None, Some(s)) => s.to_string(),
        };
        *t.by_status.entry(key).or_insert(0) += 1;
        if row.error.is_none() {
            t.latency.record(row.ms);
        }
    }

    /// Ctrl-C presses so far, after counting one more.
    pub fn interrupt(&self) -> u32 {
        let mut t = self.tally();
        t.interrupted += 1;
        t.interrupted
    }

    /// Says something on stderr without garbling the bar.
    pub fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("weir: {message}")),
            None => eprintln!("weir: {message}"),
        }
    }

    /// The status line (no newline).
    pub fn line(&self) -> String {
        let now = Instant::now();
        let s = (self.sample)();
        let mut t = self.tally();
        let done = t.done;
        t.recent.push_back((now, done));
        while t.recent.len() > 2 && now.duration_since(t.recent[0].0) > Duration::from_secs(5) {
            t.recent.pop_front();
        }
        let (t0, d0) = t.recent[0];
        let span = now.duration_since(t0).as_secs_f64();
        let rps = if span < 0.5 {
            let all = now.duration_since(self.started).as_secs_f64();
            if all > 0.0 {
                done as f64 / all
            } else {
                0.0
            }
        } else {
            (done - d0) as f64 / span
        };
        let mut parts = Vec::new();
        match t.total {
            Some(total) => {
                let pct = if total > 0 {
                    100.0 * done as f64 / total as f64
                } else {
                    100.0
                };
                parts.push(format!("{done}/{total} ({pct:.1}%)"));
            }
            None => parts.push(format!("{done} done")),
        }
        parts.push(format!("{rps:.0} req/s"));
        parts.push(format!("{} in flight", s.in_flight));
        if s.queued > 0 {
            parts.push(format!("{} queued", s.queued));
        }
        if !s.busiest.is_empty() {
            let hosts: Vec<String> = s.busiest.iter().map(|(h, q)| format!("{h}:{q}")).collect();
            parts.push(format!("busiest {}", hosts.join(" ")));
        }
        parts.push(format!("429s {}", s.status_429));
        parts.push(format!("retries {}", s.retries));
        if t.errors > 0 {
            parts.push(format!("errors {}", t.errors));
        }
        if let Some(total) = t.total {
            if rps > 0.0 && done < total {
                parts.push(format!(
                    "ETA {}",
                    fmt_duration((total - done) as f64 / rps * 1000.0)
                ));
            }
        }
        parts.join(" | ")
    }

    /// Draws the bar or prints a periodic line.
    pub fn render(&self) {
        match self.mode {
            Mode::Bar => {
                let line = self.line();
                if let Some(bar) = &self.bar {
                    bar.set_position(self.tally().done);
                    bar.set_message(line);
                }
            }
            Mode::Lines => {
                let line = self.line();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "weir: {line}");
            }
            Mode::None => {}
        }
    }

    /// Reports every `period` until the returned task is aborted.
    pub fn spawn_reporter(&self, period: Duration) -> Option<tokio::task::JoinHandle<()>> {
        if self.mode == Mode::None {
            return None;
        }
        let me = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tick.tick().await;
                me.render();
            }
        }))
    }

    /// Stops the bar and returns the summary numbers.
    pub fn finish(&self) -> Summary {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let s = (self.sample)();
        let t = self.tally();
        let elapsed = self.started.elapsed();
        let secs = elapsed.as_secs_f64();
        Summary {
            done: t.done,
            elapsed,
            req_per_sec: if secs > 0.0 {
                t.done as f64 / secs
            } else {
                0.0
            },
            by_status: t.by_status.clone(),
            errors: t.errors,
            p50: t.latency.percentile(50.0),
            p95: t.latency.percentile(95.0),
            p99: t.latency.percentile(99.0),
            timed: t.latency.count,
            mean_ms: t.latency.mean(),
            retries: s.retries,
            status_429: s.status_429,
            peak_rss_bytes: usage::peak_rss_bytes(),
            interrupted: t.interrupted > 0,
        }
    }
}

/// The summary as text lines (each printed after `weir: `).
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let statuses = if s.by_status.is_empty() {
        "none".to_owned()
    } else {
        s.by_status
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        format!(
            "{} {} URLs in {:.1} s ({:.1} req/s)",
            if s.interrupted {
                "interrupted after"
            } else {
                "done:"
            },
            s.done,
            s.elapsed.as_secs_f64(),
            s.req_per_sec
        ),
        format!("status: {statuses}"),
        if s.timed == 0 {
            "latency: no response".to_owned()
        } else {
            format!(
                "latency: p50 {}, p95 {}, p99 {}",
                fmt_ms(s.p50),
                fmt_ms(s.p95),
                fmt_ms(s.p99)
            )
        },
        format!(
            "retries: {}, 429s seen: {}, peak RSS: {:.1} MB",
            s.retries,
            s.status_429,
            s.peak_rss_bytes as f64 / (1024.0 * 1024.0)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_statuses_errors_and_latency() {
        let p = Progress::new(Mode::None, Arc::new(Sample::default));
        let ok = Row {
            url: "u".into(),
            status: Some(200),
            bytes: 1,
            ms: 50.0,
            attempts: 1,
            error: None,
        };
        p.record(&ok);
        p.record(&Row {
            status: Some(503),
            ..ok.clone()
        });
        p.record(&Row::failed("x", "invalid URL"));
        let s = p.finish();
        assert_eq!(s.done, 3);
        assert_eq!(s.errors, 1);
        assert_eq!(s.timed, 2);
        let lines = summary_lines(&s);
        assert!(lines[0].starts_with("done: 3 URLs in "), "{}", lines[0]);
        assert_eq!(lines[1], "status: 200: 1, 503: 1, error: 1");
        assert!(lines[2].starts_with("latency: p50 "), "{}", lines[2]);
        assert!(lines[3].starts_with("retries: 0, 429s seen: 0, peak RSS: "));
        assert!(p.line().starts_with("3 done | "), "{}", p.line());
        p.set_total(10);
        assert!(p.line().starts_with("3/10 (30.0%)"), "{}", p.line());
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_ms(12.345), "12.3 ms");
        assert_eq!(fmt_ms(123.4), "123 ms");
        assert_eq!(fmt_ms(12_345.0), "12.3 s");
        assert_eq!(fmt_duration(61_000.0), "1m01s");
        assert_eq!(fmt_duration(3_720_000.0), "1h02m");
    }
}
