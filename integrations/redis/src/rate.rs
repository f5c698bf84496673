//! One call of `lua/gcra.lua`: the arguments for a set of quota cells, and
//! the decoded reply.
//!
//! Invariants: the cells are passed in the order the core combines them
//! (global quotas first, then per-key), so "the tightest cell" names the same
//! quota on both sides; every duration crosses the wire as a decimal string of
//! nanoseconds (Lua numbers are doubles, exact only below 2^53).

use std::time::Duration;

use redis::{RedisResult, ScriptInvocation};
use weir::{Instant, Quota};

use crate::scripts::GCRA;

/// One GCRA cell of a request: where its TAT lives, and its quota.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The Redis key of the cell.
    pub key: String,
    /// The quota it enforces.
    pub quota: Quota,
}

/// What `gcra.lua` answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateReply {
    /// Admitted (and, for a check, consumed from every cell).
    pub admitted: bool,
    /// On denial, how long until the request would pass; `None` when it never
    /// can (its cost exceeds a burst). Zero when admitted.
    pub wait: Option<Duration>,
    /// Units a check would admit now, after this call (`None`: no quotas).
    pub remaining: Option<u32>,
    /// Time until the tightest quota is full again (and any pause is over).
    pub reset_after: Duration,
    /// Time until a check of one unit would pass.
    pub retry_after: Duration,
    /// Index (into the cells passed) of the tightest quota.
    pub tightest: Option<usize>,
    /// The instant the server decided at (its `TIME`, or the injected one), ns.
    pub now: Instant,
}

/// The arguments of one `gcra.lua` call.
#[derive(Clone, Copy, Debug)]
pub struct RateCall<'a> {
    /// Quota cells, global first.
    pub cells: &'a [Cell],
    /// Pause keys that hold this request (per key, global).
    pub pauses: &'a [String],
    /// The cost.
    pub cost: u32,
    /// Consume when admitted (`false`: a peek).
    pub commit: bool,
    /// `None`: the server's clock. `Some`: an injected instant (tests).
    pub now: Option<Instant>,
    /// Extra TTL on written keys, ms.
    pub ttl_slack_ms: u64,
}

impl RateCall<'_> {
    /// The script invocation (keys and arguments).
    pub fn invocation(&self) -> ScriptInvocation<'static> {
        let mut inv = GCRA.prepare_invoke();
        for cell in self.cells {
            inv.key(&cell.key);
        }
        for pause in self.pauses {
            inv.key(pause);
        }
        inv.arg(self.now.map_or(String::new(), |t| t.as_nanos().to_string()))
            .arg(self.cost)
            .arg(if self.commit { "1" } else { "0" })
            .arg(self.ttl_slack_ms)
            .arg(self.cells.len());
        for cell in self.cells {
            let q = cell.quota;
            inv.arg(q.limit())
                .arg(weir::time::duration_nanos(q.interval()).to_string())
                .arg(q.burst());
        }
        inv
    }

    /// Run the call on `con`.
    pub async fn run<C: redis::aio::ConnectionLike>(&self, con: &mut C) -> RedisResult<RateReply> {
        let raw: RawReply = self.invocation().invoke_async(con).await?;
        decode(raw)
    }
}

type RawReply = (i64, String, i64, String, String, i64, String);

fn nanos(field: &'static str, s: &str) -> RedisResult<u64> {
    s.parse::<u64>().map_err(|_| {
        redis::RedisError::from((
            redis::ErrorKind::Parse,
            "weir gcra.lua: not a nanosecond count",
            format!("{field} = {s:?}"),
        ))
    })
}

fn decode(
    (admitted, wait, remaining, reset, retry, tightest, now): RawReply,
) -> RedisResult<RateReply> {
    Ok(RateReply {
        admitted: admitted == 1,
        wait: if wait == "-1" {
            None
        } else {
            Some(Duration::from_nanos(nanos("wait", &wait)?))
        },
        remaining: u32::try_from(remaining).ok(),
        reset_after: Duration::from_nanos(nanos("reset", &reset)?),
        retry_after: Duration::from_nanos(nanos("retry", &retry)?),
        tightest: usize::try_from(tightest)
            .ok()
            .and_then(|i| i.checked_sub(1)),
        now: Instant::from_nanos(nanos("now", &now)?),
    })
}
