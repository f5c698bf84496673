//! A limiter with a single global quota checks lock-free while no pause or
//! waiter needs the lock. These tests drive it next to a *locked twin* — the
//! same quota plus a second global quota that can never bind (so every call
//! of the twin takes the locked path) — through random sequences of every
//! operation, the clock moving forward and back, and require the same
//! answer from both at every step. They also check that the limiter hands
//! the state back to the lock-free path once pauses and waiters are gone.

use core::future::Future;
use core::task::{Context, Poll};
use core::time::Duration;

use proptest::prelude::*;
use weir::{Denied, Instant, ManualClock, Quota, RateLimiter};

/// A quota no run of these tests can exhaust: 2^32 − 1 units per ns, and as
/// much at once. It is never the tightest in a status either.
fn never_binding() -> Quota {
    Quota::new(u32::MAX, Duration::from_nanos(1))
        .unwrap()
        .with_burst(u32::MAX)
        .unwrap()
}

fn quota_strategy() -> impl Strategy<Value = Quota> {
    (1u32..20, 1u64..5_000, 1u32..10).prop_map(|(limit, interval, burst)| {
        Quota::new(limit, Duration::from_nanos(interval))
            .unwrap()
            .with_burst(burst)
            .unwrap()
    })
}

/// A quota and the lock-free state it should get: small quotas packed in
/// one word, with their full floor range (`None`: re-based only by locked
/// steps) or a range of a few hundred ns (re-based by checks crossing it
/// all the time, offsets near the boundary included); and quotas whose
/// backlog leaves the floor too few bits (intervals of hours), which keep
/// the 16-byte pair.
fn case_strategy() -> impl Strategy<Value = (Quota, Option<u32>)> {
    // An odd limit per 2^50 ns (13 days): gcd 1, a backlog of 50+ bits;
    // one unit per 2^20–2^30 ns.
    let huge = ((1u32 << 19)..(1u32 << 29), 1u32..10).prop_map(|(half, burst)| {
        Quota::new(2 * half + 1, Duration::from_nanos(1 << 50))
            .unwrap()
            .with_burst(burst)
            .unwrap()
    });
    prop_oneof![
        2 => quota_strategy().prop_map(|q| (q, None)),
        2 => (quota_strategy(), 1u32..5).prop_map(|(q, bits)| (q, Some(bits))),
        2 => (quota_strategy(), 5u32..14).prop_map(|(q, bits)| (q, Some(bits))),
        1 => huge.prop_map(|q| (q, None)),
    ]
}

fn twins(
    (quota, range_bits): (Quota, Option<u32>),
    clock: &ManualClock,
) -> [RateLimiter<u8, ManualClock>; 2] {
    let fast = RateLimiter::new(&[quota], &[], clock.clone()).with_lock_free_range_bits(range_bits);
    let locked = RateLimiter::new(&[quota, never_binding()], &[], clock.clone());
    assert!(fast.is_lock_free(), "this build should have a lock-free path");
    let huge = quota.interval() == Duration::from_nanos(1 << 50);
    assert_eq!(fast.lock_free_kind(), if huge { "pair" } else { "packed" });
    assert!(!locked.is_lock_free());
    [fast, locked]
}

#[derive(Clone, Debug)]
enum Op {
    /// Move the clock forward by this many ns.
    Advance(u64),
    /// Move the clock back by this many ns (saturating at 0).
    StepBack(u64),
    /// A long idle gap: forward by this many ns (past any floor range but
    /// the widest, so the next check re-bases).
    Idle(u64),
    /// Far back (saturating at 0): across re-bases.
    StepBackFar(u64),
    Check(u8, u32),
    Peek(u8, u32),
    Status(u8),
    CheckWithStatus(u8, u32),
    /// Pause every key until now + this many ns.
    PauseAll(u64),
    /// Pause one key until now + this many ns.
    Pause(u8, u64),
    /// Start an acquire and poll it once.
    Acquire(u8, u32),
    /// Poll every pending acquire.
    PollAll,
    /// Drop the pending acquire at this index (modulo their number).
    Cancel(usize),
    EvictIdle,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..3_000).prop_map(Op::Advance),
        3 => (0u64..8).prop_map(Op::Advance),
        3 => (0u64..3_000).prop_map(Op::StepBack),
        1 => (0u64..1 << 40).prop_map(Op::Idle),
        1 => (0u64..1 << 38).prop_map(Op::StepBackFar),
        8 => (0u8..3, 0u32..12).prop_map(|(k, c)| Op::Check(k, c)),
        2 => (0u8..3, 0u32..12).prop_map(|(k, c)| Op::Peek(k, c)),
        2 => (0u8..3).prop_map(Op::Status),
        2 => (0u8..3, 0u32..12).prop_map(|(k, c)| Op::CheckWithStatus(k, c)),
        1 => (0u64..5_000).prop_map(Op::PauseAll),
        1 => (0u8..3, 0u64..5_000).prop_map(|(k, d)| Op::Pause(k, d)),
        2 => (0u8..3, 1u32..6).prop_map(|(k, c)| Op::Acquire(k, c)),
        3 => Just(Op::PollAll),
        1 => (0usize..8).prop_map(Op::Cancel),
        1 => Just(Op::EvictIdle),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every operation answers the same on the lock-free limiter and on its
    /// locked twin, whatever came before (pauses, waiters, a clock stepping
    /// back); and with the pauses over and the waiters gone, the limiter is
    /// lock-free again.
    #[test]
    fn lock_free_and_locked_paths_answer_alike(
        case in case_strategy(),
        start in prop_oneof![0u64..1_000_000, (1u64 << 62)..(1u64 << 62) + 1_000_000],
        ops in prop::collection::vec(op_strategy(), 1..120),
    ) {
        let clock = ManualClock::starting_at(Instant::from_nanos(start));
        let limiters = twins(case, &clock);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        // Pending acquires, as (fast, locked) pairs.
        let mut pending = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let now = clock.now_instant();
            match op {
                Op::Advance(ns) => clock.advance(Duration::from_nanos(ns)),
                Op::StepBack(ns) | Op::StepBackFar(ns) => {
                    clock.set(Instant::from_nanos(now.as_nanos().saturating_sub(ns)))
                }
                Op::Idle(ns) => clock.advance(Duration::from_nanos(ns)),
                Op::Check(k, c) => {
                    let [a, b] = limiters.each_ref().map(|l| l.check(&k, c));
                    prop_assert_eq!(a, b, "step {}: check", step);
                }
                Op::Peek(k, c) => {
                    let [a, b] = limiters.each_ref().map(|l| l.peek(&k, c));
                    prop_assert_eq!(a, b, "step {}: peek", step);
                }
                Op::Status(k) => {
                    let [a, b] = limiters.each_ref().map(|l| l.status(&k));
                    prop_assert_eq!(a, b, "step {}: status", step);
                }
                Op::CheckWithStatus(k, c) => {
                    let [a, b] = limiters.each_ref().map(|l| l.check_with_status(&k, c));
                    prop_assert_eq!(a, b, "step {}: check_with_status", step);
                }
                Op::PauseAll(ns) => {
                    for l in &limiters {
                        l.pause_all_until(now + Duration::from_nanos(ns));
                    }
                }
                Op::Pause(k, ns) => {
                    for l in &limiters {
                        l.pause_until(&k, now + Duration::from_nanos(ns));
                    }
                }
                Op::Acquire(k, c) => {
                    let [mut a, mut b] = limiters.each_ref().map(|l| Box::pin(l.acquire(k, c)));
                    let (pa, pb) = (a.as_mut().poll(&mut cx), b.as_mut().poll(&mut cx));
                    prop_assert_eq!(&pa, &pb, "step {}: first poll", step);
                    if pa.is_pending() {
                        pending.push((a, b));
                    }
                }
                Op::PollAll => {
                    let mut still = Vec::new();
                    for (mut a, mut b) in pending.drain(..) {
                        let (pa, pb) = (a.as_mut().poll(&mut cx), b.as_mut().poll(&mut cx));
                        prop_assert_eq!(&pa, &pb, "step {}: poll", step);
                        if pa.is_pending() {
                            still.push((a, b));
                        }
                    }
                    pending = still;
                }
                Op::Cancel(i) => {
                    if !pending.is_empty() {
                        let i = i % pending.len();
                        drop(pending.remove(i));
                    }
                }
                Op::EvictIdle => {
                    for l in &limiters {
                        l.evict_idle();
                    }
                    prop_assert_eq!(limiters[0].keys(), limiters[1].keys(), "step {}: keys", step);
                }
            }
            prop_assert_eq!(limiters[0].waiting(), limiters[1].waiting(), "step {}: waiting", step);
        }
        // Gone waiters and pauses: the next locked step hands the state back.
        drop(pending);
        clock.advance(Duration::from_secs(3600));
        let [a, b] = limiters.each_ref().map(|l| l.status(&0));
        prop_assert_eq!(a, b);
        prop_assert!(limiters[0].is_lock_free(), "handed back after the last pause and waiter");
        let [a, b] = limiters.each_ref().map(|l| l.check(&0, 1));
        prop_assert_eq!(a, b);
    }
}

/// `ManualClock::now` through the `Clock` trait, without importing it
/// everywhere above.
trait NowInstant {
    fn now_instant(&self) -> Instant;
}

impl NowInstant for ManualClock {
    fn now_instant(&self) -> Instant {
        weir::Clock::now(self)
    }
}

#[test]
fn a_pause_or_a_waiter_takes_the_lock_and_gives_it_back_when_over() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[Quota::per_second(2).unwrap()], &[], clock.clone());
    assert!(limiter.is_lock_free());
    assert_eq!(limiter.check(&"k", 2), Ok(()));
    assert_eq!(
        limiter.check(&"k", 1),
        Err(Denied::NotUntil(Instant::from_nanos(500_000_000)))
    );
    assert!(limiter.is_lock_free(), "a denial keeps the lock-free path");

    // A waiter queues under the lock; the state stays there while it waits.
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut waiter = Box::pin(limiter.acquire("k", 1));
    assert!(waiter.as_mut().poll(&mut cx).is_pending());
    assert!(!limiter.is_lock_free());
    // Newcomers do not jump the queue (locked path, FIFO per key).
    clock.set(Instant::from_nanos(500_000_000));
    assert!(limiter.check(&"k", 1).is_err());
    assert_eq!(waiter.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    drop(waiter);
    // The waiter's step left nothing but the cell: lock-free again.
    assert!(limiter.is_lock_free());
    assert_eq!(
        limiter.check(&"k", 1),
        Err(Denied::NotUntil(Instant::from_nanos(1_000_000_000)))
    );

    // A pause holds the lock-free path off until it is over.
    limiter.pause_all_until(Instant::from_nanos(5_000_000_000));
    assert!(!limiter.is_lock_free());
    clock.set(Instant::from_nanos(4_000_000_000));
    assert_eq!(
        limiter.check(&"k", 1),
        Err(Denied::NotUntil(Instant::from_nanos(5_000_000_000)))
    );
    clock.set(Instant::from_nanos(5_000_000_000));
    assert_eq!(limiter.check(&"k", 2), Ok(()));
    assert!(
        limiter.is_lock_free(),
        "the check that found the pause over handed back"
    );
    assert_eq!(limiter.keys(), 0);
}

#[test]
fn a_stepped_back_clock_is_read_as_standing_still_on_the_lock_free_path() {
    let clock = ManualClock::starting_at(Instant::from_nanos(10_000_000_000));
    let limiter = RateLimiter::new(&[Quota::per_second(2).unwrap()], &[], clock.clone());
    assert_eq!(limiter.check(&(), 1), Ok(()));
    // A peek at a later instant moves the floor (as the locked path's clamp
    // does), consuming nothing.
    clock.set(Instant::from_nanos(20_000_000_000));
    assert_eq!(limiter.peek(&(), 2), Ok(()));
    clock.set(Instant::ZERO);
    // Read as 20 s: the cell is full again, two units pass, the third waits.
    assert_eq!(limiter.check(&(), 2), Ok(()));
    assert_eq!(
        limiter.check(&(), 1),
        Err(Denied::NotUntil(Instant::from_nanos(20_500_000_000)))
    );
    assert!(limiter.is_lock_free());

    // A denial moves the floor too: 1/s, bursts of 2, emptied at 0 s and
    // denied at 1.5 s; back at 0 s the clock reads as 1.5 s, when one unit
    // is free again.
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(
        &[Quota::per_second(1).unwrap().with_burst(2).unwrap()],
        &[],
        clock.clone(),
    );
    assert_eq!(limiter.check(&(), 2), Ok(()));
    clock.set(Instant::from_nanos(1_500_000_000));
    assert_eq!(
        limiter.check(&(), 2),
        Err(Denied::NotUntil(Instant::from_nanos(2_000_000_000)))
    );
    clock.set(Instant::ZERO);
    assert_eq!(limiter.check(&(), 1), Ok(()));
    assert!(limiter.is_lock_free());
}
