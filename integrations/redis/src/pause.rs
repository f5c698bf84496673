//! One call of `lua/pause.lua`: hold a key until an instant, for every
//! process (a server's `Retry-After` cools the key for the whole fleet).
//!
//! Invariant: pauses only lengthen, as in the core's `KeyedGcra::pause_until`.

use std::time::Duration;

use redis::RedisResult;
use weir::Instant;

use crate::scripts::PAUSE;

/// Pause `key` for `pause` from the server's now (or from `now`, injected),
/// returning the instant (ns, on the server's axis) it is paused until.
pub async fn pause_for<C: redis::aio::ConnectionLike>(
    con: &mut C,
    key: &str,
    pause: Duration,
    now: Option<Instant>,
    ttl_slack_ms: u64,
) -> RedisResult<Instant> {
    let (until, _now): (String, String) = PAUSE
        .key(key)
        .arg(now.map_or(String::new(), |t| t.as_nanos().to_string()))
        .arg(weir::time::duration_nanos(pause).to_string())
        .arg("")
        .arg(ttl_slack_ms)
        .invoke_async(con)
        .await?;
    let ns = until.parse::<u64>().unwrap_or(u64::MAX);
    Ok(Instant::from_nanos(ns))
}
