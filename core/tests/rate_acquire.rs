//! Async acquire: exact wake-ups, FIFO per key, one timer per key, hand-over
//! of the timer on drop, pauses, independence of keys.

#[path = "support/mod.rs"]
mod support;
use support::{poll_with, WakeCounter};

use core::future::Future;
use core::task::Poll;
use core::time::Duration;
use std::sync::Arc;

use weir::{Denied, Instant, ManualClock, Quota, RateAcquire, RateLimiter};

fn ns(n: u64) -> Instant {
    Instant::from_nanos(n)
}

const SEC: u64 = 1_000_000_000;

fn one_per_second(clock: &ManualClock) -> RateLimiter<&'static str, ManualClock> {
    RateLimiter::new(&[], &[Quota::per_second(1).unwrap()], clock.clone())
}

#[test]
fn uncontended_acquire_is_ready_at_once_without_a_timer() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[], &[Quota::per_second(3).unwrap()], clock.clone());
    let waker = futures::task::noop_waker();
    for _ in 0..3 {
        assert_eq!(
            poll_with(&mut limiter.acquire("k", 1), &waker),
            Poll::Ready(Ok(()))
        );
    }
    assert_eq!(clock.pending_sleeps(), 0);
    assert_eq!(limiter.waiting(), 0);
    assert_eq!(
        poll_with(&mut limiter.acquire("k", 4), &waker),
        Poll::Ready(Err(Denied::ExceedsBurst { cost: 4, burst: 3 }))
    );
}

#[test]
fn wakes_exactly_at_the_not_until_instant() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[], &[Quota::per_second(3).unwrap()], clock.clone());
    for _ in 0..3 {
        limiter.check(&"k", 1).unwrap();
    }
    let Err(Denied::NotUntil(at)) = limiter.peek(&"k", 1) else {
        panic!("must be denied")
    };
    assert_eq!(at, ns(333_333_334));

    let (woken, waker) = WakeCounter::new();
    let mut fut = limiter.acquire("k", 1);
    assert!(poll_with(&mut fut, &waker).is_pending());
    assert_eq!(clock.pending_sleeps(), 1);
    assert_eq!(
        clock.next_deadline(),
        Some(at),
        "the timer is set for the exact instant"
    );

    clock.set(ns(at.as_nanos() - 1));
    assert_eq!(woken.count(), 0, "no early wake-up");
    assert!(poll_with(&mut fut, &waker).is_pending());

    clock.set(at);
    assert_eq!(woken.count(), 1, "woken by the timer at the instant");
    assert_eq!(poll_with(&mut fut, &waker), Poll::Ready(Ok(())));
    assert_eq!(clock.pending_sleeps(), 0);
    assert_eq!(limiter.waiting(), 0);
    // It consumed: the next slot is 1/3 s later.
    assert_eq!(
        limiter.peek(&"k", 1),
        Err(Denied::NotUntil(ns(666_666_667)))
    );
}

#[test]
fn fifo_per_key_with_one_timer() {
    let clock = ManualClock::new();
    let limiter = one_per_second(&clock);
    limiter.check(&"k", 1).unwrap();
    let wakers: Vec<_> = (0..10).map(|_| WakeCounter::new()).collect();
    let mut futs: Vec<_> = (0..10).map(|_| limiter.acquire("k", 1)).collect();
    for (fut, (_, waker)) in futs.iter_mut().zip(&wakers) {
        assert!(poll_with(fut, waker).is_pending());
    }
    assert_eq!(limiter.waiting(), 10);
    assert_eq!(clock.pending_sleeps(), 1, "only the head sleeps");

    let mut order = Vec::new();
    for second in 1..=10u64 {
        clock.set(ns(second * SEC - 1));
        for (i, fut) in futs.iter_mut().enumerate() {
            if !order.contains(&i) {
                assert!(
                    poll_with(fut, &wakers[i].1).is_pending(),
                    "nobody early at {second}s"
                );
            }
        }
        clock.set(ns(second * SEC));
        // Poll in reverse order: FIFO must not depend on who polls first.
        for i in (0..10).rev() {
            if !order.contains(&i) && poll_with(&mut futs[i], &wakers[i].1).is_ready() {
                order.push(i);
            }
        }
        // The new head was woken to take over the timer; poll it so it arms.
        for (i, fut) in futs.iter_mut().enumerate() {
            if !order.contains(&i) {
                assert!(poll_with(fut, &wakers[i].1).is_pending());
            }
        }
        assert!(clock.pending_sleeps() <= 1);
    }
    assert_eq!(order, (0..10).collect::<Vec<_>>());
    assert_eq!(limiter.waiting(), 0);
    assert_eq!(clock.pending_sleeps(), 0);
}

#[test]
fn strict_fifo_a_small_cost_does_not_pass_a_large_head() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[], &[Quota::per_second(2).unwrap()], clock.clone());
    let waker = futures::task::noop_waker();
    limiter.check(&"k", 2).unwrap();
    let mut big = limiter.acquire("k", 2);
    let mut small = limiter.acquire("k", 1);
    assert!(poll_with(&mut big, &waker).is_pending());
    assert!(poll_with(&mut small, &waker).is_pending());
    clock.set(ns(SEC / 2)); // one unit free: enough for `small`, not for `big`
    assert!(poll_with(&mut small, &waker).is_pending());
    assert!(poll_with(&mut big, &waker).is_pending());
    // A check does not jump the queue either, and names when it could pass
    // after both waiters (3 units queued).
    assert_eq!(limiter.check(&"k", 1), Err(Denied::NotUntil(ns(2 * SEC))));
    clock.set(ns(SEC));
    assert_eq!(poll_with(&mut big, &waker), Poll::Ready(Ok(())));
    clock.set(ns(3 * SEC / 2));
    assert_eq!(poll_with(&mut small, &waker), Poll::Ready(Ok(())));
}

#[test]
fn dropping_the_head_hands_the_timer_to_the_next() {
    let clock = ManualClock::new();
    let limiter = one_per_second(&clock);
    limiter.check(&"k", 1).unwrap();
    let (_, w1) = WakeCounter::new();
    let (woken2, w2) = WakeCounter::new();
    let (woken3, w3) = WakeCounter::new();
    let mut head = limiter.acquire("k", 1);
    let mut second = limiter.acquire("k", 1);
    let mut third = limiter.acquire("k", 1);
    assert!(poll_with(&mut head, &w1).is_pending());
    assert!(poll_with(&mut second, &w2).is_pending());
    assert!(poll_with(&mut third, &w3).is_pending());
    assert_eq!(clock.pending_sleeps(), 1);

    drop(head);
    assert_eq!(clock.pending_sleeps(), 0, "the head's timer left with it");
    assert_eq!(woken2.count(), 1, "the next waiter is told to take over");
    assert_eq!(woken3.count(), 0);
    assert!(poll_with(&mut second, &w2).is_pending());
    assert_eq!(clock.pending_sleeps(), 1);
    assert_eq!(clock.next_deadline(), Some(ns(SEC)));
    assert_eq!(limiter.waiting(), 2);

    // Dropping a non-head waiter changes nothing for the head.
    drop(third);
    assert_eq!(limiter.waiting(), 1);
    clock.set(ns(SEC));
    assert_eq!(poll_with(&mut second, &w2), Poll::Ready(Ok(())));
    assert_eq!(limiter.waiting(), 0);
    // Nothing was consumed by the dropped waiters.
    clock.set(ns(2 * SEC));
    assert_eq!(limiter.check(&"k", 1), Ok(()));
}

#[test]
fn one_timer_per_key_and_keys_do_not_delay_each_other() {
    let clock = ManualClock::new();
    let limiter = one_per_second(&clock);
    let waker = futures::task::noop_waker();
    limiter.check(&"a", 1).unwrap();
    limiter.check(&"b", 1).unwrap();
    let mut a: Vec<RateAcquire<'_, _, _>> = (0..50).map(|_| limiter.acquire("a", 1)).collect();
    let mut b: Vec<_> = (0..50).map(|_| limiter.acquire("b", 1)).collect();
    for f in a.iter_mut().chain(b.iter_mut()) {
        assert!(poll_with(f, &waker).is_pending());
    }
    assert_eq!(clock.pending_sleeps(), 2, "one timer per busy key");
    assert_eq!(limiter.waiting(), 100);
    // A third key is not held up by the busy ones.
    assert_eq!(
        poll_with(&mut limiter.acquire("c", 1), &waker),
        Poll::Ready(Ok(()))
    );
    assert_eq!(limiter.check(&"d", 1), Ok(()));
}

#[test]
fn global_quota_is_shared_and_each_key_head_sleeps_once() {
    let clock = ManualClock::new();
    let limiter: RateLimiter<u32, _> =
        RateLimiter::new(&[Quota::per_second(2).unwrap()], &[], clock.clone());
    let waker = futures::task::noop_waker();
    limiter.check(&1, 2).unwrap();
    let mut x = limiter.acquire(1, 1);
    let mut y = limiter.acquire(2, 1);
    assert!(poll_with(&mut x, &waker).is_pending());
    assert!(poll_with(&mut y, &waker).is_pending());
    assert_eq!(clock.pending_sleeps(), 2);
    clock.set(ns(SEC / 2));
    // Both wake; the capacity for one unit goes to whoever polls first, the
    // other re-arms for the next slot.
    assert_eq!(poll_with(&mut y, &waker), Poll::Ready(Ok(())));
    assert!(poll_with(&mut x, &waker).is_pending());
    assert_eq!(clock.next_deadline(), Some(ns(SEC)));
    clock.set(ns(SEC));
    assert_eq!(poll_with(&mut x, &waker), Poll::Ready(Ok(())));
}

#[test]
fn pause_until_holds_a_key_and_its_waiters() {
    let clock = ManualClock::new();
    let limiter = one_per_second(&clock);
    let waker = futures::task::noop_waker();
    let until = ns(5 * SEC);
    limiter.pause_until(&"k", until);
    assert_eq!(limiter.check(&"k", 1), Err(Denied::NotUntil(until)));
    let mut w = limiter.acquire("k", 1);
    assert!(poll_with(&mut w, &waker).is_pending());
    assert_eq!(clock.next_deadline(), Some(until));
    // Other keys go on.
    assert_eq!(limiter.check(&"other", 1), Ok(()));
    // A shorter pause does not shorten it.
    limiter.pause_until(&"k", ns(SEC));
    clock.set(ns(5 * SEC - 1));
    assert!(poll_with(&mut w, &waker).is_pending());
    // A check queues behind the waiter, which passes at the end of the pause.
    assert_eq!(
        limiter.check(&"k", 1),
        Err(Denied::NotUntil(until + Duration::from_secs(1)))
    );
    clock.set(until);
    assert_eq!(poll_with(&mut w, &waker), Poll::Ready(Ok(())));
}

#[test]
fn lengthening_a_pause_re_arms_the_head() {
    let clock = ManualClock::new();
    let limiter = one_per_second(&clock);
    let waker = futures::task::noop_waker();
    limiter.pause_until(&"k", ns(SEC));
    let mut w = limiter.acquire("k", 1);
    assert!(poll_with(&mut w, &waker).is_pending());
    limiter.pause_until(&"k", ns(3 * SEC));
    clock.set(ns(SEC));
    assert!(poll_with(&mut w, &waker).is_pending());
    assert_eq!(clock.next_deadline(), Some(ns(3 * SEC)));
    assert_eq!(clock.pending_sleeps(), 1);
    clock.set(ns(3 * SEC));
    assert_eq!(poll_with(&mut w, &waker), Poll::Ready(Ok(())));
}

#[test]
fn pause_all_until_holds_every_key() {
    let clock = ManualClock::new();
    let limiter = one_per_second(&clock);
    let waker = futures::task::noop_waker();
    limiter.pause_all_until(ns(2 * SEC));
    assert_eq!(limiter.check(&"a", 1), Err(Denied::NotUntil(ns(2 * SEC))));
    let mut b = limiter.acquire("b", 1);
    assert!(poll_with(&mut b, &waker).is_pending());
    clock.set(ns(2 * SEC - 1));
    assert!(poll_with(&mut b, &waker).is_pending());
    clock.set(ns(2 * SEC));
    assert_eq!(poll_with(&mut b, &waker), Poll::Ready(Ok(())));
    assert_eq!(limiter.check(&"a", 1), Ok(()));
}

#[test]
fn acquire_owned_is_static_and_cancel_safe() {
    let clock = ManualClock::new();
    let limiter = Arc::new(one_per_second(&clock));
    let waker = futures::task::noop_waker();
    limiter.check(&"k", 1).unwrap();
    fn assert_static_send<F: Future + Send + 'static>(f: F) -> F {
        f
    }
    let mut fut = assert_static_send(limiter.acquire_owned("k", 1));
    assert!(poll_with(&mut fut, &waker).is_pending());
    assert_eq!(limiter.waiting(), 1);
    drop(fut);
    assert_eq!(limiter.waiting(), 0);
    assert_eq!(clock.pending_sleeps(), 0);
    let mut fut = limiter.acquire_owned("k", 1);
    assert!(poll_with(&mut fut, &waker).is_pending());
    clock.set(ns(SEC));
    assert_eq!(poll_with(&mut fut, &waker), Poll::Ready(Ok(())));
}

#[test]
fn limiter_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<RateLimiter<String, ManualClock>>();
    check::<RateLimiter<u64, weir::TokioTimer>>();
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn tokio_timer_paces_concurrent_acquires() {
    let limiter = Arc::new(RateLimiter::new(
        &[Quota::per_second(10).unwrap()],
        &[Quota::per_second(2).unwrap()],
        weir::TokioTimer::new(),
    ));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..6u32 {
        let limiter = limiter.clone();
        tasks.push(tokio::spawn(async move {
            limiter.acquire_owned(i % 2, 1).await.unwrap();
            tokio::time::Instant::now() - start
        }));
    }
    let mut elapsed = Vec::new();
    for t in tasks {
        elapsed.push(t.await.unwrap());
    }
    elapsed.sort();
    // Per key 2/s with burst 2: two keys × (2 at once, then one at 0.5 s).
    let ms: Vec<u128> = elapsed.iter().map(|d| d.as_millis()).collect();
    assert_eq!(ms, vec![0, 0, 0, 0, 500, 500]);
}
