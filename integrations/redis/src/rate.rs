//! One call of `lua/gcra.lua`: the arguments for a set of quota cells, and
//! the decoded reply.
//!
//! Invariants:
//! - the cells are passed in the order the core combines them (global quotas
//!   first, then per-key), so "the tightest cell" names the same quota;
//! - the script only adds, subtracts and compares: the products (`span(cost)
//!   = cost × interval`, the tolerance `burst × interval`) are computed here
//!   in `u128` scaled units (ns × limit) and sent in the script's mixed radix
//!   (seconds, nanoseconds, fraction of 1/limit ns); a cost above a burst is
//!   refused here, without a round trip, as the core refuses it;
//! - the figures (remaining, reset, retry-after of one unit) are computed from
//!   the TATs the script returns, with the core's formulas (`Tat::status`),
//!   checked against the core by the differential test.

use std::time::Duration;

use redis::{RedisResult, ScriptInvocation};
use weir::{Instant, Quota};

use crate::scripts::GCRA;

const E9: u128 = 1_000_000_000;
/// Spans beyond 2^52 s (≈ 142 million years) saturate.
const MAX_SECS: u128 = 1 << 52;

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
    /// The instant the server decided at (its `TIME`, or the injected one).
    pub now: Instant,
    /// With [`RateCall::figures`]: the key's figures after this call.
    pub figures: Option<Figures>,
}

/// The rate figures of a request's key, as `weir::RateLimiter::status`
/// gives them (for `RateLimit-*` headers and `Retry-After`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    /// Units a check would admit now (`None`: no quotas).
    pub remaining: Option<u32>,
    /// Time until the tightest quota is full again (and any pause is over).
    pub reset_after: Duration,
    /// Time until a check of one unit would pass.
    pub retry_after: Duration,
    /// Index (into the cells passed) of the tightest quota.
    pub tightest: Option<usize>,
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
    /// Also compute the [`Figures`] (one reply a little longer).
    pub figures: bool,
    /// `None`: the server's clock. `Some`: an injected instant (tests).
    pub now: Option<Instant>,
    /// Extra TTL on written keys, ms.
    pub ttl_slack_ms: u64,
}

/// One owned request for [`RedisStore::decide`](crate::RedisStore::decide),
/// which batches it with the requests of concurrent callers: a check
/// (consumed when admitted) on the server's clock, with the store's TTL slack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateRequest {
    /// Quota cells, global first.
    pub cells: Vec<Cell>,
    /// Pause keys that hold this request.
    pub pauses: Vec<String>,
    /// The cost.
    pub cost: u32,
    /// Also compute the [`Figures`].
    pub figures: bool,
}

impl RateRequest {
    /// The call for this request.
    pub fn call(&self, ttl_slack_ms: u64) -> RateCall<'_> {
        RateCall {
            cells: &self.cells,
            pauses: &self.pauses,
            cost: self.cost,
            commit: true,
            figures: self.figures,
            now: None,
            ttl_slack_ms,
        }
    }
}

/// A scaled value in the script's radix: (seconds, ns, fraction).
fn radix(scaled: u128, limit: u32) -> (u64, u64, u64) {
    let limit = u128::from(limit);
    let (ns, frac) = (scaled / limit, scaled % limit);
    let secs = (ns / E9).min(MAX_SECS);
    (secs as u64, (ns % E9) as u64, frac as u64)
}

fn interval_ns(q: &Quota) -> u128 {
    u128::from(weir::time::duration_nanos(q.interval()))
}

impl RateCall<'_> {
    /// The script invocation (keys and arguments): a batch of one.
    pub fn invocation(&self) -> ScriptInvocation<'static> {
        batch_invocation(std::slice::from_ref(self))
    }

    /// True when the cost exceeds a cell's burst: refused without a round
    /// trip, as the core refuses it.
    fn exceeds_burst(&self) -> bool {
        self.cells.iter().any(|c| self.cost > c.quota.burst())
    }

    fn refused(&self) -> RateReply {
        RateReply {
            admitted: false,
            wait: None,
            now: self.now.unwrap_or(Instant::ZERO),
            figures: None,
        }
    }

    /// This request's template: flags, sizes, cost and per-cell numbers
    /// (requests of one shape share it in a batch).
    fn template(&self) -> Vec<String> {
        let mut t = Vec::with_capacity(5 + 7 * self.cells.len());
        t.push(if self.commit { "1" } else { "0" }.to_owned());
        t.push(if self.figures { "1" } else { "0" }.to_owned());
        t.push(self.cells.len().to_string());
        t.push(self.pauses.len().to_string());
        t.push(self.cost.to_string());
        for cell in self.cells {
            let q = cell.quota;
            let span = radix(u128::from(self.cost) * interval_ns(&q), q.limit());
            let tol = radix(u128::from(q.burst()) * interval_ns(&q), q.limit());
            for v in [
                u64::from(q.limit()),
                span.0,
                span.1,
                span.2,
                tol.0,
                tol.1,
                tol.2,
            ] {
                t.push(v.to_string());
            }
        }
        t
    }

    /// Run the call on `con`.
    pub async fn run<C: redis::aio::ConnectionLike>(&self, con: &mut C) -> RedisResult<RateReply> {
        let mut replies = run_batch(std::slice::from_ref(self), con).await?;
        Ok(replies.remove(0))
    }

    /// Decode this request's part of the reply from `raw[at..]`; returns the
    /// reply and where the next request's part starts.
    fn decode(&self, raw: &[i64], at: usize) -> RedisResult<(RateReply, usize)> {
        let field = |i: usize| -> RedisResult<u64> {
            raw.get(at + i)
                .and_then(|&v| u64::try_from(v).ok())
                .ok_or_else(|| {
                    redis::RedisError::from((
                        redis::ErrorKind::Parse,
                        "weir gcra.lua: unexpected reply",
                        format!("field {} of {raw:?}", at + i),
                    ))
                })
        };
        // (seconds, ns) pairs to whole nanoseconds (saturating).
        let ns = |i: usize| -> RedisResult<u64> {
            Ok(field(i)?
                .saturating_mul(1_000_000_000)
                .saturating_add(field(i + 1)?))
        };
        let now = Instant::from_nanos(ns(3)?);
        let mut len = 5;
        let figures = if self.figures {
            let paused = Instant::from_nanos(ns(5)?);
            let ramp_next = Instant::from_nanos(ns(7)?);
            let mut tats = Vec::with_capacity(self.cells.len());
            for (i, cell) in self.cells.iter().enumerate() {
                let at = 9 + 3 * i;
                let (secs, n, f) = (field(at)?, field(at + 1)?, field(at + 2)?);
                tats.push(
                    (u128::from(secs) * E9 + u128::from(n)) * u128::from(cell.quota.limit())
                        + u128::from(f),
                );
            }
            len = 9 + 3 * self.cells.len();
            Some(figures(self.cells, &tats, now, paused, ramp_next))
        } else {
            None
        };
        let reply = RateReply {
            admitted: field(0)? == 1,
            wait: Some(Duration::from_nanos(ns(1)?)),
            now,
            figures,
        };
        Ok((reply, at + len))
    }
}

/// One `gcra.lua` invocation deciding `calls` in order (at the first call's
/// instant, with its TTL slack): each distinct key and each distinct
/// template sent once, each request as its template and key indexes.
pub fn batch_invocation(calls: &[RateCall<'_>]) -> ScriptInvocation<'static> {
    use std::collections::HashMap;
    let mut keys: HashMap<&str, usize> = HashMap::new();
    let mut key_order: Vec<&str> = Vec::new();
    let mut templates: HashMap<Vec<String>, usize> = HashMap::new();
    let mut template_order: Vec<Vec<String>> = Vec::new();
    let mut requests: Vec<usize> = Vec::new();
    for call in calls {
        let t = call.template();
        let next = template_order.len() + 1;
        let index = *templates.entry(t).or_insert_with_key(|t| {
            template_order.push(t.clone());
            next
        });
        requests.push(index);
        let named = call.cells.iter().map(|c| c.key.as_str());
        for key in named.chain(call.pauses.iter().map(String::as_str)) {
            let next = key_order.len() + 1;
            requests.push(*keys.entry(key).or_insert_with(|| {
                key_order.push(key);
                next
            }));
        }
    }
    let mut inv = GCRA.prepare_invoke();
    for key in key_order {
        inv.key(key);
    }
    let first = calls.first();
    inv.arg(
        first
            .and_then(|c| c.now)
            .map_or(String::new(), |t| t.as_nanos().to_string()),
    )
    .arg(first.map_or(0, |c| c.ttl_slack_ms))
    .arg(template_order.len());
    for t in template_order {
        for v in t {
            inv.arg(v);
        }
    }
    inv.arg(calls.len());
    for r in requests {
        inv.arg(r);
    }
    inv
}

/// Decide `calls` in order in one script call, each exactly as if it were
/// its own call made right after the one before, at one instant. Every call
/// must have the same `now` (`None`: the server's `TIME`) and TTL slack, else
/// a client error names them. A call whose cost exceeds a burst is refused
/// here and not sent. The replies are in the order of `calls`.
///
/// ```no_run
/// # async fn f(con: &mut redis::aio::MultiplexedConnection) -> Result<(), Box<dyn std::error::Error>> {
/// use weir::Quota;
/// use weir_redis::{rate::run_batch, Cell, RateCall};
/// let cells = [Cell { key: "{demo}:r".into(), quota: Quota::per_second(2)? }];
/// let call = RateCall {
///     cells: &cells, pauses: &[], cost: 1, commit: true, figures: false, now: None, ttl_slack_ms: 1000,
/// };
/// let replies = run_batch(&[call, call, call], con).await?;
/// // Burst 2: the third is refused, with the exact wait.
/// assert_eq!(replies.iter().filter(|r| r.admitted).count(), 2);
/// # Ok(()) }
/// ```
pub async fn run_batch<C: redis::aio::ConnectionLike>(
    calls: &[RateCall<'_>],
    con: &mut C,
) -> RedisResult<Vec<RateReply>> {
    let sent: Vec<RateCall<'_>> = calls
        .iter()
        .filter(|c| !c.exceeds_burst())
        .copied()
        .collect();
    if let Some(odd) = calls
        .iter()
        .find(|c| (c.now, c.ttl_slack_ms) != (calls[0].now, calls[0].ttl_slack_ms))
    {
        return Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "weir gcra.lua: a batch is decided at one instant with one TTL slack",
            format!(
                "now {:?} / slack {} ms after {:?} / {} ms",
                odd.now, odd.ttl_slack_ms, calls[0].now, calls[0].ttl_slack_ms
            ),
        )));
    }
    let raw: Vec<i64> = if sent.is_empty() {
        Vec::new()
    } else {
        batch_invocation(&sent).invoke_async(con).await?
    };
    let mut at = 0;
    let mut replies = Vec::with_capacity(calls.len());
    for call in calls {
        if call.exceeds_burst() {
            replies.push(call.refused());
        } else {
            let (reply, next) = call.decode(&raw, at)?;
            replies.push(reply);
            at = next;
        }
    }
    Ok(replies)
}

/// `ceil(scaled / limit)` as an instant (the core's `instant_at_or_after`).
fn at_or_after(scaled: u128, limit: u32) -> Instant {
    let limit = u128::from(limit);
    let ns = scaled / limit + u128::from(!scaled.is_multiple_of(limit));
    Instant::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// The core's `RateLimiter::status` formulas over the returned TATs, the
/// pause and the ramp's next admission (`Instant::ZERO`: none).
fn figures(
    cells: &[Cell],
    tats: &[u128],
    now: Instant,
    paused_until: Instant,
    ramp_next: Instant,
) -> Figures {
    let paused = paused_until > now;
    let mut tightest: Option<(usize, u64, Duration)> = None;
    let mut not_until = [paused_until, ramp_next]
        .into_iter()
        .filter(|&t| t > now)
        .max();
    for (i, (cell, &tat)) in cells.iter().zip(tats).enumerate() {
        let q = cell.quota;
        let now_s = u128::from(now.as_nanos()) * u128::from(q.limit());
        let tol = u128::from(q.burst()) * interval_ns(&q);
        let units = tol.saturating_sub(tat.saturating_sub(now_s)) / interval_ns(&q);
        let units = u64::try_from(units).unwrap_or(u64::MAX);
        let reset = at_or_after(tat, q.limit()).saturating_duration_since(now);
        match tightest {
            Some((_, r, d)) if (units, std::cmp::Reverse(reset)) >= (r, std::cmp::Reverse(d)) => {}
            _ => tightest = Some((i, units, reset)),
        }
        // decide(1)
        let new_tat = tat.max(now_s) + interval_ns(&q);
        let earliest = new_tat.saturating_sub(tol);
        if earliest > now_s {
            let at = at_or_after(earliest, q.limit());
            not_until = Some(not_until.map_or(at, |t| t.max(at)));
        }
    }
    let remaining = tightest.map(|(_, units, _)| if paused { 0 } else { units });
    let mut reset_after = tightest.map_or(Duration::ZERO, |(_, _, reset)| reset);
    if paused {
        reset_after = reset_after.max(paused_until.saturating_duration_since(now));
    }
    let retry_after = if remaining.is_some_and(|r| r >= 1) && !paused {
        Duration::ZERO
    } else {
        not_until.map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    };
    Figures {
        remaining: remaining.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
        reset_after,
        retry_after,
        tightest: tightest.map(|(i, _, _)| i),
    }
}
