//! [`RetryController`]: the keyed retry brain — budget, back-off, cooldowns
//! and per-key figures. Pure: every method takes `now`.

use alloc::vec::Vec;
use core::hash::Hash;

use crate::hash::HashMap;

use super::budget::BudgetWindow;
use super::decision::{Attempt, Decision, GiveUpReason, Outcome};
use super::histogram::LatencyHistogram;
use super::jitter::{full_jitter, SplitMix64};
use super::policy::{PolicyError, RetryPolicy};
use super::stats::FetchStats;
use crate::time::Instant;

/// The map is swept when it has grown to twice its size after the last
/// sweep, but never below this many entries.
const MIN_SWEEP: usize = 64;

/// Everything known about one key.
#[derive(Clone, Debug, Default)]
struct KeyState {
    budget: BudgetWindow,
    latency: LatencyHistogram,
    in_flight: u32,
    queued: u32,
    sent: u64,
    retried: u64,
    status_429: u64,
    network_errors: u64,
    cooldown_until: Instant,
    last_active: Instant,
}

/// Retry decisions for many keys (hosts): a [`RetryPolicy`], a retry budget
/// per key, seeded full-jitter back-off, `Retry-After` cooldowns and per-key
/// [`FetchStats`] (counters and latency percentiles).
///
/// Pure and synchronous: it reads no clock and sleeps on nothing. A fetch
/// wrapper reports each request's life — [`queued`](Self::queued) /
/// [`unqueued`](Self::unqueued) while it waits for a permit,
/// [`sent`](Self::sent) when an attempt goes out, [`decide`](Self::decide)
/// when it ends, [`done`](Self::done) when its permit is released — and does
/// what [`Decision`] says (sleep, or pause the key on its limiter).
///
/// Keys with nothing queued or in flight, no cooldown and no activity for a
/// budget window are idle: they are dropped by an amortised sweep when the
/// map has doubled, or by [`evict_idle`](Self::evict_idle). Memory is
/// O(active keys), about 0.6 KiB each.
///
/// ```
/// use core::time::Duration;
/// use weir::Instant;
/// use weir::retry::{Attempt, Decision, GiveUpReason, Outcome, RetryController, RetryPolicy};
/// let mut retry = RetryController::new(RetryPolicy::default(), 42)?;
/// let t0 = Instant::from_nanos(0);
/// let started = retry.sent(&"api.example:443", t0, 0);
/// let now = t0 + Duration::from_millis(30);
/// let attempt = Attempt {
///     method: "GET", outcome: Outcome::Status(429), retry: 0,
///     retry_after: Some(Duration::from_secs(2)), replayable: true, started,
/// };
/// // Retry-After pauses the whole key:
/// assert_eq!(
///     retry.decide(&"api.example:443", now, &attempt),
///     Decision::Retry { after: Duration::from_secs(2), pause_key_until: Some(now + Duration::from_secs(2)) },
/// );
/// // A POST is not repeated, but its Retry-After still pauses the key:
/// let post = Attempt { method: "POST", ..attempt };
/// assert_eq!(
///     retry.decide(&"api.example:443", now, &post),
///     Decision::GiveUp { reason: GiveUpReason::MethodNotRetryable, pause_key_until: Some(now + Duration::from_secs(2)) },
/// );
/// let stats = retry.stats(&"api.example:443", now).unwrap();
/// assert_eq!((stats.sent, stats.retried, stats.status_429), (1, 1, 2));
/// # Ok::<(), weir::retry::PolicyError>(())
/// ```
#[derive(Debug)]
pub struct RetryController<K> {
    policy: RetryPolicy,
    rng: SplitMix64,
    map: HashMap<K, KeyState>,
    sweep_at: usize,
    /// Latest `now` seen (a clock stepping back reads as standing still).
    floor: Instant,
}

impl<K: Hash + Eq + Clone> RetryController<K> {
    /// A controller applying `policy` (validated), its back-off jitter drawn
    /// from a PRNG seeded with `seed`.
    pub fn new(policy: RetryPolicy, seed: u64) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(RetryController {
            policy,
            rng: SplitMix64::new(seed),
            map: HashMap::default(),
            sweep_at: MIN_SWEEP,
            floor: Instant::ZERO,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Changes the retry budget. Keys' windows restart when the window
    /// length changes.
    pub fn set_budget(&mut self, budget: super::BudgetPolicy) -> Result<(), PolicyError> {
        budget.validate()?;
        self.policy.budget = budget;
        Ok(())
    }

    /// How many keys are resident.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key is resident.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A request for `key` starts waiting for a permit (or a pause of the key).
    pub fn queued(&mut self, key: &K, now: Instant) {
        let state = self.entry(key, now);
        state.queued = state.queued.saturating_add(1);
    }

    /// A request for `key` stops waiting (admitted, aborted or timed out).
    pub fn unqueued(&mut self, key: &K, now: Instant) {
        let state = self.entry(key, now);
        state.queued = state.queued.saturating_sub(1);
    }

    /// An attempt for `key` goes out now, holding a permit; `retry` is the
    /// number of retries before it (0 counts a new request in the budget).
    /// Returns `now` (clamped) as the attempt's start, for [`Attempt::started`].
    pub fn sent(&mut self, key: &K, now: Instant, retry: u32) -> Instant {
        let budget = self.policy.budget;
        let now = self.clamp(now);
        let state = self.entry(key, now);
        state.in_flight = state.in_flight.saturating_add(1);
        state.sent += 1;
        if retry == 0 {
            state.budget.record_request(&budget, now);
        }
        now
    }

    /// An attempt for `key` released its permit (body read, cancelled or
    /// errored; or the attempt failed before a response).
    pub fn done(&mut self, key: &K, now: Instant) {
        let state = self.entry(key, now);
        state.in_flight = state.in_flight.saturating_sub(1);
    }

    /// Records how `attempt` ended (latency, status counters) and decides
    /// whether to try again. Checks, in order: the outcome is retryable
    /// (status in the set, or a network error), the method may be repeated,
    /// the body can be replayed, attempts remain, and the key's budget allows
    /// one more retry (spent only when the answer is `Retry`).
    ///
    /// With a `Retry-After` (on a status the policy retries), the wait is
    /// that delay capped by `max_delay`, and the key is to be paused until
    /// then — also when the answer is to give up (attempts or budget spent,
    /// a method not repeated): the server asked the whole host to wait.
    /// Otherwise the wait is full-jitter back-off from the seeded PRNG.
    pub fn decide(&mut self, key: &K, now: Instant, attempt: &Attempt<'_>) -> Decision {
        // Swap in a placeholder (empty `Vec`s allocate nothing) to lend the
        // policy out while `self` is borrowed mutably.
        let placeholder = self.policy.clone_scalars();
        let policy = core::mem::replace(&mut self.policy, placeholder);
        let decision = self.decide_with(&policy, key, now, attempt);
        self.policy = policy;
        decision
    }

    /// [`decide`](Self::decide) under another policy for this one request
    /// (e.g. per-call options). Its `budget` is ignored: budgets are per key,
    /// so the controller's own (see [`set_budget`](Self::set_budget)) applies.
    pub fn decide_with(
        &mut self,
        policy: &RetryPolicy,
        key: &K,
        now: Instant,
        attempt: &Attempt<'_>,
    ) -> Decision {
        let now = self.clamp(now);
        let budget = self.policy.budget;
        let retryable = match attempt.outcome {
            Outcome::Status(status) => policy.retries_status(status),
            Outcome::NetworkError => true,
        };
        let verdict = if !retryable {
            Err(GiveUpReason::NotRetryable)
        } else if !policy.retries_method(attempt.method) {
            Err(GiveUpReason::MethodNotRetryable)
        } else if !attempt.replayable {
            Err(GiveUpReason::BodyNotReplayable)
        } else if attempt.retry.saturating_add(1) >= policy.attempts {
            Err(GiveUpReason::AttemptsExhausted)
        } else {
            Ok(())
        };
        let (base, max) = (policy.base_delay, policy.max_delay);
        let state = Self::entry_in(&mut self.map, &mut self.sweep_at, &budget, key, now);
        state.latency.record(now - attempt.started);
        match attempt.outcome {
            Outcome::Status(429) => state.status_429 += 1,
            Outcome::NetworkError => state.network_errors += 1,
            Outcome::Status(_) => {}
        }
        // Every `Retry-After` of a status the policy retries pauses the key,
        // whether this request is retried or not.
        let retry_after = match attempt.outcome {
            Outcome::Status(status) if policy.retries_status(status) => {
                attempt.retry_after.map(|wait| wait.min(max))
            }
            _ => None,
        };
        let pause_key_until = retry_after.filter(|d| !d.is_zero()).map(|d| now + d);
        if let Some(until) = pause_key_until {
            state.cooldown_until = state.cooldown_until.max(until);
        }
        let verdict = verdict.and_then(|()| {
            if state.budget.try_spend(&budget, now) {
                Ok(())
            } else {
                Err(GiveUpReason::BudgetExhausted)
            }
        });
        if let Err(reason) = verdict {
            return Decision::GiveUp {
                reason,
                pause_key_until,
            };
        }
        state.retried += 1;
        Decision::Retry {
            after: match retry_after {
                Some(after) => after,
                None => full_jitter(base, max, attempt.retry, &mut self.rng),
            },
            pause_key_until,
        }
    }

    /// `key`'s figures, or `None` when the key is not resident.
    pub fn stats(&self, key: &K, now: Instant) -> Option<FetchStats> {
        let now = now.max(self.floor);
        self.map.get(key).map(|s| figures(s, now))
    }

    /// Every resident key with its figures.
    pub fn all_stats(&self, now: Instant) -> Vec<(K, FetchStats)> {
        let mut all = Vec::with_capacity(self.map.len());
        self.for_each_stats(now, |k, s| all.push((k.clone(), s)));
        all
    }

    /// Calls `f` with every resident key and its figures (as
    /// [`all_stats`](Self::all_stats), without collecting them).
    pub fn for_each_stats(&self, now: Instant, mut f: impl FnMut(&K, FetchStats)) {
        let now = now.max(self.floor);
        for (k, s) in &self.map {
            f(k, figures(s, now));
        }
    }

    /// Drops every idle key now (see the type's docs).
    pub fn evict_idle(&mut self, now: Instant) {
        let now = self.clamp(now);
        let budget = self.policy.budget;
        sweep(&mut self.map, &mut self.sweep_at, &budget, now);
    }

    fn clamp(&mut self, now: Instant) -> Instant {
        self.floor = self.floor.max(now);
        self.floor
    }

    fn entry(&mut self, key: &K, now: Instant) -> &mut KeyState {
        let now = self.clamp(now);
        let budget = self.policy.budget;
        Self::entry_in(&mut self.map, &mut self.sweep_at, &budget, key, now)
    }

    fn entry_in<'m>(
        map: &'m mut HashMap<K, KeyState>,
        sweep_at: &mut usize,
        budget: &super::BudgetPolicy,
        key: &K,
        now: Instant,
    ) -> &'m mut KeyState {
        // A resident key (nearly every call) costs two lookups and no copy
        // of the key (hashing a host name twice is cheaper than allocating
        // a copy); only a new key is cloned, after a sweep if one is due.
        if !map.contains_key(key) {
            Self::insert_new(map, sweep_at, budget, key, now);
        }
        let Some(state) = map.get_mut(key) else {
            unreachable!("the key was just inserted")
        };
        state.last_active = now;
        state
    }

    /// Makes room if due (a sweep) and inserts `key`, absent, with no history.
    #[cold]
    #[inline(never)]
    fn insert_new(
        map: &mut HashMap<K, KeyState>,
        sweep_at: &mut usize,
        budget: &super::BudgetPolicy,
        key: &K,
        now: Instant,
    ) {
        if map.len() + 1 >= *sweep_at {
            sweep(map, sweep_at, budget, now);
        }
        map.insert(key.clone(), KeyState::default());
    }
}

fn figures(s: &KeyState, now: Instant) -> FetchStats {
    FetchStats {
        in_flight: s.in_flight,
        queued: s.queued,
        sent: s.sent,
        retried: s.retried,
        status_429: s.status_429,
        network_errors: s.network_errors,
        cooldown_until: (s.cooldown_until > now).then_some(s.cooldown_until),
        p50: s.latency.percentile(50.0),
        p95: s.latency.percentile(95.0),
        p99: s.latency.percentile(99.0),
    }
}

fn sweep<K: Hash + Eq>(
    map: &mut HashMap<K, KeyState>,
    sweep_at: &mut usize,
    budget: &super::BudgetPolicy,
    now: Instant,
) {
    map.retain(|_, s| {
        s.in_flight > 0
            || s.queued > 0
            || s.cooldown_until > now
            || s.last_active + budget.window > now
    });
    *sweep_at = (2 * map.len()).max(MIN_SWEEP);
    if map.capacity() > 4 * *sweep_at {
        map.shrink_to(*sweep_at);
    }
}
