//! What happened to an attempt ([`Attempt`]) and what to do next ([`Decision`]).

use core::fmt;
use core::time::Duration;

use crate::time::Instant;

/// How an attempt ended, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Response headers arrived with this status.
    Status(u16),
    /// No response: connection refused or reset, DNS failure, …
    NetworkError,
}

/// One finished attempt, as [`RetryController::decide`](super::RetryController::decide) needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt<'a> {
    /// The request method (any case).
    pub method: &'a str,
    /// How the attempt ended.
    pub outcome: Outcome,
    /// Retries made before this attempt (0 for the first attempt).
    pub retry: u32,
    /// The parsed `Retry-After` of the response, if any (see
    /// [`parse_retry_after`](super::parse_retry_after)).
    pub retry_after: Option<Duration>,
    /// Whether the request body can be sent again (no body, or a buffered
    /// one). Streamed bodies are not.
    pub replayable: bool,
    /// When the attempt was sent (its latency is `now - started`).
    pub started: Instant,
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Try again after `after`. When `pause_key_until` is set (the server sent
    /// `Retry-After`), the whole key should be paused until then — every
    /// queued request for it waits — and this retry simply queues again.
    Retry {
        /// How long this request should wait before its next attempt.
        after: Duration,
        /// Pause the whole key until this instant (from `Retry-After`).
        pause_key_until: Option<Instant>,
    },
    /// Keep this outcome: hand the response (or error) to the caller. A
    /// `Retry-After` still pauses the key (`pause_key_until`): the server
    /// asked every request to that host to wait, not only this one's retry.
    GiveUp {
        /// Why the outcome is final.
        reason: GiveUpReason,
        /// Pause the whole key until this instant (from `Retry-After`).
        pause_key_until: Option<Instant>,
    },
}

impl Decision {
    /// A final answer with no pause.
    pub const fn give_up(reason: GiveUpReason) -> Decision {
        Decision::GiveUp {
            reason,
            pause_key_until: None,
        }
    }

    /// True for [`Decision::Retry`].
    pub const fn is_retry(&self) -> bool {
        matches!(self, Decision::Retry { .. })
    }

    /// The instant to pause the key until, retried or not (a `Retry-After`).
    pub const fn pause_key_until(&self) -> Option<Instant> {
        match *self {
            Decision::Retry {
                pause_key_until, ..
            }
            | Decision::GiveUp {
                pause_key_until, ..
            } => pause_key_until,
        }
    }
}

/// Why an outcome is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GiveUpReason {
    /// Nothing to retry: a success, or a status not in the policy's set.
    NotRetryable,
    /// The method is not one the policy repeats (e.g. `POST`).
    MethodNotRetryable,
    /// The request body was a stream and cannot be sent again.
    BodyNotReplayable,
    /// The policy's attempts are used up.
    AttemptsExhausted,
    /// The key's retry budget is spent for now.
    BudgetExhausted,
}

impl GiveUpReason {
    /// A stable short name (`"not-retryable"`, `"budget-exhausted"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::NotRetryable => "not-retryable",
            GiveUpReason::MethodNotRetryable => "method-not-retryable",
            GiveUpReason::BodyNotReplayable => "body-not-replayable",
            GiveUpReason::AttemptsExhausted => "attempts-exhausted",
            GiveUpReason::BudgetExhausted => "budget-exhausted",
        }
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
