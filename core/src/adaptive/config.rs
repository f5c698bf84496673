//! [`AdaptiveConfig`]: the bounds and the algorithm of one controller.
//!
//! Invariant: a config that passed [`AdaptiveConfig::validate`] has
//! `1 <= min <= initial <= max`; every controller built from it keeps its
//! limit in `[min, max]` forever.

use core::fmt;

/// Which control law a controller runs (see the [module docs](super)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Latency gradient against the minimum RTT, plus back-off on overload
    /// signals. Finds the knee of a server that queues.
    #[default]
    Gradient,
    /// Additive increase, multiplicative decrease on overload signals only.
    /// For servers that say "too many" (429/503) but whose latency does not
    /// grow with load.
    Aimd,
}

/// The bounds and algorithm of an adaptive concurrency limit.
///
/// ```
/// use weir::adaptive::{AdaptiveConfig, Algorithm};
/// let config = AdaptiveConfig { min: 2, max: 200, initial: 10, algorithm: Algorithm::Gradient };
/// assert!(config.validate().is_ok());
/// assert_eq!(AdaptiveConfig { initial: 500, ..config }.validate().unwrap_err().field, "initial");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdaptiveConfig {
    /// The limit never goes below this (at least 1).
    pub min: u32,
    /// The limit never goes above this.
    pub max: u32,
    /// The limit a fresh controller starts from.
    pub initial: u32,
    /// The control law.
    pub algorithm: Algorithm,
}

impl Default for AdaptiveConfig {
    /// `min 1, max 1000, initial 10`, gradient.
    fn default() -> Self {
        AdaptiveConfig {
            min: 1,
            max: 1000,
            initial: 10,
            algorithm: Algorithm::Gradient,
        }
    }
}

impl AdaptiveConfig {
    /// Checks `1 <= min <= initial <= max`; the error names the field at fault.
    pub fn validate(&self) -> Result<(), AdaptiveConfigError> {
        let fail = |field, problem| Err(AdaptiveConfigError { field, problem });
        if self.min == 0 {
            return fail("min", "must be at least 1");
        }
        if self.max < self.min {
            return fail("max", "must be at least `min`");
        }
        if self.initial < self.min || self.initial > self.max {
            return fail("initial", "must lie between `min` and `max`");
        }
        Ok(())
    }
}

/// An invalid [`AdaptiveConfig`]; names the field at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptiveConfigError {
    /// `min`, `max` or `initial`.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl fmt::Display for AdaptiveConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid adaptive option `{}`: {}",
            self.field, self.problem
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AdaptiveConfigError {}
