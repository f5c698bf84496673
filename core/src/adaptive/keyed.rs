//! [`KeyedAdaptive`]: one controller per key, a global cap on top, idle keys
//! evicted.
//!
//! Invariants:
//! - `limit_of(key)` is in `[1, global cap]` and, for a resident key, in its
//!   controller's `[min, max]`; a key never seen (or evicted) answers the
//!   config's `initial`, capped;
//! - a key is idle when it has had no sample for `idle_after`; idle keys
//!   are dropped by an amortised sweep when the map has doubled since the
//!   last one, or by [`evict_idle`](KeyedAdaptive::evict_idle), so memory is
//!   O(active keys). An evicted key starts again from `initial`;
//! - pure: every method takes `now`.

use core::hash::Hash;
use core::time::Duration;

use super::config::{AdaptiveConfig, AdaptiveConfigError};
use super::controller::AdaptiveLimit;
use super::sample::Sample;
use super::AdaptiveStats;
use crate::hash::HashMap;
use crate::time::Instant;

/// The map is swept when it has grown to twice its size after the last
/// sweep, but never below this many entries.
const MIN_SWEEP: usize = 64;

/// How long a key may go without samples before it is evicted, by default.
pub const IDLE_AFTER: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
struct Entry {
    limit: AdaptiveLimit,
    last_seen: Instant,
}

/// Adaptive limits per key, under an optional global cap.
///
/// ```
/// use core::time::Duration;
/// use weir::Instant;
/// use weir::adaptive::{AdaptiveConfig, KeyedAdaptive, Outcome, Sample};
/// let config = AdaptiveConfig { min: 1, max: 50, initial: 10, ..Default::default() };
/// let mut keyed = KeyedAdaptive::new(config, Some(30))?;
/// let now = Instant::from_nanos(1_000_000_000);
/// let overload = Sample { rtt: Duration::from_millis(1), in_flight: 10, outcome: Outcome::Unavailable };
/// assert_eq!(keyed.on_sample(&"a.example", now, overload), 8);
/// assert_eq!(keyed.limit_of(&"a.example"), 8);
/// assert_eq!(keyed.limit_of(&"b.example"), 10);        // independent, from `initial`
/// keyed.evict_idle(now + Duration::from_secs(61));
/// assert!(keyed.is_empty());
/// # Ok::<(), weir::adaptive::AdaptiveConfigError>(())
/// ```
#[derive(Debug)]
pub struct KeyedAdaptive<K> {
    config: AdaptiveConfig,
    global: Option<u32>,
    idle_after: Duration,
    map: HashMap<K, Entry>,
    sweep_at: usize,
    /// Seeds handed to new controllers (one per key, so probes do not align).
    next_seed: u64,
    floor: Instant,
}

impl<K: Hash + Eq + Clone> KeyedAdaptive<K> {
    /// One controller per key built from `config` (validated), every limit
    /// capped at `global` when given.
    pub fn new(config: AdaptiveConfig, global: Option<u32>) -> Result<Self, AdaptiveConfigError> {
        config.validate()?;
        if global == Some(0) {
            return Err(AdaptiveConfigError {
                field: "global",
                problem: "must be at least 1",
            });
        }
        Ok(Self::from_valid(config, global))
    }

    /// [`new`](Self::new) for a config already validated and a cap not 0.
    pub(crate) fn from_valid(config: AdaptiveConfig, global: Option<u32>) -> Self {
        KeyedAdaptive {
            config,
            global,
            idle_after: IDLE_AFTER,
            map: HashMap::default(),
            sweep_at: MIN_SWEEP,
            next_seed: 0,
            floor: Instant::ZERO,
        }
    }

    /// Evict keys after `idle_after` without samples instead of [`IDLE_AFTER`].
    pub fn with_idle_after(mut self, idle_after: Duration) -> Self {
        self.idle_after = idle_after;
        self
    }

    /// The per-key config.
    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    /// The global cap.
    pub fn global(&self) -> Option<u32> {
        self.global
    }

    /// How many keys are resident.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key is resident.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The limit of `key` now: its controller's, capped by the global cap.
    pub fn limit_of(&self, key: &K) -> u32 {
        let own = self
            .map
            .get(key)
            .map_or(self.config.initial, |e| e.limit.limit());
        self.global.map_or(own, |g| own.min(g))
    }

    /// Feed a request of `key` that finished at `now`; returns the key's
    /// limit after it (capped).
    pub fn on_sample(&mut self, key: &K, now: Instant, sample: Sample) -> u32 {
        self.on_sample_evicting(key, now, sample, |_| {})
    }

    /// [`on_sample`](Self::on_sample), handing every key its amortised
    /// sweep evicts to `evicted` (never `key` itself): for an owner that
    /// keeps state of its own per resident key.
    pub fn on_sample_evicting(
        &mut self,
        key: &K,
        now: Instant,
        sample: Sample,
        evicted: impl FnMut(&K),
    ) -> u32 {
        self.floor = self.floor.max(now);
        let now = self.floor;
        if !self.map.contains_key(key) {
            if self.map.len() + 1 >= self.sweep_at {
                self.evict_idle_evicting(now, evicted);
            }
            let seed = self.next_seed;
            self.next_seed = self.next_seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let limit = AdaptiveLimit::from_valid(self.config, seed);
            self.map.insert(
                key.clone(),
                Entry {
                    limit,
                    last_seen: now,
                },
            );
        }
        let Some(entry) = self.map.get_mut(key) else {
            return self.limit_of(key);
        };
        entry.last_seen = now;
        let own = entry.limit.on_sample(now, sample);
        self.global.map_or(own, |g| own.min(g))
    }

    /// The figures of `key`'s controller, if resident.
    pub fn stats_of(&self, key: &K) -> Option<AdaptiveStats> {
        self.map.get(key).map(|e| e.limit.stats())
    }

    /// Every resident key with its figures (limits uncapped).
    pub fn iter(&self) -> impl Iterator<Item = (&K, AdaptiveStats)> + '_ {
        self.map.iter().map(|(k, e)| (k, e.limit.stats()))
    }

    /// Drop every key idle at `now`, and shrink the map if it has become sparse.
    pub fn evict_idle(&mut self, now: Instant) {
        self.evict_idle_evicting(now, |_| {});
    }

    /// [`evict_idle`](Self::evict_idle), handing each evicted key to `evicted`.
    pub fn evict_idle_evicting(&mut self, now: Instant, mut evicted: impl FnMut(&K)) {
        self.floor = self.floor.max(now);
        let now = self.floor;
        let idle_after = self.idle_after;
        self.map.retain(|k, e| {
            let keep = now.saturating_duration_since(e.last_seen) < idle_after;
            if !keep {
                evicted(k);
            }
            keep
        });
        self.sweep_at = (2 * self.map.len()).max(MIN_SWEEP);
        if self.map.capacity() > 4 * self.sweep_at {
            self.map.shrink_to(self.sweep_at);
        }
    }
}
