//! The combined `Limiter`: caps, quotas, pauses and the bounded queue,
//! driven by hand over a `ManualClock` (no sleeps, no wall clock).

#[path = "support/mod.rs"]
mod support;
use support::manual_limiter;

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use futures::task::noop_waker;
use weir::{Clock, Instant, Limiter, LimiterConfig, LimiterError, ManualClock, Quota};

type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

fn poll<T>(f: &mut Fut<'_, T>) -> Poll<T> {
    let waker = noop_waker();
    f.as_mut().poll(&mut Context::from_waker(&waker))
}

#[test]
fn global_and_per_key_caps_hold_and_release_together() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(3),
        per_key: Some(2),
        ..Default::default()
    });
    let a1 = l.try_acquire("a", 1).unwrap();
    let a2 = l.try_acquire("a", 1).unwrap();
    assert_eq!(l.try_acquire("a", 1).unwrap_err(), LimiterError::Busy);
    let b1 = l.try_acquire("b", 1).unwrap();
    assert_eq!(
        l.try_acquire("c", 1).unwrap_err(),
        LimiterError::Busy,
        "global cap"
    );
    assert_eq!(l.stats().in_flight, 3);
    drop(a1);
    assert_eq!(l.in_flight_of(&"a"), 1);
    let c1 = l.try_acquire("c", 1).unwrap();
    drop((a2, b1, c1));
    let s = l.stats();
    assert_eq!((s.in_flight, s.keys, s.queued), (0, 0, 0));
}

#[test]
fn waiter_is_admitted_when_a_permit_returns() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(1),
        ..Default::default()
    });
    let held = l.try_acquire("a", 1).unwrap();
    let mut waiting: Fut<'_, _> = Box::pin(l.acquire("b", 1));
    assert!(poll(&mut waiting).is_pending());
    assert_eq!(l.stats().queued, 1);
    drop(held);
    let permit = match poll(&mut waiting) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("a freed permit must admit the waiter"),
    };
    assert_eq!(l.stats().queued, 0);
    assert_eq!(l.in_flight_of(&"b"), 1);
    drop(permit);
    assert_eq!(l.stats().in_flight, 0);
}

#[test]
fn per_key_rate_admits_exactly_at_the_not_until_instant() {
    let (l, clock) = manual_limiter(LimiterConfig {
        per_key_rate: vec![Quota::per_second(2).unwrap().with_burst(1).unwrap()],
        ..Default::default()
    });
    let first = l.try_acquire("a", 1).unwrap();
    let not_until = match l.try_acquire("a", 1) {
        Err(LimiterError::RateLimited { not_until }) => not_until,
        other => panic!("expected RateLimited, got {other:?}"),
    };
    assert_eq!(not_until, Instant::from_nanos(500_000_000));
    // Another key has its own bucket.
    let other = l.try_acquire("b", 1).unwrap();
    let mut waiting: Fut<'_, _> = Box::pin(l.acquire("a", 1));
    assert!(poll(&mut waiting).is_pending());
    clock.set(Instant::from_nanos(not_until.as_nanos() - 1));
    assert!(poll(&mut waiting).is_pending(), "one nanosecond early");
    clock.set(not_until);
    assert!(matches!(poll(&mut waiting), Poll::Ready(Ok(_))));
    drop((first, other));
}

#[test]
fn a_paused_key_waits_without_holding_capacity_others_go_on() {
    let (l, clock) = manual_limiter(LimiterConfig {
        concurrency: Some(1),
        ..Default::default()
    });
    l.pause_until(&"slow", Instant::from_nanos(1_000_000_000));
    assert!(matches!(
        l.try_acquire("slow", 1),
        Err(LimiterError::RateLimited { not_until }) if not_until == Instant::from_nanos(1_000_000_000)
    ));
    let mut paused: Fut<'_, _> = Box::pin(l.acquire("slow", 1));
    assert!(poll(&mut paused).is_pending());
    // The single global permit is still free for another key.
    let fast = l
        .try_acquire("fast", 1)
        .expect("a paused key must not hold the global permit");
    drop(fast);
    clock.advance(Duration::from_millis(999));
    assert!(poll(&mut paused).is_pending());
    clock.advance(Duration::from_millis(1));
    assert!(matches!(poll(&mut paused), Poll::Ready(Ok(_))));
}

#[test]
fn max_queue_rejects_at_once_and_a_dropped_waiter_frees_its_place() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(1),
        max_queue: Some(1),
        ..Default::default()
    });
    let held = l.try_acquire("a", 1).unwrap();
    let mut w1: Fut<'_, _> = Box::pin(l.acquire("a", 1));
    assert!(poll(&mut w1).is_pending());
    let mut w2: Fut<'_, _> = Box::pin(l.acquire("b", 1));
    assert!(matches!(
        poll(&mut w2),
        Poll::Ready(Err(LimiterError::QueueFull { max: 1 }))
    ));
    drop(w1);
    assert_eq!(l.stats().queued, 0);
    let mut w3: Fut<'_, _> = Box::pin(l.acquire("b", 1));
    assert!(poll(&mut w3).is_pending());
    drop(held);
    assert!(matches!(poll(&mut w3), Poll::Ready(Ok(_))));
    assert_eq!(
        l.stats().in_flight,
        0,
        "w3's permit was dropped with its result"
    );
}

#[test]
fn impossible_costs_are_errors_not_hangs() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(4),
        rate: vec![Quota::per_second(10).unwrap().with_burst(5).unwrap()],
        ..Default::default()
    });
    assert!(matches!(
        l.try_acquire("a", 5),
        Err(LimiterError::TooLarge {
            requested: 5,
            limit: 4
        })
    ));
    assert!(l.try_acquire("a", 4).is_ok());
    let (l, _) = manual_limiter(LimiterConfig {
        rate: vec![Quota::per_second(10).unwrap().with_burst(5).unwrap()],
        ..Default::default()
    });
    let mut f: Fut<'_, _> = Box::pin(l.acquire("a", 6));
    assert!(matches!(
        poll(&mut f),
        Poll::Ready(Err(LimiterError::ExceedsBurst { cost: 6, burst: 5 }))
    ));
}

#[test]
fn bad_configuration_names_the_field() {
    let clock = ManualClock::new();
    let err = Limiter::<u32, _>::new(
        LimiterConfig {
            concurrency: Some(0),
            ..Default::default()
        },
        clock.clone(),
    )
    .unwrap_err();
    assert_eq!(err.field, "concurrency");
    let err = Limiter::<u32, _>::new(
        LimiterConfig {
            per_key: Some(0),
            ..Default::default()
        },
        clock,
    )
    .unwrap_err();
    assert_eq!(err.field, "per_key");
    assert!(err.to_string().contains("per_key"));
}

#[test]
fn raising_limits_at_runtime_wakes_waiters_lowering_revokes_nothing() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(1),
        ..Default::default()
    });
    let a = l.try_acquire("a", 1).unwrap();
    let mut w: Fut<'_, _> = Box::pin(l.acquire("b", 1));
    assert!(poll(&mut w).is_pending());
    l.set_limits(Some(2), None).unwrap();
    let b = match poll(&mut w) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("raising the cap must admit the waiter"),
    };
    l.set_limits(Some(1), None).unwrap();
    assert_eq!(l.stats().in_flight, 2, "lowering revokes nothing");
    drop(a);
    assert_eq!(
        l.try_acquire("c", 1).unwrap_err(),
        LimiterError::Busy,
        "still 1 in flight = new cap"
    );
    drop(b);
    assert!(l.try_acquire("c", 1).is_ok());
    assert!(l.set_limits(Some(0), None).is_err());
}

#[test]
fn starts_obey_the_global_quota_in_every_window() {
    // 5 per 100 ms, burst 2; 40 acquires from 4 keys; start instants recorded.
    let (l, clock) = manual_limiter(LimiterConfig {
        concurrency: Some(8),
        rate: vec![Quota::new(5, Duration::from_millis(100))
            .unwrap()
            .with_burst(2)
            .unwrap()],
        ..Default::default()
    });
    let keys = ["a", "b", "c", "d"];
    type Admit<'a> = Fut<'a, Result<weir::LimiterPermit<&'static str>, LimiterError>>;
    let mut pending: Vec<Admit<'_>> = (0..40)
        .map(|i| Box::pin(l.acquire(keys[i % 4], 1)) as Fut<'_, _>)
        .collect();
    let mut starts: Vec<u64> = Vec::new();
    let mut guard = 0;
    while !pending.is_empty() {
        pending.retain_mut(|f| match poll(f) {
            Poll::Ready(r) => {
                drop(r.unwrap()); // the work ends at once
                starts.push(clock.now().as_nanos());
                false
            }
            Poll::Pending => true,
        });
        if !pending.is_empty() {
            clock
                .advance_to_next()
                .expect("waiters must be sleeping on the clock");
        }
        guard += 1;
        assert!(guard < 1_000, "no progress");
    }
    // In every window w: admitted ≤ burst + rate·w (rate = 5 / 100 ms).
    for (i, &t0) in starts.iter().enumerate() {
        for (j, &t1) in starts.iter().enumerate().skip(i) {
            let w = t1 - t0;
            let admitted = (j - i + 1) as u64;
            let bound = 2 + (w * 5) / 100_000_000;
            assert!(admitted <= bound, "{admitted} starts in {w} ns > {bound}");
        }
    }
    // And the long-run rate is the quota's: 40 starts need (40 - 2) / 5 * 100 ms.
    assert_eq!(*starts.last().unwrap(), 38 * 20_000_000);
}

#[test]
fn idle_rate_keys_are_evicted_on_request() {
    let (l, clock) = manual_limiter::<&'static str>(LimiterConfig {
        per_key_rate: vec![Quota::per_second(10).unwrap()],
        ..Default::default()
    });
    let keys: Vec<&'static str> = (0..100)
        .map(|i| &*Box::leak(format!("client-{i}").into_boxed_str()))
        .collect();
    for key in &keys {
        drop(l.try_acquire(*key, 1).unwrap());
    }
    assert!(l.stats().rate_keys > 0);
    l.evict_idle();
    assert!(
        l.stats().rate_keys > 0,
        "buckets not yet full again: nothing to evict"
    );
    clock.advance(Duration::from_secs(1));
    l.evict_idle();
    assert_eq!(l.stats().rate_keys, 0);
    assert_eq!(l.per_key_rate_quotas().len(), 1);
    assert!(l.rate_quotas().is_empty());
}
