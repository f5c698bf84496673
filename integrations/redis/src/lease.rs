//! Calls of `lua/lease.lua`: concurrency permits as leases in sorted sets.
//!
//! Invariants: a permit's units are taken in every cap's set or in none;
//! release is by permit id and idempotent; a lease not renewed within
//! `lease` expires on the server and its units come back to everyone.

use std::time::Duration;

use redis::RedisResult;

use crate::scripts::LEASE;

/// One permit's identity and shape.
#[derive(Clone, Debug)]
pub struct LeaseCall<'a> {
    /// The cap sets (global first, then per-key).
    pub sets: &'a [String],
    /// The caps, one per set.
    pub caps: &'a [usize],
    /// The permit id.
    pub id: &'a str,
    /// Units.
    pub cost: u32,
    /// Lease duration.
    pub lease: Duration,
    /// Where releases are published.
    pub channel: &'a str,
    /// Injected now (ms), for tests; `None`: the server's clock.
    pub now_ms: Option<u64>,
}

/// What an acquire answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseReply {
    /// Held until this server instant (ms).
    Granted {
        /// Lease expiry, server ms.
        expiry_ms: u64,
    },
    /// A cap is full.
    Full {
        /// Index of the full cap's set.
        cap: usize,
        /// Time until the earliest live lease of that cap expires (`None`:
        /// the cap holds no lease at all: the cost exceeds it).
        earliest_expiry_in: Option<Duration>,
    },
}

impl LeaseCall<'_> {
    fn invocation(&self, op: &str) -> redis::ScriptInvocation<'static> {
        let mut inv = LEASE.prepare_invoke();
        for set in self.sets {
            inv.key(set);
        }
        inv.arg(self.now_ms.map_or(String::new(), |t| t.to_string()))
            .arg(op)
            .arg(self.id)
            .arg(self.cost)
            .arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX))
            .arg(self.channel);
        if op == "acquire" {
            for cap in self.caps {
                inv.arg(*cap);
            }
        }
        inv
    }

    /// Take the permit in every set, or learn which cap is full.
    pub async fn acquire<C: redis::aio::ConnectionLike>(
        &self,
        con: &mut C,
    ) -> RedisResult<LeaseReply> {
        let reply: Vec<i64> = self.invocation("acquire").invoke_async(con).await?;
        Ok(match reply.as_slice() {
            [1, expiry, ..] => LeaseReply::Granted {
                expiry_ms: u64::try_from(*expiry).unwrap_or(0),
            },
            [0, cap, earliest, now] => LeaseReply::Full {
                cap: usize::try_from(*cap - 1).unwrap_or(0),
                earliest_expiry_in: u64::try_from(*earliest).ok().map(|e| {
                    Duration::from_millis(e.saturating_sub(u64::try_from(*now).unwrap_or(0)))
                }),
            },
            other => {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Parse,
                    "weir lease.lua: unexpected acquire reply",
                    format!("{other:?}"),
                )))
            }
        })
    }

    /// Give the permit back; the number of units actually removed (0 for a
    /// second release, or a lease that had expired).
    pub async fn release<C: redis::aio::ConnectionLike>(&self, con: &mut C) -> RedisResult<u64> {
        let reply: Vec<i64> = self.invocation("release").invoke_async(con).await?;
        Ok(reply.first().map_or(0, |&n| u64::try_from(n).unwrap_or(0)))
    }

    /// Extend the lease; `false` when it had already expired (then lost).
    pub async fn renew<C: redis::aio::ConnectionLike>(&self, con: &mut C) -> RedisResult<bool> {
        let reply: Vec<i64> = self.invocation("renew").invoke_async(con).await?;
        Ok(reply.first() == Some(&1))
    }
}
