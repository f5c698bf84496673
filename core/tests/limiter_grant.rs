//! The grant API of `Limiter` (`try_acquire_grant` / `acquire_grant` /
//! `release`): permits as plain data, and the named `LimiterAcquire` future
//! giving back what it holds when dropped at each stage. Driven by hand over
//! a `ManualClock`.

#[path = "support/mod.rs"]
mod support;
use support::manual_limiter;

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use futures::task::noop_waker;
use weir::{
    Instant, LimiterAcquire, LimiterConfig, LimiterError, LimiterGrant, ManualClock, Quota,
};

type Acq = LimiterAcquire<&'static str, ManualClock>;

fn poll(f: &mut Acq) -> Poll<Result<LimiterGrant, LimiterError>> {
    let waker = noop_waker();
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

fn granted(p: Poll<Result<LimiterGrant, LimiterError>>) -> LimiterGrant {
    match p {
        Poll::Ready(Ok(grant)) => grant,
        other => panic!("expected a grant, got {other:?}"),
    }
}

#[test]
fn grants_count_like_permits_and_release_lets_the_next_waiter_in() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(2),
        per_key: Some(1),
        ..Default::default()
    });
    let a = l.try_acquire_grant(&"a", 1).unwrap();
    assert!(matches!(
        l.try_acquire_grant(&"a", 1),
        Err(LimiterError::Busy)
    ));
    let b = l.try_acquire_grant(&"b", 1).unwrap();
    assert_eq!((l.stats().in_flight, l.stats().keys), (2, 2));
    let mut waiting = l.acquire_grant("a", 1);
    assert!(poll(&mut waiting).is_pending());
    assert_eq!(waiting.key(), Some(&"a"));
    assert_eq!(l.stats().queued, 1);
    l.release(a);
    let a2 = granted(poll(&mut waiting));
    assert_eq!(waiting.key(), None);
    assert_eq!(l.stats().queued, 0);
    l.release(a2);
    l.release(b);
    assert_eq!((l.stats().in_flight, l.stats().keys), (0, 0));
}

#[test]
fn a_rate_denial_after_the_permits_gives_them_back() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(1),
        per_key_rate: vec![Quota::per_second(1).unwrap()],
        ..Default::default()
    });
    let first = l.try_acquire_grant(&"k", 1).unwrap();
    l.release(first);
    assert!(matches!(
        l.try_acquire_grant(&"k", 1),
        Err(LimiterError::RateLimited { .. })
    ));
    assert_eq!(l.stats().in_flight, 0, "the denied try took no permit");
}

#[test]
fn dropped_while_waiting_for_permits_leaves_the_queue() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(1),
        max_queue: Some(1),
        ..Default::default()
    });
    let held = l.try_acquire_grant(&"a", 1).unwrap();
    let mut w1 = l.acquire_grant("a", 1);
    assert!(poll(&mut w1).is_pending());
    let mut full = l.acquire_grant("b", 1);
    assert!(matches!(
        poll(&mut full),
        Poll::Ready(Err(LimiterError::QueueFull { max: 1 }))
    ));
    drop(w1);
    assert_eq!(l.stats().queued, 0);
    l.release(held);
    assert_eq!((l.stats().in_flight, l.stats().keys), (0, 0));
}

#[test]
fn granted_but_dropped_before_claimed_passes_the_permit_on() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(1),
        ..Default::default()
    });
    let held = l.try_acquire_grant(&"a", 1).unwrap();
    let mut w1 = l.acquire_grant("a", 1);
    let mut w2 = l.acquire_grant("b", 1);
    assert!(poll(&mut w1).is_pending());
    assert!(poll(&mut w2).is_pending());
    l.release(held); // granted to w1, which is never polled again
    drop(w1);
    let g2 = granted(poll(&mut w2));
    assert_eq!(l.stats().in_flight, 1);
    l.release(g2);
    assert_eq!(l.stats(), Default::default());
}

#[test]
fn dropped_while_paused_holds_nothing_and_leaves_the_queue() {
    let (l, clock) = manual_limiter(LimiterConfig {
        concurrency: Some(1),
        ..Default::default()
    });
    l.pause_until(&"slow", Instant::from_nanos(1_000_000_000));
    let mut paused = l.acquire_grant("slow", 1);
    assert!(poll(&mut paused).is_pending());
    assert_eq!((l.stats().queued, l.stats().in_flight), (1, 0));
    assert_eq!(clock.pending_sleeps(), 1, "the paused head sleeps");
    drop(paused);
    assert_eq!((l.stats().queued, l.stats().in_flight), (0, 0));
    let other = l.try_acquire_grant(&"fast", 1).unwrap();
    l.release(other);
}

#[test]
fn waiting_for_tokens_holds_no_permit_and_dropping_leaves_the_queue() {
    let (l, clock) = manual_limiter(LimiterConfig {
        concurrency: Some(2),
        rate: vec![Quota::per_second(1).unwrap()],
        ..Default::default()
    });
    let first = l.try_acquire_grant(&"a", 1).unwrap();
    // Waits for the next token (1 s away) holding no permit.
    let mut second = l.acquire_grant("b", 1);
    assert!(poll(&mut second).is_pending());
    assert_eq!((l.stats().in_flight, l.stats().queued), (1, 1));
    drop(second);
    assert_eq!((l.stats().in_flight, l.stats().queued), (1, 0));
    // A waiter that does get its token finishes with its permits.
    let mut third = l.acquire_grant("c", 1);
    assert!(poll(&mut third).is_pending());
    clock.advance(Duration::from_secs(1));
    let g3 = granted(poll(&mut third));
    l.release(first);
    l.release(g3);
    assert_eq!(l.stats().in_flight, 0);
}

#[test]
fn too_large_and_exceeding_burst_fail_at_once() {
    let (l, _) = manual_limiter(LimiterConfig {
        concurrency: Some(2),
        per_key_rate: vec![Quota::per_second(5).unwrap().with_burst(3).unwrap()],
        ..Default::default()
    });
    assert!(matches!(
        l.try_acquire_grant(&"k", 3),
        Err(LimiterError::TooLarge {
            requested: 3,
            limit: 2
        })
    ));
    let mut big = l.acquire_grant("k", 3);
    assert!(matches!(
        poll(&mut big),
        Poll::Ready(Err(LimiterError::TooLarge { .. }))
    ));
    assert_eq!(l.stats(), Default::default());
}
