//! The async layer of the keyed semaphore, driven by manual polling.

#[path = "support/mod.rs"]
mod support;
use support::{poll_with, WakeCounter};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use weir::semaphore::{Acquire, AcquireOwned};
use weir::{AcquireError, KeyedSemaphore, OwnedPermit, Permit, SemaphoreStats, TryAcquireError};

fn stats(in_flight: usize, waiting: usize, keys: usize) -> SemaphoreStats {
    SemaphoreStats {
        in_flight,
        waiting,
        keys,
    }
}

#[test]
fn uncontended_acquire_is_ready_at_once() {
    let sem = KeyedSemaphore::new(Some(2), Some(2)).unwrap();
    let (c, w) = WakeCounter::new();
    let mut fut = sem.acquire("a", 2);
    let Poll::Ready(Ok(permit)) = poll_with(&mut fut, &w) else {
        panic!("not ready")
    };
    assert_eq!((permit.key(), permit.permits()), (&"a", 2));
    assert_eq!(sem.stats(), stats(2, 0, 1));
    drop(permit);
    drop(fut);
    assert_eq!(sem.stats(), stats(0, 0, 0));
    assert_eq!(c.count(), 0);
}

#[test]
fn a_waiter_is_woken_once_and_then_ready() {
    let sem = KeyedSemaphore::new(Some(1), None).unwrap();
    let held = sem.try_acquire("a", 1).unwrap();
    let (c, w) = WakeCounter::new();
    let mut fut = sem.acquire("b", 1);
    assert!(poll_with(&mut fut, &w).is_pending());
    assert!(poll_with(&mut fut, &w).is_pending()); // spurious re-poll keeps its place
    assert_eq!(sem.stats(), stats(1, 1, 2));
    drop(held);
    assert_eq!(c.count(), 1);
    assert_eq!(sem.stats(), stats(1, 0, 1)); // granted before it is polled
    let Poll::Ready(Ok(permit)) = poll_with(&mut fut, &w) else {
        panic!("not ready")
    };
    assert_eq!(permit.key(), &"b");
    drop(permit);
    assert_eq!(sem.stats(), stats(0, 0, 0));
}

#[test]
fn the_latest_waker_is_the_one_woken() {
    let sem = KeyedSemaphore::new(Some(1), None).unwrap();
    let held = sem.try_acquire(1u8, 1).unwrap();
    let (c1, w1) = WakeCounter::new();
    let (c2, w2) = WakeCounter::new();
    let mut fut = sem.acquire(2u8, 1);
    assert!(poll_with(&mut fut, &w1).is_pending());
    assert!(poll_with(&mut fut, &w2).is_pending());
    drop(held);
    assert_eq!((c1.count(), c2.count()), (0, 1));
    assert!(poll_with(&mut fut, &w2).is_ready());
}

#[test]
fn dropping_a_pending_acquire_leaves_the_queue() {
    let sem = KeyedSemaphore::new(Some(1), None).unwrap();
    let held = sem.try_acquire("x", 1).unwrap();
    let (c2, w2) = WakeCounter::new();
    let (c3, w3) = WakeCounter::new();
    let mut f2 = sem.acquire("a", 1);
    let mut f3 = sem.acquire("b", 1);
    assert!(poll_with(&mut f2, &w2).is_pending());
    assert!(poll_with(&mut f3, &w3).is_pending());
    drop(f2);
    assert_eq!(sem.stats(), stats(1, 1, 2));
    drop(held);
    assert_eq!((c2.count(), c3.count()), (0, 1));
    assert!(poll_with(&mut f3, &w3).is_ready());
}

#[test]
fn dropping_a_granted_unpolled_acquire_passes_the_permit_on() {
    let sem = KeyedSemaphore::new(Some(1), Some(1)).unwrap();
    let held = sem.try_acquire("a", 1).unwrap();
    let (c2, w2) = WakeCounter::new();
    let (c3, w3) = WakeCounter::new();
    let mut f2 = sem.acquire("a", 1);
    let mut f3 = sem.acquire("a", 1);
    assert!(poll_with(&mut f2, &w2).is_pending());
    assert!(poll_with(&mut f3, &w3).is_pending());
    drop(held);
    assert_eq!((c2.count(), c3.count()), (1, 0));
    drop(f2); // woken, never polled
    assert_eq!(c3.count(), 1);
    let Poll::Ready(Ok(p3)) = poll_with(&mut f3, &w3) else {
        panic!("not ready")
    };
    drop(p3);
    assert_eq!(sem.stats(), stats(0, 0, 0));
}

#[test]
fn dropping_before_the_first_poll_does_nothing() {
    let sem = KeyedSemaphore::new(Some(1), None).unwrap();
    let held = sem.try_acquire("a", 1).unwrap();
    drop(sem.acquire("b", 1));
    assert_eq!(sem.stats(), stats(1, 0, 1));
    drop(held);
    assert_eq!(sem.stats(), stats(0, 0, 0));
}

#[test]
fn a_cancelled_front_lets_the_next_waiter_through() {
    let sem = KeyedSemaphore::new(Some(3), None).unwrap();
    let _held = sem.try_acquire("x", 2).unwrap();
    let (_, w1) = WakeCounter::new();
    let (c2, w2) = WakeCounter::new();
    let mut big = sem.acquire("a", 2);
    let mut small = sem.acquire("b", 1);
    assert!(poll_with(&mut big, &w1).is_pending());
    assert!(poll_with(&mut small, &w2).is_pending());
    drop(big);
    assert_eq!(c2.count(), 1);
    assert!(matches!(poll_with(&mut small, &w2), Poll::Ready(Ok(_))));
}

#[test]
fn too_large_fails_at_once_or_when_limits_fall() {
    let sem = KeyedSemaphore::new(Some(4), Some(3)).unwrap();
    let (c, w) = WakeCounter::new();
    let mut fut = sem.acquire("a", 5);
    let err = AcquireError::TooLarge {
        requested: 5,
        limit: 3,
    };
    assert_eq!(
        poll_with(&mut fut, &w).map(|r| r.err()),
        Poll::Ready(Some(err))
    );
    assert_eq!(
        sem.try_acquire("a", 4).unwrap_err(),
        TryAcquireError::TooLarge {
            requested: 4,
            limit: 3
        }
    );

    let held = sem.try_acquire("a", 3).unwrap();
    let mut fut = sem.acquire("b", 3);
    assert!(poll_with(&mut fut, &w).is_pending());
    sem.set_limits(Some(2), Some(3)).unwrap();
    assert_eq!(c.count(), 1);
    let err = AcquireError::TooLarge {
        requested: 3,
        limit: 2,
    };
    assert_eq!(
        poll_with(&mut fut, &w).map(|r| r.err()),
        Poll::Ready(Some(err))
    );
    assert_eq!(sem.stats(), stats(3, 0, 1)); // lowering revoked nothing
    drop(held);
    assert_eq!(sem.stats(), stats(0, 0, 0));
}

#[test]
fn raising_limits_wakes_waiters() {
    let sem = KeyedSemaphore::new(Some(1), None).unwrap();
    let _held = sem.try_acquire(0u32, 1).unwrap();
    let counters: Vec<_> = (1..=3u32).map(|_| WakeCounter::new()).collect();
    let mut futs: Vec<_> = (1..=3u32).map(|k| sem.acquire(k, 1)).collect();
    for (f, (_, w)) in futs.iter_mut().zip(&counters) {
        assert!(poll_with(f, w).is_pending());
    }
    sem.set_limits(Some(3), None).unwrap();
    let woken: Vec<_> = counters.iter().map(|(c, _)| c.count()).collect();
    assert_eq!(woken, [1, 1, 0]);
    assert_eq!(sem.limits(), (Some(3), None));
    assert!(sem.set_limits(Some(0), None).is_err());
    assert_eq!(sem.limits(), (Some(3), None));
}

#[test]
fn owned_permits_and_futures_are_static_and_send() {
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    let sem = Arc::new(KeyedSemaphore::new(Some(1), None).unwrap());
    let held = sem.try_acquire_owned(String::from("a"), 1).unwrap();
    let (c, w) = WakeCounter::new();
    let mut fut: AcquireOwned<String> = sem.acquire_owned(String::from("b"), 1);
    assert_send_static(&fut);
    assert!(poll_with(&mut fut, &w).is_pending());
    std::thread::spawn(move || drop(held)).join().unwrap();
    assert_eq!(c.count(), 1);
    let Poll::Ready(Ok(permit)) = poll_with(&mut fut, &w) else {
        panic!("not ready")
    };
    let permit: OwnedPermit<String> = permit;
    assert_eq!(permit.key(), "b");
    drop(fut);
    assert_eq!(sem.in_flight_of(&String::from("b")), 1);
    drop(permit);
    assert_eq!(sem.stats(), stats(0, 0, 0));
}

#[test]
fn types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<KeyedSemaphore<String>>();
    send_sync::<Permit<'static, String>>();
    send::<Acquire<'static, String>>();
    send_sync::<OwnedPermit<String>>();
    send::<AcquireOwned<String>>();
}

#[test]
fn errors_display_what_went_wrong() {
    assert_eq!(
        TryAcquireError::NoPermits.to_string(),
        "no permits available"
    );
    assert_eq!(
        AcquireError::TooLarge {
            requested: 9,
            limit: 4
        }
        .to_string(),
        "requested 9 permits but the limit is 4"
    );
    let err = KeyedSemaphore::<u8>::new(Some(0), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "global limit must be at least 1 or unlimited, got 0"
    );
    let _: &dyn std::error::Error = &err;
}

#[test]
fn works_under_a_real_executor() {
    let sem = Arc::new(KeyedSemaphore::new(Some(2), Some(1)).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let peak = rt.block_on(async {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..20u32 {
            let (sem, in_flight, peak) = (sem.clone(), in_flight.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned(i % 3, 1).await.unwrap();
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        peak.load(Ordering::SeqCst)
    });
    assert_eq!(peak, 2);
    assert_eq!(sem.stats(), stats(0, 0, 0));
}
