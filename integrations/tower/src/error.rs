//! Why a guard could not be built.

use core::fmt;

use http::StatusCode;

/// A guard configuration that cannot work, reported at construction.
///
/// ```
/// use weir::LimiterConfig;
/// use weir_tower::{GuardError, GuardLayer};
/// let err = GuardLayer::new(LimiterConfig { concurrency: Some(0), ..Default::default() })
///     .unwrap_err();
/// assert!(matches!(err, GuardError::Limiter(e) if e.field == "concurrency"));
/// assert_eq!(
///     GuardLayer::new(LimiterConfig::default()).unwrap_err(),
///     GuardError::NoLimit,
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuardError {
    /// The limiter configuration is invalid (names the field).
    Limiter(weir::ConfigError),
    /// The configuration limits nothing: the guard would never answer 429.
    NoLimit,
    /// The rejection status must be a 4xx or 5xx (typically 429 or 503).
    RejectStatus(StatusCode),
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::Limiter(e) => write!(f, "weir guard: {e}"),
            GuardError::NoLimit => f.write_str(
                "weir guard: the limiter config sets no limit (concurrency, per_key, rate or \
                 per_key_rate); it would never shed load",
            ),
            GuardError::RejectStatus(s) => {
                write!(
                    f,
                    "weir guard: reject status {s} is not a 4xx or 5xx (use 429 or 503)"
                )
            }
        }
    }
}

impl std::error::Error for GuardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GuardError::Limiter(e) => Some(e),
            _ => None,
        }
    }
}

impl From<weir::ConfigError> for GuardError {
    fn from(e: weir::ConfigError) -> Self {
        GuardError::Limiter(e)
    }
}
