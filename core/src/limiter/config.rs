use alloc::vec::Vec;
use core::fmt;

use crate::adaptive::AdaptiveConfig;
use crate::rate::Quota;

/// What a [`Limiter`](super::Limiter) enforces. Every field is optional;
/// `Default` is "no limit at all" (the limiter then only counts).
///
/// ```
/// use weir::{LimiterConfig, Quota};
/// let config = LimiterConfig {
///     concurrency: Some(100),
///     per_key: Some(20),
///     rate: vec![Quota::per_second(20).unwrap()],
///     per_key_rate: vec![Quota::per_second(5).unwrap()],
///     max_queue: Some(10_000),
///     adaptive: None,
///     per_key_adaptive: None,
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LimiterConfig {
    /// Total in flight across all keys (`None`: unlimited).
    pub concurrency: Option<usize>,
    /// In flight per key (`None`: unlimited).
    pub per_key: Option<usize>,
    /// Quotas shared by all keys; all must allow.
    pub rate: Vec<Quota>,
    /// Quotas applied to each key separately; all must allow.
    pub per_key_rate: Vec<Quota>,
    /// How many acquires may wait at once; beyond it `acquire` fails with
    /// [`LimiterError::QueueFull`](super::LimiterError::QueueFull) at once.
    pub max_queue: Option<usize>,
    /// Let the global concurrency cap find itself: an adaptive controller
    /// ([`weir::adaptive`](crate::adaptive)) fed by
    /// [`Limiter::report`](super::Limiter::report) sets it within
    /// `[min, max]`, from `initial`; `concurrency`, if also given, caps it.
    pub adaptive: Option<AdaptiveConfig>,
    /// Let each key's cap find itself: one adaptive controller per key,
    /// fed by [`Limiter::report`](super::Limiter::report), sets the key's
    /// cap within `[min, max]`, from `initial`; `per_key`, if also given,
    /// caps it. A request above a key's current cap is admitted alone (when
    /// nothing else of its key is in flight) rather than refused. A key
    /// without reports for [`IDLE_AFTER`](crate::adaptive::IDLE_AFTER)
    /// starts again from `initial`.
    pub per_key_adaptive: Option<AdaptiveConfig>,
}

impl LimiterConfig {
    /// Checks the configuration; the error names the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.concurrency == Some(0) {
            return Err(ConfigError {
                field: "concurrency",
                problem: "must be at least 1",
            });
        }
        if self.per_key == Some(0) {
            return Err(ConfigError {
                field: "per_key",
                problem: "must be at least 1",
            });
        }
        if let Some(Err(e)) = self.adaptive.map(|a| a.validate()) {
            let field = match e.field {
                "min" => "adaptive.min",
                "max" => "adaptive.max",
                _ => "adaptive.initial",
            };
            return Err(ConfigError {
                field,
                problem: e.problem,
            });
        }
        if let Some(Err(e)) = self.per_key_adaptive.map(|a| a.validate()) {
            let field = match e.field {
                "min" => "per_key_adaptive.min",
                "max" => "per_key_adaptive.max",
                _ => "per_key_adaptive.initial",
            };
            return Err(ConfigError {
                field,
                problem: e.problem,
            });
        }
        Ok(())
    }
}

/// A configuration error; names the field at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The field at fault (`concurrency`, `per_key`, …).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid limiter option `{}`: {}",
            self.field, self.problem
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}
