//! `Limiter::try_acquire_grants` (several units of one key in one call) with
//! `LimiterGrant::split_off` / `merge`: the same caps and the same no-barging
//! rule as one `try_acquire_grant` per unit.

use core::time::Duration;

use futures::executor::block_on;
use futures::FutureExt;
use proptest::prelude::*;
use std::sync::Arc;
use weir::{Limiter, LimiterConfig, LimiterError, ManualClock, Quota};

fn limiter(
    concurrency: Option<usize>,
    per_key: Option<usize>,
) -> Limiter<&'static str, ManualClock> {
    Limiter::new(
        LimiterConfig {
            concurrency,
            per_key,
            ..Default::default()
        },
        ManualClock::new(),
    )
    .unwrap()
}

#[test]
fn takes_as_many_units_as_both_caps_allow() {
    let l = limiter(Some(10), Some(4));
    let a = l.try_acquire_grants(&"a", 1, 100).unwrap();
    assert_eq!(a.permits(), 4, "per-key cap");
    let b = l.try_acquire_grants(&"b", 2, 100).unwrap();
    assert_eq!(b.permits(), 4, "two units of cost 2");
    let c = l.try_acquire_grants(&"c", 1, 3).unwrap();
    assert_eq!(c.permits(), 2, "what the global cap leaves");
    assert_eq!(
        l.try_acquire_grants(&"d", 1, 5).err(),
        Some(LimiterError::Busy)
    );
    assert_eq!(l.stats().in_flight, 10);
    for g in [a, b, c] {
        l.release(g);
    }
    assert_eq!(l.stats().in_flight, 0);
    assert_eq!(l.stats().keys, 0);
}

#[test]
fn count_bounds_the_units_and_zero_or_one_means_one() {
    let l = limiter(None, None);
    assert_eq!(l.try_acquire_grants(&"a", 3, 5).unwrap().permits(), 15);
    assert_eq!(l.try_acquire_grants(&"b", 3, 1).unwrap().permits(), 3);
    assert_eq!(l.try_acquire_grants(&"c", 3, 0).unwrap().permits(), 3);
}

#[test]
fn split_units_release_one_at_a_time_and_wake_waiters() {
    let l = Arc::new(limiter(Some(3), None));
    let mut lease = l.try_acquire_grants(&"a", 1, 3).unwrap();
    assert_eq!(lease.permits(), 3);
    let mut waiting = l.acquire_grant("b", 1).boxed();
    assert!((&mut waiting).now_or_never().is_none());
    // A queued waiter blocks new leases (no barging), even of the same key.
    l.release(lease.split_off(1));
    assert_eq!(
        l.try_acquire_grants(&"a", 1, 3).err(),
        Some(LimiterError::Busy)
    );
    let b = block_on(waiting).unwrap();
    assert_eq!(l.stats().in_flight, 3);
    assert_eq!(lease.permits(), 2);
    l.release(lease.split_off(2));
    assert_eq!(lease.permits(), 0);
    l.release(lease); // an empty grant releases nothing
    l.release(b);
    assert_eq!(l.stats().in_flight, 0);
    assert_eq!(l.stats().keys, 0);
}

#[test]
fn merge_keeps_one_key_per_grant() {
    let l = limiter(None, Some(5));
    let mut lease = l.try_acquire_grants(&"a", 1, 2).unwrap();
    let more = l.try_acquire_grants(&"a", 1, 2).unwrap();
    lease.merge(more).unwrap();
    assert_eq!(lease.permits(), 4);
    let other = l.try_acquire_grants(&"b", 1, 2).unwrap();
    let other = lease.merge(other).unwrap_err();
    assert_eq!(other.permits(), 2);
    // An emptied grant takes on the key of what it merges.
    let mut emptied = lease.split_off(0);
    assert_eq!(emptied.permits(), 0);
    emptied.merge(other).unwrap();
    assert_eq!(emptied.permits(), 2);
    l.release(emptied);
    l.release(lease);
    assert_eq!(l.stats().in_flight, 0);
}

#[test]
fn with_rate_quotas_every_unit_passes_them_alone() {
    let clock = ManualClock::new();
    let l: Limiter<&str, _> = Limiter::new(
        LimiterConfig {
            concurrency: Some(10),
            rate: vec![Quota::per_second(2).unwrap()],
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap();
    let a = l.try_acquire_grants(&"k", 1, 10).unwrap();
    assert_eq!(a.permits(), 1);
    let b = l.try_acquire_grants(&"k", 1, 10).unwrap();
    assert_eq!(b.permits(), 1);
    assert!(matches!(
        l.try_acquire_grants(&"k", 1, 10),
        Err(LimiterError::RateLimited { .. })
    ));
    clock.advance(Duration::from_millis(500));
    assert_eq!(l.try_acquire_grants(&"k", 1, 10).unwrap().permits(), 1);
    l.release(a);
    l.release(b);
}

#[test]
fn a_cost_above_the_cap_is_an_error_not_a_wait() {
    let l = limiter(Some(2), None);
    assert!(matches!(
        l.try_acquire_grants(&"a", 3, 4),
        Err(LimiterError::TooLarge { .. })
    ));
}

#[derive(Clone, Debug)]
enum Op {
    /// Lease up to `count` units of `cost` for key `key`.
    Lease { key: usize, cost: u32, count: u32 },
    /// Split `units` units off lease `at` (modulo the leases held) and release them.
    Give { at: usize, units: usize },
    /// A single acquire on key `key`.
    One { key: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..3u32, 0..6u32).prop_map(|(key, cost, count)| Op::Lease { key, cost, count }),
        (0..8usize, 1..4usize).prop_map(|(at, units)| Op::Give { at, units }),
        (0..3usize).prop_map(|key| Op::One { key }),
    ]
}

proptest! {
    /// Whatever the interleaving of leases, partial releases and single
    /// acquires, the caps hold, the limiter's count equals what is held, and
    /// everything returns to zero.
    #[test]
    fn leases_never_exceed_the_caps(ops in proptest::collection::vec(op(), 1..60)) {
        const KEYS: [&str; 3] = ["a", "b", "c"];
        const GLOBAL: usize = 6;
        const PER_KEY: usize = 4;
        let l = limiter(Some(GLOBAL), Some(PER_KEY));
        let mut held: Vec<(usize, usize, weir::LimiterGrant)> = Vec::new(); // (key, cost, grant)
        for op in ops {
            match op {
                Op::Lease { key, cost, count } => {
                    let before = l.stats().in_flight;
                    match l.try_acquire_grants(&KEYS[key], cost, count) {
                        Ok(g) => {
                            let units = g.permits() / cost as usize;
                            prop_assert_eq!(g.permits() % cost as usize, 0);
                            prop_assert!(units >= 1 && units <= count.max(1) as usize);
                            // Maximal: one more unit would not have fit.
                            let key_in_flight: usize = held.iter().filter(|h| h.0 == key).map(|h| h.2.permits()).sum::<usize>() + g.permits();
                            if units < count.max(1) as usize {
                                prop_assert!(before + g.permits() + cost as usize > GLOBAL
                                    || key_in_flight + cost as usize > PER_KEY);
                            }
                            held.push((key, cost as usize, g));
                        }
                        Err(e) => prop_assert_eq!(e, LimiterError::Busy),
                    }
                }
                Op::Give { at, units } => {
                    if !held.is_empty() {
                        let at = at % held.len();
                        let cost = held[at].1;
                        let give = (units * cost).min(held[at].2.permits());
                        let part = held[at].2.split_off(give);
                        l.release(part);
                        if held[at].2.permits() == 0 {
                            let (_, _, g) = held.swap_remove(at);
                            l.release(g);
                        }
                    }
                }
                Op::One { key } => {
                    if let Ok(g) = l.try_acquire_grant(&KEYS[key], 1) {
                        held.push((key, 1, g));
                    }
                }
            }
            let total: usize = held.iter().map(|h| h.2.permits()).sum();
            prop_assert_eq!(l.stats().in_flight, total);
            prop_assert!(total <= GLOBAL);
            for k in 0..KEYS.len() {
                let per: usize = held.iter().filter(|h| h.0 == k).map(|h| h.2.permits()).sum();
                prop_assert!(per <= PER_KEY);
            }
        }
        for (_, _, g) in held.drain(..) {
            l.release(g);
        }
        prop_assert_eq!(l.stats().in_flight, 0);
        prop_assert_eq!(l.stats().keys, 0);
    }
}
