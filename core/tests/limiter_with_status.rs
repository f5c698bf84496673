//! `Limiter::try_acquire_with_status` / `try_acquire_grant_with_status` and
//! `RateLimiter::check_with_status`: one call doing what `try_acquire` (or
//! `check`) followed by `rate_status` (or `status`) does.

use core::time::Duration;

use proptest::prelude::*;
use weir::{Clock, Denied, Limiter, LimiterConfig, LimiterError, ManualClock, Quota, RateLimiter};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn without_quotas_there_are_no_figures() {
    let l: Limiter<&str, _> = Limiter::new(
        LimiterConfig {
            concurrency: Some(1),
            ..Default::default()
        },
        ManualClock::new(),
    )
    .unwrap();
    let (permit, status) = l.try_acquire_with_status("a", 1).unwrap();
    assert_eq!(status, None);
    assert_eq!(l.stats().in_flight, 1);
    assert_eq!(
        l.try_acquire_with_status("b", 1).err(),
        Some(LimiterError::Busy)
    );
    drop(permit);
    assert_eq!(l.stats().in_flight, 0);
    let r: RateLimiter<&str, _> = RateLimiter::new(&[], &[], ManualClock::new());
    assert_eq!(r.check_with_status(&"a", 1), Ok(None));
}

#[test]
fn figures_are_those_right_after_the_admission() {
    let clock = ManualClock::new();
    let l = Limiter::new(
        LimiterConfig {
            per_key: Some(5),
            per_key_rate: vec![Quota::per_second(3).unwrap()],
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    let mut held = Vec::new();
    for left in [2, 1, 0] {
        let (grant, status) = l.try_acquire_grant_with_status(&"ip", 1).unwrap();
        let status = status.unwrap();
        assert_eq!(status.remaining, left);
        assert_eq!(Some(status), l.rate_status(&"ip"));
        held.push(grant);
    }
    // The quota is spent: denied with the exact instant, nothing taken.
    let Err(LimiterError::RateLimited { not_until }) = l.try_acquire_grant_with_status(&"ip", 1)
    else {
        panic!("expected a rate limit");
    };
    assert_eq!(not_until, clock.now() + Duration::from_nanos(333_333_334));
    assert_eq!(l.stats().in_flight, 3);
    for grant in held {
        l.release(grant);
    }
    assert_eq!(l.stats().in_flight, 0);
}

#[test]
fn a_full_cap_is_busy_and_consumes_no_rate() {
    let clock = ManualClock::new();
    let l = Limiter::new(
        LimiterConfig {
            concurrency: Some(1),
            per_key_rate: vec![Quota::per_second(10).unwrap()],
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    let (permit, _) = l.try_acquire_with_status("a", 1).unwrap();
    let before = l.rate_status(&"b");
    assert_eq!(
        l.try_acquire_with_status("b", 1).err(),
        Some(LimiterError::Busy)
    );
    assert_eq!(l.rate_status(&"b"), before);
    drop(permit);
}

#[test]
fn a_pause_denies_until_it_ends() {
    let clock = ManualClock::new();
    let l = Limiter::new(
        LimiterConfig {
            per_key_rate: vec![Quota::per_second(10).unwrap()],
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    l.pause_until(&"a", clock.now() + ms(500));
    assert_eq!(
        l.try_acquire_with_status("a", 1).err(),
        Some(LimiterError::RateLimited {
            not_until: clock.now() + ms(500)
        })
    );
    clock.advance(ms(500));
    let (_p, s) = l.try_acquire_with_status("a", 1).unwrap();
    assert_eq!(s.unwrap().remaining, 9);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two limiters on one clock, fed the same steps: one answers with
    /// `try_acquire` then `rate_status`, the other with the combined call.
    /// Same decisions, same figures, same state afterwards.
    #[test]
    fn combined_call_equals_acquire_then_status(
        limit in 1u32..10,
        interval_ms in 1u64..1_000,
        global in proptest::option::of((1u32..30, 1u64..1_000)),
        cap in proptest::option::of(1usize..6),
        steps in proptest::collection::vec((0u8..3, 0u8..4, 0u64..200_000_000), 1..80),
    ) {
        let clock = ManualClock::new();
        let config = || LimiterConfig {
            per_key: cap,
            rate: global
                .map(|(l, i)| Quota::new(l, ms(i)).unwrap())
                .into_iter()
                .collect(),
            per_key_rate: vec![Quota::new(limit, ms(interval_ms)).unwrap()],
            ..Default::default()
        };
        let a = Limiter::new(config(), clock.clone()).unwrap();
        let b = Limiter::new(config(), clock.clone()).unwrap();
        let (mut held_a, mut held_b) = (Vec::new(), Vec::new());
        for (key, op, advance) in steps {
            match op {
                // Release the oldest permit of each.
                0 if !held_a.is_empty() => {
                    held_a.remove(0);
                    b.release(held_b.remove(0));
                }
                // Pause the key a little.
                1 => {
                    let until = clock.now() + Duration::from_nanos(advance / 2);
                    a.pause_until(&key, until);
                    b.pause_until(&key, until);
                }
                _ => {
                    let left = a.try_acquire(key, 1).map(|p| (p, a.rate_status(&key)));
                    let right = b.try_acquire_grant_with_status(&key, 1);
                    match (left, right) {
                        (Ok((p, s1)), Ok((g, s2))) => {
                            prop_assert_eq!(s1, s2);
                            held_a.push(p);
                            held_b.push(g);
                        }
                        (Err(e1), Err(e2)) => prop_assert_eq!(e1, e2),
                        (l, r) => prop_assert!(false, "{:?} vs {:?}", l.map(|x| x.1), r.map(|x| x.1)),
                    }
                }
            }
            prop_assert_eq!(a.stats(), b.stats());
            prop_assert_eq!(a.rate_status(&key), b.rate_status(&key));
            clock.advance(Duration::from_nanos(advance));
        }
        for g in held_b {
            b.release(g);
        }
        prop_assert_eq!(b.stats().in_flight, 0);
    }

    /// `RateLimiter::check_with_status` is `check` then `status`.
    #[test]
    fn rate_check_with_status_equals_check_then_status(
        limit in 1u32..10,
        burst in 1u32..10,
        steps in proptest::collection::vec((0u8..3, 1u32..4, 0u64..300_000_000), 1..60),
    ) {
        let clock = ManualClock::new();
        let q = Quota::new(limit, ms(700)).unwrap().with_burst(burst).unwrap();
        let a = RateLimiter::new(&[], &[q], clock.clone());
        let b = RateLimiter::new(&[], &[q], clock.clone());
        for (key, cost, advance) in steps {
            let left = a.check(&key, cost).map(|()| a.status(&key));
            let right = b.check_with_status(&key, cost);
            prop_assert_eq!(left, right);
            if let Err(Denied::NotUntil(at)) = b.peek(&key, 1) {
                prop_assert!(at > clock.now());
            }
            clock.advance(Duration::from_nanos(advance));
        }
    }
}
