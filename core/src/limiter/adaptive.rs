//! The [`Limiter`]'s adaptive caps: the global one (config `adaptive`) and
//! one per key (config `per_key_adaptive`), fed by [`Limiter::report`].
//!
//! Invariants:
//! - the global cap in force is the global controller's limit, capped by the
//!   configured `concurrency`; it moves through the semaphore's
//!   `set_limits` path (raising wakes waiters, lowering revokes nothing);
//! - the per-key cap in force for a key is its controller's limit capped by
//!   the configured `per_key`, applied as the semaphore's *soft* cap of the
//!   key: never more than that many permits are granted to the key, except
//!   one request above it admitted alone (nothing else of the key in
//!   flight) — so a cap lowered below a request never leaves it stuck;
//! - a key without a controller (never reported, or evicted after
//!   [`IDLE_AFTER`](crate::adaptive::IDLE_AFTER) without reports) has the
//!   config's `initial`; a key's cap survives the eviction of its semaphore
//!   slot (the soft cap lives apart from the slot) and is dropped exactly
//!   when its controller is, so the semaphore keeps one override per
//!   resident controller and no more;
//! - caps are applied under the controller's lock (controller, then
//!   semaphore: the one lock order), so two reports never apply their
//!   limits out of order.

use alloc::vec::Vec;
use core::hash::Hash;
use core::time::Duration;

use super::Limiter;
use crate::adaptive::{AdaptiveStats, KeyedAdaptive, Outcome, Sample};
use crate::Timer;

/// What was in flight when a request started, itself included: read it
/// with [`Limiter::in_flight_now`] right after admission, hand it back to
/// [`Limiter::report`] when the request ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InFlight {
    /// Permits in flight across all keys.
    pub total: u32,
    /// Permits in flight for the request's key.
    pub key: u32,
}

/// The adaptive caps after a [`Limiter::report`]: `None` for one that is
/// not configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AdaptiveLimits {
    /// The global cap (config `adaptive`).
    pub global: Option<u32>,
    /// The key's cap (config `per_key_adaptive`).
    pub key: Option<u32>,
}

impl<K: Hash + Eq + Clone, T: Timer> Limiter<K, T> {
    /// Whether a cap is adaptive (config `adaptive` or `per_key_adaptive`):
    /// then finished requests should be [`report`](Self::report)ed.
    pub fn is_adaptive(&self) -> bool {
        self.adaptive.is_some() || self.per_key_adaptive.is_some()
    }

    /// Permits in flight now, in total and for `key`, read together.
    pub fn in_flight_now(&self, key: &K) -> InFlight {
        let state = self.semaphore.lock();
        let total = state.stats().in_flight;
        let of_key = state.in_flight_of(key);
        InFlight {
            total: u32::try_from(total).unwrap_or(u32::MAX),
            key: u32::try_from(of_key).unwrap_or(u32::MAX),
        }
    }

    /// Feeds one finished request of `key` (its round-trip time, how it
    /// ended, and what [`in_flight_now`](Self::in_flight_now) read when it
    /// started) to the adaptive controllers at the timer's `now`, and
    /// applies their limits: the global one to the global cap, the key's to
    /// the key's cap. Returns the caps after it; does nothing for a cap not
    /// configured adaptive.
    ///
    /// ```
    /// use core::time::Duration;
    /// use weir::adaptive::{AdaptiveConfig, Outcome};
    /// use weir::{Limiter, LimiterConfig, ManualClock};
    /// let adaptive = AdaptiveConfig { min: 1, max: 100, initial: 10, ..Default::default() };
    /// let config = LimiterConfig { per_key_adaptive: Some(adaptive), ..Default::default() };
    /// let limiter = Limiter::new(config, ManualClock::new()).unwrap();
    /// let permit = limiter.try_acquire("a.example", 1).unwrap();
    /// let started = limiter.in_flight_now(&"a.example");
    /// let after = limiter.report(&"a.example", started, Duration::from_millis(3), Outcome::TooManyRequests);
    /// assert_eq!((after.global, after.key), (None, Some(8)));
    /// assert_eq!(limiter.key_limit(&"a.example"), Some(8));
    /// assert_eq!(limiter.key_limit(&"b.example"), Some(10)); // each host its own
    /// # drop(permit);
    /// ```
    pub fn report(
        &self,
        key: &K,
        started: InFlight,
        rtt: Duration,
        outcome: Outcome,
    ) -> AdaptiveLimits {
        let now = self.rate.timer().now();
        let mut limits = AdaptiveLimits::default();
        if let Some((controller, configured)) = &self.adaptive {
            let sample = Sample {
                rtt,
                in_flight: started.total,
                outcome,
            };
            // The semaphore wakes its waiters after its own unlock: wakers
            // only schedule.
            let mut controller = controller.lock();
            let before = controller.limit();
            let after = controller.on_sample(now, sample);
            if after != before {
                let (_, per_key) = self.semaphore.limits();
                let _ = self
                    .semaphore
                    .set_limits(Some(super::cap(after, *configured)), per_key);
            }
            limits.global = Some(after);
        }
        if let Some(keyed) = &self.per_key_adaptive {
            let sample = Sample {
                rtt,
                in_flight: started.key,
                outcome,
            };
            let mut keyed = keyed.lock();
            let before = keyed.limit_of(key);
            let mut evicted = Vec::new();
            let after = keyed.on_sample_evicting(key, now, sample, |k| evicted.push(k.clone()));
            for gone in &evicted {
                self.semaphore.clear_key_cap(gone);
            }
            if after != before {
                self.semaphore.set_key_cap(key, after as usize);
            }
            limits.key = Some(after);
        }
        limits
    }

    /// The global adaptive controller's figures (limit, minRTT, sampleRTT,
    /// gradient); `None` without `adaptive`.
    pub fn adaptive_stats(&self) -> Option<AdaptiveStats> {
        self.adaptive.as_ref().map(|(c, _)| c.lock().stats())
    }

    /// The per-key cap of `key` in force (its controller's limit, capped
    /// by `per_key`; `initial` for a key without a controller); `None`
    /// without `per_key_adaptive`.
    pub fn key_limit(&self, key: &K) -> Option<u32> {
        self.per_key_adaptive
            .as_ref()
            .map(|k| k.lock().limit_of(key))
    }

    /// The figures of `key`'s adaptive controller (its limit capped by
    /// `per_key`), if it has one.
    pub fn adaptive_stats_of(&self, key: &K) -> Option<AdaptiveStats> {
        let keyed = self.per_key_adaptive.as_ref()?.lock();
        let mut stats = keyed.stats_of(key)?;
        stats.limit = stats.limit.min(keyed.global().unwrap_or(u32::MAX));
        Some(stats)
    }

    /// The figures of at most `max` keys' adaptive controllers (limits
    /// capped by `per_key`), in no particular order; empty without
    /// `per_key_adaptive`. Keys without reports for
    /// [`IDLE_AFTER`](crate::adaptive::IDLE_AFTER) are evicted.
    pub fn adaptive_key_stats(&self, max: usize) -> Vec<(K, AdaptiveStats)> {
        let Some(keyed) = &self.per_key_adaptive else {
            return Vec::new();
        };
        let keyed = keyed.lock();
        let cap = keyed.global().unwrap_or(u32::MAX);
        keyed
            .iter()
            .take(max)
            .map(|(k, mut s)| {
                s.limit = s.limit.min(cap);
                (k.clone(), s)
            })
            .collect()
    }

    /// Drops the controllers of keys without reports for
    /// [`IDLE_AFTER`](crate::adaptive::IDLE_AFTER), and their caps.
    pub(super) fn evict_idle_controllers(&self) {
        let Some(keyed) = &self.per_key_adaptive else {
            return;
        };
        let now = self.rate.timer().now();
        let mut keyed = keyed.lock();
        let mut evicted = Vec::new();
        keyed.evict_idle_evicting(now, |k| evicted.push(k.clone()));
        for gone in &evicted {
            self.semaphore.clear_key_cap(gone);
        }
    }
}

/// The per-key controllers for `config` (validated), capped by `per_key`.
pub(super) fn keyed<K: Hash + Eq + Clone>(
    config: crate::adaptive::AdaptiveConfig,
    per_key: Option<usize>,
) -> KeyedAdaptive<K> {
    let cap = per_key.map(|p| u32::try_from(p).unwrap_or(u32::MAX).max(1));
    // The controllers live under the hard cap: a cut from a limit above it
    // would not show.
    let max = cap.map_or(config.max, |c| config.max.min(c));
    let config = crate::adaptive::AdaptiveConfig {
        min: config.min.min(max),
        max,
        initial: config.initial.min(max),
        ..config
    };
    KeyedAdaptive::from_valid(config, cap)
}
