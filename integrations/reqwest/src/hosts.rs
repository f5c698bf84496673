//! Per-host counters: statistics and the retry budget, with bounded memory.

use core::time::Duration;
use std::collections::HashMap;
use std::sync::Mutex;

use weir::Instant;

use crate::RetryBudget;

/// Figures for one host key.
///
/// `sent`, `retried` and `rate_limited` count since the host was last seen
/// busy: an entry idle for two budget windows with nothing in flight is
/// forgotten (memory stays bounded by the hosts in use).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Requests holding a permit now (including bodies being read).
    pub in_flight: usize,
    /// Attempts sent (first tries and retries).
    pub sent: u64,
    /// Retries sent.
    pub retried: u64,
    /// `429 Too Many Requests` responses seen.
    pub rate_limited: u64,
}

#[derive(Debug, Default)]
struct Entry {
    stats: HostStats,
    window_start: Instant,
    requests: u64,
    retries: u64,
    prev_requests: u64,
    prev_retries: u64,
    last_seen: Instant,
}

impl Entry {
    fn roll(&mut self, now: Instant, window: Duration) {
        let elapsed = now - self.window_start;
        if elapsed < window {
            return;
        }
        if elapsed < window * 2 {
            self.prev_requests = self.requests;
            self.prev_retries = self.retries;
        } else {
            self.prev_requests = 0;
            self.prev_retries = 0;
        }
        self.requests = 0;
        self.retries = 0;
        self.window_start = now;
    }
}

/// Every host's entry, swept when the map doubles.
#[derive(Debug)]
pub(crate) struct Hosts {
    budget: RetryBudget,
    map: Mutex<HashMap<String, Entry>>,
    sweep_at: Mutex<usize>,
}

const MIN_SWEEP: usize = 1024;

impl Hosts {
    pub(crate) fn new(budget: RetryBudget) -> Self {
        Self {
            budget,
            map: Mutex::new(HashMap::new()),
            sweep_at: Mutex::new(MIN_SWEEP),
        }
    }

    fn with<R>(&self, key: &str, now: Instant, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) {
            let mut sweep_at = self.sweep_at.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() >= *sweep_at {
                let stale = self.budget.window * 2;
                map.retain(|_, e| now - e.last_seen < stale);
                *sweep_at = (map.len() * 2).max(MIN_SWEEP);
            }
        }
        let entry = map.entry(key.to_owned()).or_insert_with(|| Entry {
            window_start: now,
            ..Entry::default()
        });
        entry.last_seen = now;
        entry.roll(now, self.budget.window);
        f(entry)
    }

    /// A new request (not a retry) for `key`.
    pub(crate) fn request(&self, key: &str, now: Instant) {
        self.with(key, now, |e| e.requests += 1);
    }

    /// An attempt went out.
    pub(crate) fn sent(&self, key: &str, now: Instant) {
        self.with(key, now, |e| e.stats.sent += 1);
    }

    /// A 429 came back.
    pub(crate) fn rate_limited(&self, key: &str, now: Instant) {
        self.with(key, now, |e| e.stats.rate_limited += 1);
    }

    /// Takes one retry from `key`'s budget, if there is one left.
    pub(crate) fn spend_retry(&self, key: &str, now: Instant) -> bool {
        let RetryBudget {
            ratio, min_retries, ..
        } = self.budget;
        self.with(key, now, |e| {
            let requests = (e.requests + e.prev_requests) as f64;
            let allowed = u64::from(min_retries) + (ratio * requests).floor() as u64;
            if e.retries + e.prev_retries < allowed {
                e.retries += 1;
                e.stats.retried += 1;
                true
            } else {
                false
            }
        })
    }

    /// The counters of `key` (without `in_flight`, which the limiter knows).
    pub(crate) fn stats(&self, key: &str) -> HostStats {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).map(|e| e.stats).unwrap_or_default()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        Instant::from_nanos(secs * 1_000_000_000)
    }

    #[test]
    fn budget_allows_min_plus_ratio_of_requests() {
        let hosts = Hosts::new(RetryBudget {
            ratio: 0.1,
            min_retries: 2,
            window: Duration::from_secs(10),
        });
        let mut granted = 0;
        for _ in 0..20 {
            hosts.request("h", at(0));
            while hosts.spend_retry("h", at(0)) {
                granted += 1;
            }
        }
        assert_eq!(granted, 2 + 2);
        assert_eq!(hosts.stats("h").retried, 4);
        // Another host has its own budget.
        hosts.request("other", at(0));
        assert!(hosts.spend_retry("other", at(0)));
    }

    #[test]
    fn budget_refills_after_two_windows() {
        let hosts = Hosts::new(RetryBudget {
            ratio: 0.0,
            min_retries: 1,
            window: Duration::from_secs(10),
        });
        hosts.request("h", at(0));
        assert!(hosts.spend_retry("h", at(0)));
        assert!(!hosts.spend_retry("h", at(5)));
        // Next window: the previous window's retry still counts.
        assert!(!hosts.spend_retry("h", at(12)));
        // Two windows on: fresh.
        assert!(hosts.spend_retry("h", at(35)));
    }

    #[test]
    fn idle_hosts_are_forgotten() {
        let hosts = Hosts::new(RetryBudget::default());
        for i in 0..5_000 {
            hosts.sent(&format!("h{i}"), at(0));
        }
        assert!(hosts.len() >= 5_000);
        hosts.sent("late", at(100));
        for i in 0..MIN_SWEEP * 4 {
            hosts.sent(&format!("n{i}"), at(100));
        }
        assert!(
            hosts.len() <= MIN_SWEEP * 4 + 1,
            "stale hosts kept: {}",
            hosts.len()
        );
    }
}
