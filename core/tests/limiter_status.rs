//! `RateLimiter::status` / `Limiter::rate_status`: the read-only figures
//! behind `RateLimit-*` headers and an exact `Retry-After`.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::sync::Arc;

use futures::task::noop_waker;
use proptest::prelude::*;
use weir::{
    Clock, Denied, Instant, Limiter, LimiterConfig, LimiterError, ManualClock, Quota, RateLimiter,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn no_quotas_no_status() {
    let clock = ManualClock::new();
    let limiter: RateLimiter<&str, _> = RateLimiter::new(&[], &[], clock);
    assert_eq!(limiter.status(&"k"), None);
    let l: Limiter<&str, _> = Limiter::new(
        LimiterConfig {
            concurrency: Some(2),
            ..Default::default()
        },
        ManualClock::new(),
    )
    .unwrap();
    assert_eq!(l.rate_status(&"k"), None);
}

#[test]
fn fresh_key_is_full_and_status_stores_nothing() {
    let clock = ManualClock::new();
    let q = Quota::per_second(10).unwrap().with_burst(3).unwrap();
    let limiter = RateLimiter::new(&[], &[q], clock.clone());
    let s = limiter.status(&"fresh").unwrap();
    assert_eq!(s.quota, q);
    assert_eq!(s.remaining, 3);
    assert_eq!(s.reset_after, Duration::ZERO);
    assert_eq!(s.retry_after, Duration::ZERO);
    assert_eq!(limiter.keys(), 0, "status must not make a key resident");
}

#[test]
fn remaining_and_reset_follow_consumption_and_refill() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[], &[Quota::per_second(4).unwrap()], clock.clone());
    for used in 1..=4u32 {
        limiter.check(&"k", 1).unwrap();
        let s = limiter.status(&"k").unwrap();
        assert_eq!(s.remaining, 4 - used);
        assert_eq!(
            s.reset_after,
            ms(250) * used,
            "full again after {used} emission intervals"
        );
    }
    let s = limiter.status(&"k").unwrap();
    assert_eq!(s.retry_after, ms(250));
    clock.advance(ms(249));
    let s = limiter.status(&"k").unwrap();
    assert_eq!((s.remaining, s.retry_after), (0, ms(1)));
    clock.advance(ms(1));
    let s = limiter.status(&"k").unwrap();
    assert_eq!(
        (s.remaining, s.retry_after, s.reset_after),
        (1, Duration::ZERO, ms(750))
    );
    clock.advance(ms(750));
    let s = limiter.status(&"k").unwrap();
    assert_eq!((s.remaining, s.reset_after), (4, Duration::ZERO));
}

#[test]
fn tightest_quota_wins_across_global_and_per_key() {
    let clock = ManualClock::new();
    let global = Quota::per_second(100).unwrap();
    let per_key = Quota::per_minute(3).unwrap();
    let limiter = RateLimiter::new(&[global], &[per_key], clock.clone());
    let key = |s: &str| String::from(s);
    limiter.check(&key("a"), 1).unwrap();
    let s = limiter.status(&key("a")).unwrap();
    assert_eq!((s.quota, s.remaining), (per_key, 2));
    assert_eq!(s.reset_after, Duration::from_secs(20));
    // A fresh key: its own cell is full (3 left), the global one has 99 left.
    let s = limiter.status(&key("b")).unwrap();
    assert_eq!((s.quota, s.remaining), (per_key, 3));
    // Spend the global quota from many keys: now it is the tightest everywhere.
    for i in 0..99 {
        limiter.check(&format!("k{i}"), 1).unwrap();
    }
    let s = limiter.status(&key("b")).unwrap();
    assert_eq!((s.quota, s.remaining), (global, 0));
    assert_eq!(s.retry_after, ms(10));
}

#[test]
fn retry_after_is_the_exact_not_until_of_a_denial() {
    let clock = ManualClock::new();
    let limiter = Arc::new(
        Limiter::new(
            LimiterConfig {
                rate: vec![Quota::new(7, ms(1000)).unwrap()],
                per_key_rate: vec![Quota::new(3, ms(700)).unwrap().with_burst(2).unwrap()],
                ..Default::default()
            },
            clock.clone(),
        )
        .unwrap(),
    );
    let mut held = Vec::new();
    let mut denials = 0;
    for step in 0..200u64 {
        match limiter.try_acquire("ip", 1) {
            Ok(p) => held.push(p),
            Err(LimiterError::RateLimited { not_until }) => {
                denials += 1;
                let s = limiter.rate_status(&"ip").unwrap();
                assert_eq!(s.remaining, 0);
                assert_eq!(clock.now() + s.retry_after, not_until, "step {step}");
                assert!(s.reset_after >= s.retry_after);
            }
            Err(e) => panic!("{e:?}"),
        }
        clock.advance(Duration::from_nanos(37_000_001 * (step % 5)));
    }
    assert!(denials > 20, "the scenario must deny ({denials})");
}

#[test]
fn pause_holds_remaining_at_zero_until_it_ends() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[], &[Quota::per_second(5).unwrap()], clock.clone());
    limiter.pause_until(&"k", Instant::from_nanos(3_000_000_000));
    let s = limiter.status(&"k").unwrap();
    assert_eq!(s.remaining, 0);
    assert_eq!(s.retry_after, Duration::from_secs(3));
    assert_eq!(s.reset_after, Duration::from_secs(3));
    clock.advance(Duration::from_secs(3));
    let s = limiter.status(&"k").unwrap();
    assert_eq!((s.remaining, s.retry_after), (5, Duration::ZERO));
}

#[test]
fn queued_waiters_are_subtracted_from_remaining() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[], &[Quota::per_second(2).unwrap()], clock.clone());
    limiter.check(&"k", 2).unwrap();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut a: Pin<Box<dyn Future<Output = _>>> = Box::pin(limiter.acquire("k", 1));
    let mut b: Pin<Box<dyn Future<Output = _>>> = Box::pin(limiter.acquire("k", 1));
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    clock.advance(ms(1000)); // cells full again (2 units), both spoken for
    let s = limiter.status(&"k").unwrap();
    assert_eq!(s.remaining, 0);
    assert_eq!(s.retry_after, ms(500), "behind two queued units");
    assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(b.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(limiter.status(&"k").unwrap().remaining, 0);
}

#[test]
fn standing_or_backward_clock_never_raises_remaining() {
    let clock = ManualClock::new();
    clock.set(Instant::from_nanos(5_000_000_000));
    let limiter = RateLimiter::new(&[], &[Quota::per_second(3).unwrap()], clock.clone());
    limiter.check(&"k", 3).unwrap();
    clock.set(Instant::from_nanos(1_000_000_000)); // steps back
    let s = limiter.status(&"k").unwrap();
    assert_eq!(s.remaining, 0);
    assert_eq!(s.retry_after, ms(333) + Duration::from_nanos(333_334));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `remaining` is exactly the largest cost a check would admit, and
    /// `retry_after` exactly when one unit would pass.
    #[test]
    fn status_agrees_with_peek(
        limit in 1u32..20,
        interval_ms in 1u64..2_000,
        burst in 1u32..20,
        global in proptest::option::of((1u32..50, 1u64..2_000)),
        steps in proptest::collection::vec((0u32..6, 0u64..400_000_000), 1..60),
    ) {
        let clock = ManualClock::new();
        let per_key = Quota::new(limit, ms(interval_ms)).unwrap().with_burst(burst).unwrap();
        let globals: Vec<Quota> = global
            .map(|(l, i)| Quota::new(l, ms(i)).unwrap())
            .into_iter()
            .collect();
        let limiter = RateLimiter::new(&globals, &[per_key], clock.clone());
        let max_cost = globals.iter().chain([&per_key]).map(Quota::burst).min().unwrap();
        for (cost, advance) in steps {
            let _ = limiter.check(&"k", cost.clamp(1, max_cost));
            clock.advance(Duration::from_nanos(advance));
            let s = limiter.status(&"k").unwrap();
            let r = s.remaining;
            prop_assert!(r <= max_cost);
            if r >= 1 {
                prop_assert_eq!(limiter.peek(&"k", r), Ok(()));
            }
            if r < max_cost {
                prop_assert!(limiter.peek(&"k", r + 1).is_err());
            }
            match limiter.peek(&"k", 1) {
                Ok(()) => prop_assert_eq!(s.retry_after, Duration::ZERO),
                Err(Denied::NotUntil(at)) => prop_assert_eq!(clock.now() + s.retry_after, at),
                Err(e) => prop_assert!(false, "{:?}", e),
            }
        }
    }
}

#[test]
fn evict_idle_returns_resident_keys_to_zero() {
    let clock = ManualClock::new();
    let l: Limiter<u32, _> = Limiter::new(
        LimiterConfig {
            per_key_rate: vec![Quota::per_second(1).unwrap()],
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    for key in 0..1000 {
        drop(l.try_acquire(key, 1).unwrap());
    }
    assert_eq!(
        l.stats().rate_keys,
        1000,
        "keys are resident while not full"
    );
    l.evict_idle();
    assert_eq!(l.stats().rate_keys, 1000, "keys not yet idle are kept");
    clock.advance(Duration::from_secs(1));
    l.evict_idle();
    assert_eq!(l.stats().rate_keys, 0);
    // An evicted key behaves as a fresh one: a full burst.
    assert!(l.try_acquire(7, 1).is_ok());
    assert!(matches!(
        l.try_acquire(7, 1),
        Err(LimiterError::RateLimited { .. })
    ));
}
