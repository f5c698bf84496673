//! `lua/gcra.lua` against the core's `weir::RateLimiter`: random schedules of
//! (time, key, cost, quotas, pauses) through both, every decision, every
//! retry-after and every status figure compared to the nanosecond. The Lua
//! side runs on a real redis-server with the schedule's time injected. Some
//! steps are batches (2–8 requests at one instant in one script call), which
//! must decide exactly as the same requests made one by one on the core.

mod support;

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use weir::{Denied, Instant, ManualClock, Quota, RateLimiter};
use weir_redis::{pause::pause_for, rate::run_batch, Cell, RateCall, RateReply};

/// xorshift64*: a reproducible schedule from a seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_quota(rng: &mut Rng) -> Quota {
    let limit = match rng.below(4) {
        0 => 1 + rng.below(3) as u32,
        1 => 1 + rng.below(20) as u32,
        2 => 1 + rng.below(1000) as u32,
        _ => u32::MAX - rng.below(3) as u32,
    };
    let interval_ns = match rng.below(5) {
        0 => 1 + rng.below(10),
        1 => 1_000_000 * (1 + rng.below(50)),
        2 => 1_000_000_000,
        3 => 333_333_337 + rng.below(1_000),
        _ => 60_000_000_000 * (1 + rng.below(60)),
    };
    let burst = match rng.below(3) {
        0 => limit,
        1 => 1 + rng.below(u64::from(limit.min(50))) as u32,
        _ => 1 + rng.below(100) as u32,
    };
    Quota::new(limit, Duration::from_nanos(interval_ns))
        .unwrap()
        .with_burst(burst)
        .unwrap()
}

const KEYS: [&str; 3] = ["a.example", "b.example", "c"];

struct Schedule {
    tag: String,
    global: Vec<Quota>,
    per_key: Vec<Quota>,
}

impl Schedule {
    fn cells(&self, key: &str) -> Vec<Cell> {
        let global = self.global.iter().enumerate().map(|(i, &quota)| Cell {
            key: format!("{{{}}}:g:{i}", self.tag),
            quota,
        });
        let keyed = self.per_key.iter().enumerate().map(|(i, &quota)| Cell {
            key: format!("{{{}}}:k:{key}:{i}", self.tag),
            quota,
        });
        global.chain(keyed).collect()
    }
    fn pauses(&self, key: &str) -> Vec<String> {
        vec![
            format!("{{{}}}:p:{key}", self.tag),
            format!("{{{}}}:p*", self.tag),
        ]
    }
}

async fn lua_check(
    con: &mut MultiplexedConnection,
    s: &Schedule,
    key: &str,
    now: Instant,
    cost: u32,
    commit: bool,
) -> RateReply {
    let cells = s.cells(key);
    let pauses = s.pauses(key);
    RateCall {
        cells: &cells,
        pauses: &pauses,
        cost,
        commit,
        figures: true,
        now: Some(now),
        ttl_slack_ms: 60_000,
    }
    .run(con)
    .await
    .expect("gcra.lua")
}

/// One check's core decision (and status) against the Lua reply.
fn compare(
    core: &RateLimiter<&'static str, ManualClock>,
    s: &Schedule,
    key: &'static str,
    now: Instant,
    want: Result<Option<weir::limiter::RateStatus>, Denied>,
    lua: &RateReply,
    ctx: &str,
) {
    let cells = s.cells(key);
    match want {
        Ok(Some(st)) => {
            assert!(lua.admitted, "core admitted, lua denied: {ctx} lua {lua:?}");
            let fig = lua.figures.unwrap();
            assert_eq!(fig.remaining, Some(st.remaining), "remaining: {ctx}");
            assert_eq!(fig.reset_after, st.reset_after, "reset: {ctx}");
            assert_eq!(fig.retry_after, st.retry_after, "retry1: {ctx}");
            assert_eq!(
                cells[fig.tightest.unwrap()].quota,
                st.quota,
                "tightest: {ctx}"
            );
        }
        Ok(None) => unreachable!("schedules have quotas"),
        Err(Denied::NotUntil(at)) => {
            assert!(!lua.admitted, "core denied, lua admitted: {ctx}");
            assert_eq!(Some(at - now), lua.wait, "retry-after: {ctx}");
            let st = core.status(&key).unwrap();
            let fig = lua.figures.unwrap();
            assert_eq!(
                fig.remaining,
                Some(st.remaining),
                "remaining (denied): {ctx}"
            );
            assert_eq!(fig.reset_after, st.reset_after, "reset (denied): {ctx}");
            assert_eq!(fig.retry_after, st.retry_after, "retry1 (denied): {ctx}");
        }
        Err(Denied::ExceedsBurst { .. }) => {
            assert!(
                !lua.admitted && lua.wait.is_none(),
                "exceeds burst: {ctx} {lua:?}"
            );
        }
    }
    if lua.wait.is_some() {
        assert_eq!(lua.now, now, "the injected instant");
    }
}

async fn run_schedule(con: &mut MultiplexedConnection, seed: u64, steps: usize) -> usize {
    let mut rng = Rng(seed | 1);
    let mut global = Vec::new();
    let mut per_key = Vec::new();
    for _ in 0..rng.below(2) {
        global.push(random_quota(&mut rng));
    }
    for _ in 0..1 + rng.below(2) {
        per_key.push(random_quota(&mut rng));
    }
    let s = Schedule {
        tag: format!("diff{seed}"),
        global,
        per_key,
    };
    // An epoch-like origin, so the Lua side works with values past 2^53.
    let clock = ManualClock::starting_at(Instant::from_nanos(
        1_765_000_000_000_000_000 + rng.below(1 << 40),
    ));
    let core = RateLimiter::new(&s.global, &s.per_key, clock.clone());
    let max_burst = s
        .global
        .iter()
        .chain(&s.per_key)
        .map(|q| q.burst())
        .max()
        .unwrap();
    let shortest = s
        .global
        .iter()
        .chain(&s.per_key)
        .map(|q| q.interval().as_nanos() as u64)
        .min()
        .unwrap();
    let mut decisions = 0;
    for step in 0..steps {
        let advance = match rng.below(4) {
            0 => 0,
            1 => 1 + rng.below(3),
            _ => rng.below(2 * shortest + 1),
        };
        clock.advance(Duration::from_nanos(advance));
        let now = weir::Clock::now(&clock);
        let key = KEYS[rng.below(KEYS.len() as u64) as usize];
        let ctx = format!(
            "seed {seed} step {step} key {key} at {} (quotas {:?} / {:?})",
            now.as_nanos(),
            s.global,
            s.per_key
        );
        match rng.below(20) {
            0 => {
                let until = now + Duration::from_nanos(rng.below(3 * shortest + 1));
                core.pause_until(&key, until);
                let mut c = con.clone();
                pause_for(
                    &mut c,
                    &s.pauses(key)[0],
                    until - now,
                    true,
                    Some(now),
                    60_000,
                )
                .await
                .unwrap();
            }
            1 => {
                let until = now + Duration::from_nanos(rng.below(2 * shortest + 1));
                core.pause_all_until(until);
                let mut c = con.clone();
                pause_for(
                    &mut c,
                    &s.pauses(key)[1],
                    until - now,
                    false,
                    Some(now),
                    60_000,
                )
                .await
                .unwrap();
            }
            3..=5 => {
                // A batch: 2..=8 requests at this instant (checks of random
                // keys and costs, some peeks) in one script call, against
                // the same requests made one by one on the core.
                let n = 2 + rng.below(7) as usize;
                let mut reqs = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = KEYS[rng.below(KEYS.len() as u64) as usize];
                    let cost = match rng.below(10) {
                        0 => 0,
                        1 => 1 + rng.below(u64::from(max_burst) + 1) as u32,
                        _ => 1,
                    };
                    let commit = rng.below(5) != 0;
                    reqs.push((key, cost, commit, s.cells(key), s.pauses(key)));
                }
                let calls: Vec<RateCall<'_>> = reqs
                    .iter()
                    .map(|(_, cost, commit, cells, pauses)| RateCall {
                        cells,
                        pauses,
                        cost: *cost,
                        commit: *commit,
                        figures: true,
                        now: Some(now),
                        ttl_slack_ms: 60_000,
                    })
                    .collect();
                let replies = run_batch(&calls, con).await.expect("gcra.lua batch");
                assert_eq!(replies.len(), n);
                for (i, ((key, cost, commit, _, _), lua)) in reqs.iter().zip(&replies).enumerate() {
                    let ctx = format!("{ctx}, batch of {n}: request {i} (key {key}, cost {cost}, commit {commit})");
                    if *commit {
                        let want = core.check_with_status(key, *cost);
                        decisions += 1;
                        compare(&core, &s, key, now, want, lua, &ctx);
                    } else {
                        assert_eq!(lua.admitted, core.peek(key, *cost).is_ok(), "peek: {ctx}");
                    }
                }
            }
            2 => {
                let peek = core.peek(&key, 1);
                let lua = lua_check(con, &s, key, now, 1, false).await;
                assert_eq!(lua.admitted, peek.is_ok(), "peek: {ctx}");
            }
            _ => {
                let cost = match rng.below(10) {
                    0 => 0,
                    1 => 1 + rng.below(u64::from(max_burst) + 1) as u32,
                    _ => 1,
                };
                let want = core.check_with_status(&key, cost);
                let lua = lua_check(con, &s, key, now, cost, true).await;
                decisions += 1;
                compare(&core, &s, key, now, want, &lua, &ctx);
            }
        }
    }
    decisions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcra_lua_matches_core_to_the_nanosecond() {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let base: u64 = std::env::var("WEIR_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let schedules = std::env::var("WEIR_DIFF_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut decisions = 0;
    for i in 0..schedules {
        decisions += run_schedule(&mut con, base.wrapping_mul(1_000_003).wrapping_add(i), 60).await;
    }
    assert!(
        decisions > schedules as usize * 40,
        "{decisions} decisions compared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keys_expire_from_the_server() {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    // 20 per 100 ms, burst 5, on the server's own clock, with a 1 ms TTL slack.
    let quota = Quota::new(20, Duration::from_millis(100))
        .unwrap()
        .with_burst(5)
        .unwrap();
    let mut admitted = 0;
    for key in ["x", "y", "z"] {
        let cells = [Cell {
            key: format!("{{t}}:k:{key}"),
            quota,
        }];
        let pauses = [format!("{{t}}:p:{key}")];
        for _ in 0..8 {
            let call = RateCall {
                cells: &cells,
                pauses: &pauses,
                cost: 1,
                commit: true,
                figures: false,
                now: None,
                ttl_slack_ms: 1,
            };
            admitted += u32::from(call.run(&mut con).await.unwrap().admitted);
        }
        pause_for(
            &mut con,
            &pauses[0],
            Duration::from_millis(30),
            true,
            None,
            1,
        )
        .await
        .unwrap();
    }
    assert!(
        admitted >= 15,
        "a burst of 5 per key admitted at once ({admitted})"
    );
    let size: u64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
    assert_eq!(size, 6, "three cells and three pauses while busy");
    // Each cell is full within 5 units × 5 ms = 25 ms (+1 ms slack); pauses end
    // at 30 ms and their ramps six 30 ms steps later, at 210 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let size: u64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
    assert_eq!(size, 0, "idle keys expired");
}
