//! Loom models: concurrent checks never over-admit (on the packed word, on
//! the 16-byte pair, and across a re-base of the packed word's epoch); a head
//! waiter leaving while the next one polls never loses the timer hand-over.
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

/// One thread checks a unit while another reads the status (which takes the
/// lock, taking the state over from the lock-free path and handing it back):
/// whether the check admitted, and the remaining units the status saw.
fn check_beside_status<C>(limiter: &std::sync::Arc<RateLimiter<(), C>>) -> (bool, u32)
where
    C: weir::Clock + Send + Sync + 'static,
{
    let checker = {
        let limiter = limiter.clone();
        thread::spawn(move || limiter.check(&(), 1).is_ok())
    };
    let reader = {
        let limiter = limiter.clone();
        thread::spawn(move || limiter.status(&()).unwrap().remaining)
    };
    (checker.join().unwrap(), reader.join().unwrap())
}

/// Two threads check two units each on a full cell with a burst of 2:
/// exactly two are admitted, and the cell is empty after.
fn two_threads_take_exactly_the_burst_of_2<C>(limiter: &std::sync::Arc<RateLimiter<(), C>>)
where
    C: weir::Clock + Send + Sync + 'static,
{
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let limiter = limiter.clone();
            thread::spawn(move || (0..2).filter(|_| limiter.check(&(), 1).is_ok()).count())
        })
        .collect();
    let admitted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(admitted, 2);
    assert!(limiter.check(&(), 1).is_err());
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

/// A single global quota checks lock-free (one compare-and-swap of the
/// `[floor, backlog]` pair, loads possibly torn): two threads checking twice
/// each against a burst of 2 admit exactly 2, in every interleaving.
#[test]
fn lock_free_checks_never_over_admit() {
    loom::model(|| {
        let limiter = std::sync::Arc::new(RateLimiter::new(
            &[Quota::per_second(1).unwrap().with_burst(2).unwrap()],
            &[],
            ManualClock::new(),
        ));
        assert!(limiter.is_lock_free());
        two_threads_take_exactly_the_burst_of_2(&limiter);
    });
}

/// A locked step (here `status`) takes the state over from the lock-free
/// path and hands it back, while another thread checks lock-free: the
/// check's admission is neither lost nor doubled, and the limiter ends
/// lock-free.
#[test]
fn hand_over_races_a_lock_free_check() {
    loom::model(|| {
        let limiter = std::sync::Arc::new(RateLimiter::new(
            &[Quota::per_second(1).unwrap().with_burst(2).unwrap()],
            &[],
            ManualClock::new(),
        ));
        let (admitted, seen) = check_beside_status(&limiter);
        assert!(admitted);
        assert!(seen == 1 || seen == 2, "status saw {seen}");
        assert!(limiter.is_lock_free());
        assert_eq!(limiter.status(&()).unwrap().remaining, 1);
        assert!(limiter.check(&(), 1).is_ok());
        assert!(limiter.check(&(), 1).is_err());
    });
}

/// A waiter queues (the locked path takes the state over) and leaves (the
/// state is handed back) while another thread checks: the empty cell admits
/// nobody meanwhile, and afterwards the limiter is lock-free and exact.
#[test]
fn a_waiter_coming_and_going_races_a_lock_free_check() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter = std::sync::Arc::new(RateLimiter::new(
            &[Quota::per_second(1).unwrap()],
            &[],
            clock.clone(),
        ));
        limiter.check(&(), 1).unwrap();
        let waiter = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                let noop = futures::task::noop_waker();
                let mut acquire = limiter.acquire_owned((), 1);
                let pending = Pin::new(&mut acquire)
                    .poll(&mut Context::from_waker(&noop))
                    .is_pending();
                drop(acquire);
                pending
            })
        };
        let checker = {
            let limiter = limiter.clone();
            thread::spawn(move || limiter.check(&(), 1).is_ok())
        };
        assert!(waiter.join().unwrap());
        assert!(!checker.join().unwrap());
        assert!(limiter.is_lock_free());
        assert_eq!(limiter.waiting(), 0);
        clock.advance(core::time::Duration::from_secs(1));
        assert!(limiter.check(&(), 1).is_ok());
        assert!(limiter.check(&(), 1).is_err());
    });
}

/// A locked step (`status`) re-bases the packed word's epoch (floor range
/// 2^4 ns: the floor moves from 0 to 10 ns, and the epoch with it) while
/// another thread checks lock-free: a check that read the word before the
/// re-base and the epoch after it decodes a wrong floor, and its
/// compare-and-swap must fail. The admission is neither lost nor doubled,
/// and the "not until" afterwards is exact.
#[test]
fn a_re_base_races_a_lock_free_check() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter = std::sync::Arc::new(
            RateLimiter::new(
                &[Quota::per_second(1).unwrap().with_burst(2).unwrap()],
                &[],
                clock.clone(),
            )
            .with_lock_free_range_bits(Some(4)),
        );
        assert_eq!(limiter.lock_free_kind(), "packed");
        limiter.check(&(), 1).unwrap();
        clock.set(weir::Instant::from_nanos(10));
        let (admitted, seen) = check_beside_status(&limiter);
        assert!(admitted);
        assert!(seen == 0 || seen == 1, "status saw {seen}");
        assert!(limiter.is_lock_free());
        assert_eq!(
            limiter.check(&(), 1),
            Err(weir::Denied::NotUntil(weir::Instant::from_nanos(
                1_000_000_000
            )))
        );
    });
}

loom::thread_local! {
    static THREAD_NOW: core::cell::Cell<u64> = core::cell::Cell::new(0);
}

/// A clock each thread sets for itself (no lock between the threads: the
/// model explores only the limiter's own steps, and each thread's reading
/// is whatever it set, however the steps interleave).
#[derive(Clone, Copy, Debug)]
struct ThreadClock;

impl ThreadClock {
    fn set(nanos: u64) {
        THREAD_NOW.with(|now| now.set(nanos));
    }
}

impl weir::Clock for ThreadClock {
    fn now(&self) -> weir::Instant {
        weir::Instant::from_nanos(THREAD_NOW.with(core::cell::Cell::get))
    }
}

/// A check whose floor leaves the packed word's range (its clock at 40 ns,
/// 2^4 ns past the epoch) goes to the lock, which re-bases (epoch 0 → 40
/// ns) and hands back, while another thread checks lock-free at 0 ns (a
/// reading behind the new epoch: a clock stepping back across the re-base).
/// That check may read the word before or after the re-base and the epoch
/// before or after it; whatever it read, it must decide at the floor the
/// word had when its compare-and-swap succeeded. Exactly one is admitted,
/// the other is refused with the exact instant.
#[test]
fn a_check_past_the_floor_range_re_bases_while_another_checks() {
    loom::model(|| {
        let limiter = std::sync::Arc::new(
            RateLimiter::new(
                &[Quota::per_second(1).unwrap().with_burst(2).unwrap()],
                &[],
                ThreadClock,
            )
            .with_lock_free_range_bits(Some(4)),
        );
        ThreadClock::set(0);
        limiter.check(&(), 1).unwrap();
        let first = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                ThreadClock::set(40);
                limiter.check(&(), 1)
            })
        };
        let second = {
            let limiter = limiter.clone();
            thread::spawn(move || {
                ThreadClock::set(0);
                limiter.check(&(), 1)
            })
        };
        let results = [first.join().unwrap(), second.join().unwrap()];
        let refused = Err(weir::Denied::NotUntil(weir::Instant::from_nanos(
            1_000_000_000,
        )));
        assert!(
            results == [Ok(()), refused] || results == [refused, Ok(())],
            "{results:?}"
        );
        assert!(limiter.is_lock_free());
        assert_eq!(limiter.check(&(), 1), refused);
    });
}

/// Quotas whose backlog leaves the packed word too few floor bits (here 3
/// per 2^50 ns, bursts of 2: a 51-bit backlog) keep the 16-byte pair: its
/// checks (loads possibly torn) never over-admit either.
#[test]
fn pair_checks_never_over_admit() {
    loom::model(|| {
        let limiter = std::sync::Arc::new(RateLimiter::new(
            &[Quota::new(3, core::time::Duration::from_nanos(1 << 50))
                .unwrap()
                .with_burst(2)
                .unwrap()],
            &[],
            ManualClock::new(),
        ));
        assert_eq!(limiter.lock_free_kind(), "pair");
        two_threads_take_exactly_the_burst_of_2(&limiter);
    });
}
