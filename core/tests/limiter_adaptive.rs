//! The limiter's adaptive global cap (`LimiterConfig::adaptive`): reports
//! move the cap through the runtime `set_limits` path, held permits are
//! never revoked, and against a simulated knee server the cap the limiter
//! enforces finds the capacity.

use core::time::Duration;

use weir::adaptive::sim::{run, Policy, Scenario, ServerSpec};
use weir::adaptive::{AdaptiveConfig, Outcome, Sample};
use weir::{InFlight, Instant, Limiter, LimiterConfig, LimiterError, LimiterGrant, ManualClock};

fn adaptive(min: u32, max: u32, initial: u32) -> Option<AdaptiveConfig> {
    Some(AdaptiveConfig {
        min,
        max,
        initial,
        ..Default::default()
    })
}

/// Reports a 429 of `key` that started with `total` permits in flight.
fn refuse<K: std::hash::Hash + Eq + Clone>(
    limiter: &Limiter<K, ManualClock>,
    key: K,
    total: u32,
) -> weir::AdaptiveLimits {
    let started = InFlight { total, key: total };
    limiter.report(
        &key,
        started,
        Duration::from_millis(2),
        Outcome::TooManyRequests,
    )
}

#[test]
fn a_bad_adaptive_config_names_its_field() {
    let config = LimiterConfig {
        adaptive: adaptive(5, 4, 5),
        ..Default::default()
    };
    let err = Limiter::<u8, _>::new(config, ManualClock::new()).unwrap_err();
    assert_eq!(err.field, "adaptive.max");
}

#[test]
fn lowering_the_cap_revokes_nothing_held() {
    let clock = ManualClock::new();
    let config = LimiterConfig {
        adaptive: adaptive(1, 100, 10),
        per_key: Some(50),
        ..Default::default()
    };
    let limiter = Limiter::new(config, clock.clone()).unwrap();
    let mut held: Vec<_> = (0..10)
        .map(|_| limiter.try_acquire("a", 1).unwrap())
        .collect();
    assert!(matches!(
        limiter.try_acquire("a", 1),
        Err(LimiterError::Busy)
    ));
    clock.advance(Duration::from_secs(1));
    assert_eq!(refuse(&limiter, "a", 10).global, Some(8));
    // The per-key cap is kept; the global one follows the controller.
    assert_eq!(limiter.limits(), (Some(8), Some(50)));
    assert_eq!(limiter.stats().in_flight, 10);
    held.truncate(8);
    assert!(limiter.try_acquire("a", 1).is_err());
    held.pop();
    assert!(limiter.try_acquire("a", 1).is_ok());
    let stats = limiter.adaptive_stats().unwrap();
    assert_eq!(stats.limit, 8);
}

#[test]
fn the_configured_concurrency_caps_the_adaptive_limit() {
    let config = LimiterConfig {
        adaptive: adaptive(1, 100, 10),
        concurrency: Some(6),
        ..Default::default()
    };
    let limiter = Limiter::<&str, _>::new(config, ManualClock::new()).unwrap();
    assert_eq!(limiter.limits().0, Some(6));
    // Without `adaptive`, reports do nothing.
    let plain = Limiter::<&str, _>::new(LimiterConfig::default(), ManualClock::new()).unwrap();
    assert_eq!(refuse(&plain, "a", 1), weir::AdaptiveLimits::default());
    assert_eq!(plain.adaptive_stats(), None);
}

/// The limiter as a simulated client: a request starts when `try_acquire`
/// admits it and reports its sample before releasing its permit.
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
    fn limit(&self, _: usize) -> u32 {
        self.0.limits().0.unwrap_or(0) as u32
    }
}

#[test]
fn the_limiter_finds_a_servers_capacity() {
    let clock = ManualClock::new();
    let config = LimiterConfig {
        adaptive: adaptive(1, 1000, 10),
        ..Default::default()
    };
    let mut clients = [Client(Limiter::new(config, clock.clone()).unwrap())];
    let scenario = Scenario::one(ServerSpec::knee(50), Duration::from_secs(20));
    let trace = run(&scenario, &mut clients, &clock);
    let s = |n| Duration::from_secs(n);
    let settled = trace.settle_time(0, s(0), s(20), 0.15, s(1));
    assert!(settled.is_some_and(|t| t <= s(5)), "{settled:?}");
    assert!(trace.goodput(0, s(10), s(20)) >= 0.95 * 500.0);
    let stats = clients[0].0.adaptive_stats().unwrap();
    let min_rtt = stats.min_rtt.unwrap();
    assert!(
        min_rtt >= Duration::from_millis(95) && min_rtt <= Duration::from_millis(105),
        "{stats:?}"
    );
}
