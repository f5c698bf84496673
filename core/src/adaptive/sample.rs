//! [`Sample`] and [`Outcome`]: what a finished request tells a controller.
//!
//! Invariants:
//! - a sample is self-contained: its start is `now − rtt`, so a controller
//!   needs no per-request state and can drop samples that started before
//!   its last change of limit;
//! - only [`Outcome::Ok`] samples carry a usable round-trip time: a 429 or a
//!   reset comes back fast and would fake a low RTT, a timeout's RTT is the
//!   timeout itself.

use core::time::Duration;

/// How a request ended, as far as the controller cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Served (any status that does not signal overload). Its RTT counts.
    Ok,
    /// The server dropped it (connection reset or refused): overload.
    Dropped,
    /// `429 Too Many Requests`: overload.
    TooManyRequests,
    /// `503 Service Unavailable`: overload.
    Unavailable,
    /// No answer within the caller's deadline: overload.
    Timeout,
    /// Cancelled by the caller before it finished: says nothing about the
    /// server, so the controller ignores it.
    Cancelled,
}

impl Outcome {
    /// True for the outcomes that make a controller back off.
    #[inline]
    pub fn is_overload(self) -> bool {
        matches!(
            self,
            Outcome::Dropped | Outcome::TooManyRequests | Outcome::Unavailable | Outcome::Timeout
        )
    }

    /// The outcome an HTTP status means: 429 and 503 are overload, every
    /// other status is [`Outcome::Ok`] (a 404 was served quickly and honestly).
    ///
    /// ```
    /// use weir::adaptive::Outcome;
    /// assert_eq!(Outcome::from_status(429), Outcome::TooManyRequests);
    /// assert_eq!(Outcome::from_status(503), Outcome::Unavailable);
    /// assert_eq!(Outcome::from_status(500), Outcome::Ok);
    /// ```
    pub fn from_status(status: u16) -> Outcome {
        match status {
            429 => Outcome::TooManyRequests,
            503 => Outcome::Unavailable,
            _ => Outcome::Ok,
        }
    }
}

/// One finished request: its round-trip time, how many requests of the same
/// key were in flight when it started (itself included), and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sample {
    /// Time from sending to the answer (or to giving up).
    pub rtt: Duration,
    /// Requests in flight when this one started, itself included.
    pub in_flight: u32,
    /// How it ended.
    pub outcome: Outcome,
}

impl Sample {
    /// A sample of a request that was served.
    pub fn ok(rtt: Duration, in_flight: u32) -> Self {
        Sample {
            rtt,
            in_flight,
            outcome: Outcome::Ok,
        }
    }
}
