//! [`AdaptiveLimit`]: one controller, of either algorithm, behind one type.
//!
//! Invariant: the limit it reports is always within the config's
//! `[min, max]`, before and after any sequence of samples and clock readings.

use super::aimd::Aimd;
use super::config::{AdaptiveConfig, AdaptiveConfigError, Algorithm};
use super::gradient::Gradient;
use super::sample::Sample;
use super::AdaptiveStats;
use crate::time::Instant;

/// One adaptive concurrency limit: feed it samples, read its limit.
///
/// ```
/// use core::time::Duration;
/// use weir::Instant;
/// use weir::adaptive::{AdaptiveConfig, AdaptiveLimit, Outcome, Sample};
/// let mut limit = AdaptiveLimit::new(AdaptiveConfig { min: 1, max: 100, initial: 20, ..Default::default() })?;
/// assert_eq!(limit.limit(), 20);
/// // A 429 backs off at once.
/// let now = Instant::from_nanos(1_000_000_000);
/// let sample = Sample { rtt: Duration::from_millis(5), in_flight: 20, outcome: Outcome::TooManyRequests };
/// assert_eq!(limit.on_sample(now, sample), 16);
/// # Ok::<(), weir::adaptive::AdaptiveConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveLimit {
    config: AdaptiveConfig,
    inner: Inner,
}

#[derive(Clone, Debug)]
enum Inner {
    Gradient(Gradient),
    Aimd(Aimd),
}

impl AdaptiveLimit {
    /// A controller for `config` (validated), seed 0.
    pub fn new(config: AdaptiveConfig) -> Result<Self, AdaptiveConfigError> {
        Self::with_seed(config, 0)
    }

    /// A controller for `config` whose probe schedule is jittered from
    /// `seed` (give controllers sharing a server different seeds so that
    /// they do not probe in step).
    pub fn with_seed(config: AdaptiveConfig, seed: u64) -> Result<Self, AdaptiveConfigError> {
        config.validate()?;
        Ok(Self::from_valid(config, seed))
    }

    /// [`with_seed`](Self::with_seed) for a config already validated (no
    /// error path: keeps panic formatting out of small builds).
    pub(crate) fn from_valid(config: AdaptiveConfig, seed: u64) -> Self {
        let AdaptiveConfig {
            min, max, initial, ..
        } = config;
        let inner = match config.algorithm {
            Algorithm::Gradient => Inner::Gradient(Gradient::new(min, max, initial, seed)),
            Algorithm::Aimd => Inner::Aimd(Aimd::new(min, max, initial)),
        };
        AdaptiveLimit { config, inner }
    }

    /// The config it was built from.
    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    /// The current limit, in `[min, max]`.
    #[inline]
    pub fn limit(&self) -> u32 {
        match &self.inner {
            Inner::Gradient(g) => g.limit(),
            Inner::Aimd(a) => a.limit(),
        }
    }

    /// Feed one request that finished at `now`; returns the limit after it.
    #[inline]
    pub fn on_sample(&mut self, now: Instant, sample: Sample) -> u32 {
        match &mut self.inner {
            Inner::Gradient(g) => g.on_sample(now, sample),
            Inner::Aimd(a) => a.on_sample(now, sample),
        }
    }

    /// Limit, minimum RTT, last window's RTT and gradient.
    pub fn stats(&self) -> AdaptiveStats {
        match &self.inner {
            Inner::Gradient(g) => g.stats(),
            Inner::Aimd(a) => a.stats(),
        }
    }
}
