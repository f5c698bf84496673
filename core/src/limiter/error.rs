use core::fmt;

use crate::Instant;

/// Why a [`Limiter`](super::Limiter) did not hand out a permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimiterError {
    /// `try_acquire` only: a concurrency permit is not free now (or others
    /// are already waiting for one).
    Busy,
    /// `try_acquire` only: a rate quota (or a pause) allows it at `not_until`,
    /// not before. Usable as `Retry-After`.
    RateLimited {
        /// The earliest instant the same request could be admitted.
        not_until: Instant,
    },
    /// `acquire` only: `max_queue` acquires are already waiting.
    QueueFull {
        /// The configured `max_queue`.
        max: usize,
    },
    /// The cost asks for more concurrency permits than a limit can ever give.
    TooLarge {
        /// Permits asked for.
        requested: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The cost exceeds a rate quota's burst: it could never be admitted.
    ExceedsBurst {
        /// Cost asked for.
        cost: u32,
        /// The burst it exceeds.
        burst: u32,
    },
}

impl fmt::Display for LimiterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimiterError::Busy => f.write_str("no concurrency permit is free"),
            LimiterError::RateLimited { not_until } => {
                write!(f, "rate limited until {} ns", not_until.as_nanos())
            }
            LimiterError::QueueFull { max } => {
                write!(
                    f,
                    "queue full: {max} acquires are already waiting (max_queue)"
                )
            }
            LimiterError::TooLarge { requested, limit } => {
                write!(f, "cost {requested} exceeds the concurrency limit {limit}")
            }
            LimiterError::ExceedsBurst { cost, burst } => {
                write!(f, "cost {cost} exceeds the rate quota's burst {burst}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LimiterError {}
