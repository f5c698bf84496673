//! [`FetchStats`]: one key's figures at one moment.

use core::time::Duration;

use crate::time::Instant;

/// One key's figures, as [`RetryController::stats`](super::RetryController::stats) reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Requests of this key holding a permit (sent, body not yet done).
    pub in_flight: u32,
    /// Requests of this key waiting for a permit (a pause of the key included).
    pub queued: u32,
    /// Attempts sent (first attempts and retries).
    pub sent: u64,
    /// Retries decided.
    pub retried: u64,
    /// `429 Too Many Requests` responses seen.
    pub status_429: u64,
    /// Network errors seen.
    pub network_errors: u64,
    /// The key is paused (`Retry-After`) until then, if in the future.
    pub cooldown_until: Option<Instant>,
    /// Latency to response headers, 50th percentile (`None`: no sample yet).
    pub p50: Option<Duration>,
    /// 95th percentile.
    pub p95: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
}
