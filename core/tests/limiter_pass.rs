//! `Limiter::try_pass`: a momentary admission (spend rate tokens, hold
//! nothing), with and without concurrency caps. Driven over a `ManualClock`.

#[path = "support/mod.rs"]
mod support;
use support::manual_limiter;

use core::future::Future;
use core::task::{Context, Poll};
use core::time::Duration;

use futures::task::noop_waker;
use weir::{Clock, LimiterConfig, LimiterError, Quota};

#[test]
fn without_caps_it_spends_tokens_and_leaves_no_concurrency_state() {
    let (l, clock) = manual_limiter(LimiterConfig {
        per_key_rate: vec![Quota::new(2, Duration::from_millis(100)).unwrap()],
        ..Default::default()
    });
    assert_eq!(l.try_pass(&"a", 1), Ok(()));
    assert_eq!(l.try_pass(&"a", 1), Ok(()));
    let Err(LimiterError::RateLimited { not_until }) = l.try_pass(&"a", 1) else {
        panic!("the burst of 2 is spent")
    };
    assert_eq!(not_until, clock.now() + Duration::from_millis(50));
    // Another key has its own bucket; nothing is held anywhere.
    assert_eq!(l.try_pass(&"b", 2), Ok(()));
    let s = l.stats();
    assert_eq!((s.in_flight, s.keys, s.queued, s.rate_keys), (0, 0, 0, 2));
    clock.advance(Duration::from_millis(50));
    assert_eq!(l.try_pass(&"a", 1), Ok(()));
    assert!(matches!(
        l.try_pass(&"a", 3),
        Err(LimiterError::ExceedsBurst { cost: 3, burst: 2 })
    ));
}

#[test]
fn without_quotas_or_caps_everything_passes() {
    let (l, _) = manual_limiter(LimiterConfig::default());
    for _ in 0..1000 {
        assert_eq!(l.try_pass(&"k", 7), Ok(()));
    }
    assert_eq!(l.stats().in_flight, 0);
}

#[test]
fn a_pause_holds_passes_for_its_key_only() {
    let (l, clock) = manual_limiter(LimiterConfig::default());
    l.pause_until(&"a", clock.now() + Duration::from_secs(1));
    assert!(matches!(
        l.try_pass(&"a", 1),
        Err(LimiterError::RateLimited { .. })
    ));
    assert_eq!(l.try_pass(&"b", 1), Ok(()));
    clock.advance(Duration::from_secs(1));
    assert_eq!(l.try_pass(&"a", 1), Ok(()));
}

#[test]
fn with_caps_it_needs_a_free_permit_and_gives_it_back() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(2),
        per_key: Some(1),
        ..Default::default()
    });
    assert_eq!(l.try_pass(&"a", 1), Ok(()));
    assert_eq!(l.stats().in_flight, 0);
    let held = l.try_acquire_grant(&"a", 1).unwrap();
    assert_eq!(l.try_pass(&"a", 1), Err(LimiterError::Busy));
    assert_eq!(l.try_pass(&"b", 1), Ok(()));
    assert!(matches!(
        l.try_pass(&"b", 3),
        Err(LimiterError::TooLarge { .. })
    ));
    l.release(held);
    assert_eq!(l.stats().in_flight, 0);
}

#[test]
fn it_does_not_jump_ahead_of_a_waiter_for_rate_tokens() {
    let (l, clock) = manual_limiter(LimiterConfig {
        per_key_rate: vec![Quota::new(1, Duration::from_millis(10)).unwrap()],
        ..Default::default()
    });
    assert_eq!(l.try_pass(&"k", 1), Ok(()));
    let mut waiting = Box::pin(l.acquire_grant("k", 1));
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    // The next token belongs to the waiter: a pass at that instant is denied.
    clock.advance(Duration::from_millis(10));
    assert!(matches!(
        l.try_pass(&"k", 1),
        Err(LimiterError::RateLimited { .. })
    ));
    let Poll::Ready(Ok(grant)) = waiting.as_mut().poll(&mut cx) else {
        panic!("the waiter gets the token")
    };
    l.release(grant);
}
