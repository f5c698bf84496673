//! Errors: a store call that failed, and why a shared acquire gave up.

use std::fmt;
use std::time::Duration;

/// A store call that failed or took longer than `timeout`. Names the call
/// and the cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    /// Which call: `"rate"`, `"lease"`, `"release"`, `"renew"`, `"pause"`.
    pub op: &'static str,
    /// What went wrong.
    pub cause: StoreFailure,
}

/// The cause of a [`StoreError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreFailure {
    /// No answer within this timeout.
    Timeout(Duration),
    /// The client or the server answered with an error.
    Redis(String),
    /// Not sent: the store is degraded and a probe went out less than a
    /// timeout ago; the last error that made it so.
    Degraded(Box<StoreError>),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            StoreFailure::Timeout(t) => {
                write!(
                    f,
                    "weir redis store: {} call timed out after {t:?}",
                    self.op
                )
            }
            StoreFailure::Redis(e) => write!(f, "weir redis store: {} call failed: {e}", self.op),
            StoreFailure::Degraded(last) => write!(
                f,
                "weir redis store: {} call not sent: the store is degraded (last error: {last})",
                self.op
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// Why [`SharedLimiter`](crate::SharedLimiter) did not admit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SharedError {
    /// The local limiter refused (queue full, cost above a cap, …).
    Limiter(weir::LimiterError),
    /// `try_acquire` only: a shared concurrency cap is full.
    Busy,
    /// `try_acquire` only: a shared quota or pause admits it after this wait.
    RateLimited {
        /// The exact wait the store computed.
        retry_after: Duration,
    },
    /// The cost exceeds a quota's burst: it can never pass.
    ExceedsBurst {
        /// Cost asked for.
        cost: u32,
    },
    /// The store failed and the policy is [`FailurePolicy::Closed`](crate::FailurePolicy::Closed).
    Store(StoreError),
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SharedError::Limiter(e) => write!(f, "{e}"),
            SharedError::Busy => f.write_str("weir: a shared concurrency cap is full"),
            SharedError::RateLimited { retry_after } => {
                write!(
                    f,
                    "weir: rate limited by the shared store; retry after {retry_after:?}"
                )
            }
            SharedError::ExceedsBurst { cost } => {
                write!(f, "weir: cost {cost} exceeds a shared quota's burst")
            }
            SharedError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SharedError {}

impl From<weir::LimiterError> for SharedError {
    fn from(e: weir::LimiterError) -> Self {
        SharedError::Limiter(e)
    }
}
