//! Keyed state: idle keys are evicted (explicitly and by the amortised
//! sweep), paused or waited-on keys are kept, eviction never loosens a limit.

use core::future::Future;
use core::pin::Pin;
use core::task::Context;
use core::time::Duration;

use weir::rate::KeyedGcra;
use weir::{Denied, Instant, ManualClock, Quota, RateLimiter};

fn ns(n: u64) -> Instant {
    Instant::from_nanos(n)
}

#[test]
fn a_million_keys_churned_leave_nothing_resident() {
    let clock = ManualClock::new();
    let limiter: RateLimiter<u64, _> = RateLimiter::new(
        &[],
        &[Quota::new(1, Duration::from_millis(1)).unwrap()],
        clock.clone(),
    );
    // One new key every microsecond: each stays live for 1 ms, so about a
    // thousand are live at any time; the amortised sweep keeps the map near that.
    let mut max_resident = 0;
    for key in 0..1_000_000u64 {
        clock.set(ns(key * 1_000));
        assert_eq!(limiter.check(&key, 1), Ok(()));
        max_resident = max_resident.max(limiter.keys());
    }
    assert!(max_resident <= 4 * 1_001, "resident grew to {max_resident}");
    assert!(
        limiter.keys() >= 1_000,
        "live keys are kept: {}",
        limiter.keys()
    );
    clock.advance(Duration::from_millis(1));
    limiter.evict_idle();
    assert_eq!(limiter.keys(), 0);
}

#[test]
fn keys_seen_at_a_frozen_instant_are_all_freed_once_idle() {
    let clock = ManualClock::new();
    let limiter: RateLimiter<u64, _> =
        RateLimiter::new(&[], &[Quota::per_second(5).unwrap()], clock.clone());
    for key in 0..200_000u64 {
        limiter.check(&key, 1).unwrap();
    }
    // Time stood still: every key is live (evicting one would forget its use).
    limiter.evict_idle();
    assert_eq!(limiter.keys(), 200_000);
    assert_eq!(limiter.check(&7, 5), Err(Denied::NotUntil(ns(200_000_000))));
    assert_eq!(limiter.check(&7, 4), Ok(())); // key 7 now refills until 1 s
    clock.advance(Duration::from_millis(200));
    limiter.evict_idle();
    assert_eq!(limiter.keys(), 1, "only key 7 is still refilling");
    clock.advance(Duration::from_secs(1));
    // The amortised sweep alone frees them too, as new keys arrive.
    for key in 1_000_000..1_000_100u64 {
        limiter.check(&key, 1).unwrap();
    }
    limiter.evict_idle();
    assert_eq!(limiter.keys(), 100);
}

#[test]
fn amortised_sweep_bounds_the_map_without_explicit_eviction() {
    let mut keyed = KeyedGcra::new(&[Quota::per_second(1).unwrap()]);
    let mut max_len = 0;
    for key in 0..100_000u64 {
        // Each key is idle one second after use; a new key every 10 ms.
        let now = ns(key * 10_000_000);
        keyed.check(&key, now, 1).unwrap();
        max_len = max_len.max(keyed.len());
    }
    // About 100 keys are live at any time.
    assert!(max_len <= 2 * 101 + 64, "map grew to {max_len}");
}

#[test]
fn eviction_never_loosens_a_limit() {
    let mut keyed = KeyedGcra::new(&[Quota::per_second(2).unwrap()]);
    keyed.check(&"k", ns(0), 2).unwrap();
    keyed.evict_idle(ns(999_999_999));
    assert_eq!(keyed.len(), 1, "not yet full again: kept");
    assert_eq!(
        keyed.check(&"k", ns(999_999_999), 2),
        Err(Denied::NotUntil(ns(1_000_000_000)))
    );
    keyed.evict_idle(ns(1_000_000_000));
    assert_eq!(keyed.len(), 0, "full again: a fresh key is the same");
    assert_eq!(keyed.check(&"k", ns(1_000_000_000), 2), Ok(()));
    assert!(keyed.check(&"k", ns(1_000_000_000), 1).is_err());
}

#[test]
fn paused_and_waited_on_keys_stay_resident() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[], &[Quota::per_second(1).unwrap()], clock.clone());
    limiter.pause_until(&"paused", ns(10_000_000_000));
    limiter.check(&"busy", 1).unwrap();
    let waker = futures::task::noop_waker();
    let mut waiter = limiter.acquire("busy", 1);
    assert!(Pin::new(&mut waiter)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    clock.set(ns(5_000_000_000));
    limiter.evict_idle();
    assert_eq!(
        limiter.keys(),
        2,
        "a pause in force and a waiter keep their keys"
    );
    drop(waiter);
    limiter.evict_idle();
    assert_eq!(limiter.keys(), 1);
    assert_eq!(
        limiter.check(&"paused", 1),
        Err(Denied::NotUntil(ns(10_000_000_000)))
    );
    clock.set(ns(10_000_000_000));
    limiter.evict_idle();
    assert_eq!(
        limiter.keys(),
        1,
        "easing back in after the pause (1 s steps)"
    );
    clock.set(ns(16_000_000_000));
    limiter.evict_idle();
    assert_eq!(limiter.keys(), 0);
}

#[test]
fn no_per_key_quotas_store_no_keys() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[Quota::per_second(1_000_000).unwrap()], &[], clock);
    for key in 0..10_000u32 {
        limiter.check(&key, 1).unwrap();
    }
    assert_eq!(limiter.keys(), 0);
}

#[test]
fn keyed_gcra_pure_api() {
    let mut keyed = KeyedGcra::new(&[Quota::per_second(4).unwrap(), Quota::per_minute(6).unwrap()]);
    assert_eq!(keyed.max_cost(), 4);
    assert_eq!(
        keyed.check(&1, ns(0), 5),
        Err(Denied::ExceedsBurst { cost: 5, burst: 4 })
    );
    assert_eq!(keyed.peek(&1, ns(0), 4), Ok(()));
    assert!(keyed.is_empty(), "peek stores nothing");
    keyed.check(&1, ns(0), 4).unwrap();
    assert_eq!(
        keyed.peek(&1, ns(0), 1),
        Err(Denied::NotUntil(ns(250_000_000)))
    );
    keyed.pause_until(&2, ns(3_000_000_000));
    assert_eq!(keyed.paused_until(&2, ns(0)), Some(ns(3_000_000_000)));
    assert_eq!(
        keyed.check(&2, ns(1), 1),
        Err(Denied::NotUntil(ns(3_000_000_000)))
    );
    assert_eq!(keyed.check(&2, ns(3_000_000_000), 1), Ok(()));
    assert_eq!(keyed.paused_until(&2, ns(3_000_000_000)), None);
    assert_eq!(keyed.len(), 2);
}
