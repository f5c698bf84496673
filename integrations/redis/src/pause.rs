//! One call of `lua/pause.lua`: hold a key until an instant, for every
//! process (a server's `Retry-After` cools the key for the whole fleet).
//!
//! Invariants: pauses only lengthen, and a per-key pause is followed by the
//! core's ramp (`KeyedGcra::pause_until`); `gcra.lua` reads both.

use std::time::Duration;

use redis::RedisResult;
use weir::Instant;

use crate::scripts::PAUSE;

/// Pause `key` for `pause` from the server's now (or from `now`, injected),
/// returning the instant (ns, on the server's axis) it is paused until
/// (`Instant::ZERO` when a zero pause changed nothing). With `ramp`, the key
/// then eases back in as the core's `KeyedGcra` does after a pause.
pub async fn pause_for<C: redis::aio::ConnectionLike>(
    con: &mut C,
    key: &str,
    pause: Duration,
    ramp: bool,
    now: Option<Instant>,
    ttl_slack_ms: u64,
) -> RedisResult<Instant> {
    let (secs, ns): (u64, u64) = PAUSE
        .key(key)
        .arg(now.map_or(String::new(), |t| t.as_nanos().to_string()))
        .arg(weir::time::duration_nanos(pause).to_string())
        .arg(if ramp { "1" } else { "0" })
        .arg(ttl_slack_ms)
        .invoke_async(con)
        .await?;
    Ok(Instant::from_nanos(
        secs.saturating_mul(1_000_000_000).saturating_add(ns),
    ))
}
