//! Loom models: concurrent checks never over-admit; a head waiter leaving
//! while the next one polls never loses the timer hand-over.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p weir-limiter --test rate_loom --release`.
#![cfg(loom)]

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

use loom::thread;
use weir::{ManualClock, Quota, RateLimiter};

#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn concurrent_checks_never_over_admit() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter = std::sync::Arc::new(RateLimiter::new(
            &[Quota::per_second(3).unwrap()],
            &[Quota::per_second(1).unwrap()],
            clock,
        ));
        let handles: Vec<_> = ["a", "a"]
            .into_iter()
            .map(|key| {
                let limiter = limiter.clone();
                thread::spawn(move || limiter.check(&key, 1).is_ok())
            })
            .collect();
        let admitted = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&ok| ok)
            .count();
        assert_eq!(admitted, 1);
    });
}

#[test]
fn head_leaving_while_next_polls_hands_over_the_timer() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter = std::sync::Arc::new(RateLimiter::new(
            &[],
            &[Quota::per_second(1).unwrap()],
            clock.clone(),
        ));
        limiter.check(&"k", 1).unwrap();
        let noop = futures::task::noop_waker();
        let mut head = limiter.acquire_owned("k", 1);
        let mut next = limiter.acquire_owned("k", 1);
        assert!(Pin::new(&mut head)
            .poll(&mut Context::from_waker(&noop))
            .is_pending());
        let counter = std::sync::Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        assert!(Pin::new(&mut next)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());

        let leaver = thread::spawn(move || drop(head));
        let poller = thread::spawn(move || {
            let pending = Pin::new(&mut next)
                .poll(&mut Context::from_waker(&waker))
                .is_pending();
            (pending, next)
        });
        leaver.join().unwrap();
        let (pending, next) = poller.join().unwrap();
        assert!(pending);
        // Either `next` saw itself as head and armed the timer, or it was woken to do so.
        assert!(clock.pending_sleeps() == 1 || counter.0.load(Ordering::SeqCst) >= 1);
        drop(next);
        assert_eq!(limiter.waiting(), 0);
    });
}
