//! Loom models of the keyed semaphore: threads acquiring, releasing and
//! cancelling never lose a permit, never lose a wake-up and never exceed a cap.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p weir-limiter --test loom_semaphore --release`.
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use weir::{KeyedSemaphore, SemaphoreStats};

/// Counts permits held and fails if a cap is ever exceeded.
struct Gauge {
    now: AtomicUsize,
    cap: usize,
}

impl Gauge {
    fn new(cap: usize) -> Arc<Self> {
        Arc::new(Gauge {
            now: AtomicUsize::new(0),
            cap,
        })
    }

    fn enter(&self, n: usize) {
        let now = self.now.fetch_add(n, Ordering::SeqCst) + n;
        assert!(now <= self.cap, "cap {} exceeded: {now}", self.cap);
    }

    fn leave(&self, n: usize) {
        self.now.fetch_sub(n, Ordering::SeqCst);
    }
}

fn assert_idle(sem: &KeyedSemaphore<u8>) {
    assert_eq!(sem.stats(), SemaphoreStats::default());
}

/// Two threads contend for one global permit on different keys.
#[test]
fn global_cap_holds_and_no_permit_is_lost() {
    loom::model(|| {
        let sem = Arc::new(KeyedSemaphore::new(Some(1), None).unwrap());
        let gauge = Gauge::new(1);
        let threads: Vec<_> = (0..2u8)
            .map(|key| {
                let (sem, gauge) = (sem.clone(), gauge.clone());
                thread::spawn(move || {
                    let permit = loom::future::block_on(sem.acquire_owned(key, 1)).unwrap();
                    gauge.enter(1);
                    gauge.leave(1);
                    drop(permit);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_idle(&sem);
    });
}

/// Three threads, global cap 2, per-key cap 1; two share a key. Three
/// threads explode the schedule space, so preemptions are bounded.
#[test]
fn three_threads_keep_both_caps() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(4);
    model.check(|| {
        let sem = Arc::new(KeyedSemaphore::new(Some(2), Some(1)).unwrap());
        let global = Gauge::new(2);
        let shared_key = Gauge::new(1);
        let threads: Vec<_> = [0u8, 1, 1]
            .into_iter()
            .map(|key| {
                let (sem, global, shared_key) = (sem.clone(), global.clone(), shared_key.clone());
                thread::spawn(move || {
                    let permit = loom::future::block_on(sem.acquire_owned(key, 1)).unwrap();
                    global.enter(1);
                    if key == 1 {
                        shared_key.enter(1);
                        shared_key.leave(1);
                    }
                    global.leave(1);
                    drop(permit);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_idle(&sem);
    });
}

/// Weighted requests on one key (per-key cap 2, global unlimited) from the
/// main thread and a helper.
#[test]
fn per_key_cap_holds_across_threads() {
    loom::model(|| {
        let sem = Arc::new(KeyedSemaphore::new(None, Some(2)).unwrap());
        let gauge = Gauge::new(2);
        let helper = {
            let (sem, gauge) = (sem.clone(), gauge.clone());
            thread::spawn(move || {
                let permit = loom::future::block_on(sem.acquire_owned(7, 2)).unwrap();
                gauge.enter(2);
                gauge.leave(2);
                drop(permit);
            })
        };
        let permit = loom::future::block_on(sem.acquire(7, 1)).unwrap();
        gauge.enter(1);
        gauge.leave(1);
        drop(permit);
        helper.join().unwrap();
        assert_idle(&sem);
    });
}

/// A waiter is cancelled while a release races with it: whether the cancel
/// lands before or after the grant, the permit reaches the other waiter.
#[test]
fn cancelling_a_waiter_passes_the_wake_up_on() {
    loom::model(|| {
        let sem = Arc::new(KeyedSemaphore::new(Some(1), None).unwrap());
        let held = sem.try_acquire_owned(0, 1).unwrap();
        // The cancelling waiter queues first, so a grant goes to it first.
        let mut doomed = sem.acquire_owned(1, 1);
        let waker = futures::task::noop_waker();
        assert!(Pin::new(&mut doomed)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());

        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let permit = loom::future::block_on(sem.acquire_owned(2, 1)).unwrap();
                drop(permit);
            })
        };
        let releaser = thread::spawn(move || drop(held));
        drop(doomed);
        releaser.join().unwrap();
        waiter.join().unwrap();
        assert_idle(&sem);
    });
}

/// A release races with raising the limits and with a waiter.
#[test]
fn set_limits_races_with_release() {
    loom::model(|| {
        let sem = Arc::new(KeyedSemaphore::new(Some(1), Some(1)).unwrap());
        let held = sem.try_acquire_owned(0, 1).unwrap();
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let permit = loom::future::block_on(sem.acquire_owned(0, 1)).unwrap();
                assert!(sem.in_flight_of(&0) <= 2);
                drop(permit);
            })
        };
        sem.set_limits(Some(2), Some(2)).unwrap();
        drop(held);
        waiter.join().unwrap();
        assert_idle(&sem);
    });
}

/// A key's soft cap is raised (as an adaptive per-key limit does) while a
/// waiter of that key is parked behind a held permit: the raise wakes it
/// (no lost wake-up: the main thread releases only after it got through),
/// and a concurrent lowering never lets the key above the larger cap.
#[test]
fn raising_a_key_cap_wakes_its_waiter() {
    loom::model(|| {
        let sem = Arc::new(KeyedSemaphore::new(None, None).unwrap());
        sem.set_key_cap(&7, 1);
        let gauge = Gauge::new(2);
        let held = sem.try_acquire_owned(7, 1).unwrap();
        gauge.enter(1);
        let waiter = {
            let (sem, gauge) = (sem.clone(), gauge.clone());
            thread::spawn(move || {
                let permit = loom::future::block_on(sem.acquire_owned(7, 1)).unwrap();
                gauge.enter(1);
                gauge.leave(1);
                drop(permit);
            })
        };
        let raiser = {
            let sem = sem.clone();
            thread::spawn(move || sem.set_key_cap(&7, 2))
        };
        raiser.join().unwrap();
        waiter.join().unwrap();
        gauge.leave(1);
        drop(held);
        assert_eq!(sem.key_cap(&7), Some(2));
        assert_idle(&sem);
    });
}
