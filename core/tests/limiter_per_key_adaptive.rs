//! The limiter's adaptive per-key caps (`LimiterConfig::per_key_adaptive`):
//! each key's controller sets that key's cap alone, a request above a key's
//! cap is admitted alone, a cap survives the eviction of its key's
//! semaphore slot and goes with its controller, and against two simulated
//! hosts of different capacities behind one limiter each key finds its own.

use core::time::Duration;
use std::sync::Arc;

use weir::adaptive::sim::{run, Fixed, Policy, Scenario, ServerSpec};
use weir::adaptive::{AdaptiveConfig, Outcome, Sample, IDLE_AFTER};
use weir::{InFlight, Instant, Limiter, LimiterConfig, LimiterError, LimiterGrant, ManualClock};

fn per_key(min: u32, max: u32, initial: u32) -> LimiterConfig {
    LimiterConfig {
        per_key_adaptive: Some(AdaptiveConfig {
            min,
            max,
            initial,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Reports a 429 for `key`.
fn refuse(limiter: &Limiter<String, ManualClock>, key: &str) -> Option<u32> {
    let key = key.to_owned();
    let started = limiter.in_flight_now(&key);
    let rtt = Duration::from_millis(2);
    limiter
        .report(&key, started, rtt, Outcome::TooManyRequests)
        .key
}

/// Takes every permit `key` can get now.
fn fill(limiter: &Limiter<String, ManualClock>, key: &str) -> Vec<LimiterGrant> {
    let mut held = Vec::new();
    while let Ok(g) = limiter.try_acquire_grant(&key.to_owned(), 1) {
        held.push(g);
        assert!(held.len() <= 1000, "no cap on {key}");
    }
    held
}

#[test]
fn a_bad_per_key_adaptive_config_names_its_field() {
    let err = Limiter::<u8, _>::new(per_key(5, 10, 20), ManualClock::new()).unwrap_err();
    assert_eq!(err.field, "per_key_adaptive.initial");
}

#[test]
fn each_key_has_its_own_cap_and_the_hard_cap_bounds_it() {
    let clock = ManualClock::new();
    let config = LimiterConfig {
        per_key: Some(8),
        ..per_key(1, 100, 10)
    };
    let limiter = Limiter::new(config, clock.clone()).unwrap();
    // `initial` 10 capped by per_key 8.
    assert_eq!(limiter.key_limit(&"a".to_owned()), Some(8));
    assert_eq!(fill(&limiter, "a").len(), 8);
    clock.advance(Duration::from_secs(1));
    assert_eq!(refuse(&limiter, "b"), Some(6)); // 8 × 0.8, from the capped 8
    assert_eq!(fill(&limiter, "b").len(), 6);
    assert_eq!(fill(&limiter, "c").len(), 8, "other keys keep theirs");
    let stats = limiter.adaptive_stats_of(&"b".to_owned()).unwrap();
    assert_eq!(stats.limit, 6);
    assert_eq!(limiter.adaptive_key_stats(10).len(), 1);
    assert_eq!(limiter.adaptive_key_stats(0).len(), 0);
    assert_eq!(limiter.adaptive_stats(), None, "no global adaptive cap");
}

#[test]
fn lowering_a_key_cap_revokes_nothing_and_takes_effect_on_release() {
    let clock = ManualClock::new();
    let limiter = Limiter::new(per_key(1, 100, 10), clock.clone()).unwrap();
    let mut held = fill(&limiter, "a");
    assert_eq!(held.len(), 10);
    assert_eq!(refuse(&limiter, "a"), Some(8));
    assert_eq!(limiter.stats().in_flight, 10, "nothing revoked");
    // 10 held, cap 8: releasing two still admits nothing, the third does.
    for _ in 0..2 {
        limiter.release(held.pop().unwrap());
        assert!(matches!(
            limiter.try_acquire_grant(&"a".to_owned(), 1),
            Err(LimiterError::Busy)
        ));
    }
    limiter.release(held.pop().unwrap());
    held.push(limiter.try_acquire_grant(&"a".to_owned(), 1).unwrap());
    assert_eq!(limiter.in_flight_of(&"a".to_owned()), 8);
    for g in held {
        limiter.release(g);
    }
    assert_eq!(limiter.stats().in_flight, 0);
}

#[test]
fn a_request_above_its_keys_cap_is_admitted_alone() {
    futures::executor::block_on(async {
        let clock = ManualClock::new();
        let limiter = Arc::new(Limiter::new(per_key(1, 100, 2), clock.clone()).unwrap());
        let key = "a".to_owned();
        // Nothing in flight: 5 > cap 2 goes through alone.
        let big = limiter.try_acquire_grant(&key, 5).unwrap();
        assert!(limiter.try_acquire_grant(&key, 1).is_err());
        limiter.release(big);
        // Behind a small one it waits, and gets in when the key empties.
        let small = limiter.try_acquire(key.clone(), 1).unwrap();
        let mut waiting = Box::pin(limiter.acquire(key.clone(), 5));
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        drop(small);
        let big = waiting.await.unwrap();
        assert_eq!(limiter.in_flight_of(&key), 5);
        drop(big);
        assert_eq!(limiter.stats().in_flight, 0);
    });
}

#[test]
fn a_key_cap_survives_its_slot_and_goes_with_its_controller() {
    let clock = ManualClock::new();
    let limiter = Limiter::new(per_key(1, 100, 10), clock.clone()).unwrap();
    for _ in 0..3 {
        refuse(&limiter, "a"); // 10 → 8 → 6 → 4 (one cut per window: new windows each time)
        clock.advance(Duration::from_secs(1));
    }
    let cap = limiter.key_limit(&"a".to_owned()).unwrap();
    assert!(cap < 10);
    // Churn 200 other keys through the semaphore: "a"'s idle slot is evicted.
    for i in 0..200 {
        let g = limiter.try_acquire_grant(&format!("k{i}"), 1).unwrap();
        limiter.release(g);
    }
    let held = fill(&limiter, "a");
    assert_eq!(held.len(), cap as usize, "the cap came back with the slot");
    for g in held {
        limiter.release(g);
    }
    // Without reports for IDLE_AFTER the controller goes, and so does the cap.
    clock.advance(IDLE_AFTER + Duration::from_secs(1));
    limiter.evict_idle();
    assert_eq!(limiter.adaptive_key_stats(10).len(), 0);
    assert_eq!(limiter.key_limit(&"a".to_owned()), Some(10));
    assert_eq!(fill(&limiter, "a").len(), 10);
}

/// The limiter as a simulated client, one key per host.
struct Client(Limiter<usize, ManualClock>);

impl Policy for Client {
    type Token = (LimiterGrant, InFlight);
    fn try_start(&mut self, _: Instant, host: usize, _: u32) -> Option<Self::Token> {
        let grant = self.0.try_acquire_grant(&host, 1).ok()?;
        Some((grant, self.0.in_flight_now(&host)))
    }
    fn finish(&mut self, _: Instant, host: usize, (grant, started): Self::Token, sample: Sample) {
        self.0.report(&host, started, sample.rtt, sample.outcome);
        self.0.release(grant);
    }
    fn limit(&self, host: usize) -> u32 {
        self.0.key_limit(&host).unwrap_or(0)
    }
}

#[test]
fn two_hosts_behind_one_limiter_each_find_their_capacity() {
    let clock = ManualClock::new();
    let config = LimiterConfig {
        concurrency: Some(200),
        ..per_key(1, 1000, 10)
    };
    let mut clients = [Client(Limiter::new(config, clock.clone()).unwrap())];
    let scenario = Scenario {
        hosts: vec![ServerSpec::knee(10), ServerSpec::knee(60)],
        ..Scenario::one(ServerSpec::knee(10), Duration::from_secs(20))
    };
    let trace = run(&scenario, &mut clients, &clock);
    let s = |n| Duration::from_secs(n);
    // The best fixed limit of a knee server is its capacity: compare with it.
    let mut fixed = [Fixed(10)];
    let at_10 = run(&scenario, &mut fixed, &ManualClock::new());
    let mut fixed = [Fixed(60)];
    let at_60 = run(&scenario, &mut fixed, &ManualClock::new());
    for (host, best) in [(0, &at_10), (1, &at_60)] {
        let settled = trace.settle_time(host, s(0), s(20), 0.15, s(1));
        assert!(
            settled.is_some_and(|t| t <= s(5)),
            "host {host}: {settled:?}"
        );
        // Steady state: the mean limit within ±15 % of the capacity (at
        // C = 10 one request is 10 %: the limit moves between 10 and 13).
        let spread = trace.spread(host, s(10), s(20));
        let c = f64::from(scenario.hosts[host].capacity);
        assert!(
            (spread.mean / c - 1.0).abs() <= 0.15,
            "host {host}: {spread:?}"
        );
        let ratio = trace.goodput(host, s(10), s(20)) / best.goodput(host, s(10), s(20));
        assert!(ratio >= 0.95, "host {host}: goodput {ratio}");
    }
}
