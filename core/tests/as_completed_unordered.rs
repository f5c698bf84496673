//! `limited_as_completed`: pull bound, completion order, no busy polling,
//! early drop, fairness, fusing.

#[path = "support/mod.rs"]
mod util;

use std::future::{ready, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use futures::executor::block_on;
use futures::stream::{FusedStream, StreamExt};
use futures::task::noop_waker;
use proptest::prelude::*;
use weir::as_completed::Iter;
use weir::{
    limited_as_completed, limited_as_completed_keyed, limited_as_completed_keyed_stream,
    limited_as_completed_stream, limited_ordered, limited_ordered_stream, LimitedAsCompleted,
    ZeroLimit,
};

use util::{poll_once, Counted, Feed, Gates, Spin, Stream as _, WakeCounter, YieldOnce};

type Boxed = Pin<Box<dyn Future<Output = u32> + Send>>;

#[test]
fn zero_limit_is_an_error_for_every_form() {
    let none = || Vec::<std::future::Ready<u8>>::new();
    assert_eq!(limited_as_completed(none(), 0).unwrap_err(), ZeroLimit);
    assert_eq!(
        limited_as_completed_stream(futures::stream::iter(none()), 0).unwrap_err(),
        ZeroLimit
    );
    assert_eq!(limited_ordered(none(), 0).unwrap_err(), ZeroLimit);
    assert_eq!(
        limited_ordered_stream(futures::stream::iter(none()), 0).unwrap_err(),
        ZeroLimit
    );
    let keyed = || Vec::<(u8, std::future::Ready<u8>)>::new();
    assert_eq!(
        limited_as_completed_keyed(keyed(), 0, 1, 1).unwrap_err(),
        ZeroLimit
    );
    assert_eq!(
        limited_as_completed_keyed(keyed(), 1, 0, 1).unwrap_err(),
        ZeroLimit
    );
    assert_eq!(
        limited_as_completed_keyed_stream(futures::stream::iter(keyed()), 0, 1, 1).unwrap_err(),
        ZeroLimit
    );
    assert!(limited_as_completed(none(), 1).is_ok());
    let err: Box<dyn std::error::Error> = Box::new(ZeroLimit);
    assert_eq!(err.to_string(), "limit must be at least 1");
}

#[test]
fn streams_are_send_when_their_futures_are() {
    fn assert_send<T: Send>(_: &T) {}
    let s = limited_as_completed(vec![ready(1u32)], 2).unwrap();
    assert_send(&s);
    let s = limited_ordered(vec![ready(1u32)], 2).unwrap();
    assert_send(&s);
    let s = limited_as_completed_keyed(vec![(1u8, ready(1u32))], 2, 1, 1).unwrap();
    assert_send(&s);
}

#[test]
fn yields_in_the_order_futures_complete() {
    let gates = Gates::new(3);
    let mut s = limited_as_completed((0..3).map(|i| gates.future(i)), 3).unwrap();
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    for id in [2, 0, 1] {
        gates.open(id);
        assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(id as u32)));
    }
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever order the test completes futures in, the stream yields that
    /// order, and never holds more than `limit` pulled-but-unyielded items.
    #[test]
    fn never_pulls_more_than_limit_ahead(
        n in 0usize..40,
        limit in 1usize..8,
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 40),
    ) {
        let gates = Gates::new(n);
        let (source, pulls) = Counted::new((0..n).map(|i| gates.future(i)));
        let mut s = limited_as_completed(source, limit).unwrap();
        let waker = noop_waker();
        let mut yielded = 0;
        for pick in picks.iter().take(n) {
            prop_assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
            let pulled = pulls.load(Ordering::SeqCst);
            prop_assert!(pulled - yielded <= limit);
            prop_assert_eq!(s.in_flight(), pulled - yielded);
            let running = gates.running();
            // Every pulled future was polled once already.
            prop_assert_eq!(running.len(), pulled - yielded);
            let id = running[pick.index(running.len())];
            gates.open(id);
            prop_assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(id as u32)));
            yielded += 1;
            prop_assert!(pulls.load(Ordering::SeqCst) - yielded <= limit);
        }
        prop_assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
        prop_assert_eq!(pulls.load(Ordering::SeqCst), n);
        prop_assert_eq!(gates.total_drops(), n);
    }
}

#[test]
fn pending_futures_are_polled_only_after_their_waker_fires() {
    let gates = Gates::new(6);
    let (source, pulls) = Counted::new((0..6).map(|i| gates.future(i)));
    let mut s = limited_as_completed(source, 4).unwrap();
    let (parent, waker) = WakeCounter::new();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(pulls.load(Ordering::SeqCst), 4);
    for _ in 0..5 {
        assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    }
    assert_eq!(
        (0..4).map(|i| gates.polls(i)).collect::<Vec<_>>(),
        [1, 1, 1, 1]
    );
    assert_eq!(parent.count(), 0, "nothing woke, so the task is not woken");

    // A wake without completion: exactly that future is polled again.
    gates.nudge(1);
    assert_eq!(parent.count(), 1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(
        (0..4).map(|i| gates.polls(i)).collect::<Vec<_>>(),
        [1, 2, 1, 1]
    );

    // Completion: the future is polled, yielded, and its slot refilled.
    gates.open(3);
    assert_eq!(parent.count(), 2);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(3)));
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(pulls.load(Ordering::SeqCst), 5);
    assert_eq!(
        (0..5).map(|i| gates.polls(i)).collect::<Vec<_>>(),
        [1, 2, 1, 2, 1]
    );
    assert_eq!(parent.count(), 2);
}

#[test]
fn two_wakes_before_a_poll_wake_the_task_once_and_poll_once() {
    let gates = Gates::new(2);
    let mut s = limited_as_completed((0..2).map(|i| gates.future(i)), 2).unwrap();
    let (parent, waker) = WakeCounter::new();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    let w0 = gates.waker_of(0).unwrap();
    w0.wake_by_ref();
    w0.wake_by_ref();
    assert_eq!(parent.count(), 1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(gates.polls(0), 2);
    assert_eq!(gates.polls(1), 1);
}

#[test]
fn dropping_the_stream_drops_in_flight_futures_and_stops_pulling() {
    let gates = Gates::new(10);
    let (source, pulls) = Counted::new((0..10).map(|i| gates.future(i)));
    let mut s = limited_as_completed(source, 3).unwrap();
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    gates.open(1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(1)));
    assert_eq!(gates.total_drops(), 1);
    let stale = gates.waker_of(0).unwrap();
    drop(s);
    assert_eq!(pulls.load(Ordering::SeqCst), 3);
    assert_eq!(gates.total_drops(), 3, "both in-flight futures dropped");
    assert_eq!(
        (0..3).map(|i| gates.drops(i)).collect::<Vec<_>>(),
        [1, 1, 1]
    );
    // A waker that outlives the stream is harmless.
    stale.wake();
}

#[test]
fn is_fused_after_none() {
    let mut s = limited_as_completed([ready(7u32)], 2).unwrap();
    let waker = noop_waker();
    assert!(!s.is_terminated());
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(7)));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
    assert!(s.is_terminated());
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
    assert_eq!(s.size_hint(), (0, Some(0)));
}

#[test]
fn size_hint_counts_running_and_unpulled_items() {
    let gates = Gates::new(5);
    let mut s = limited_as_completed((0..5).map(|i| gates.future(i)), 2).unwrap();
    assert_eq!(s.size_hint(), (5, Some(5)));
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(s.size_hint(), (5, Some(5)));
    gates.open(0);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(0)));
    assert_eq!(s.size_hint(), (4, Some(4)));
}

#[test]
fn a_self_waking_future_does_not_starve_the_others() {
    let spins = Arc::new(AtomicUsize::new(0));
    let gates = Gates::new(1);
    let futures: Vec<Boxed> = vec![
        Box::pin(Spin {
            polls: spins.clone(),
        }),
        Box::pin(gates.future(0)),
    ];
    let mut s = limited_as_completed(futures, 2).unwrap();
    let (parent, waker) = WakeCounter::new();
    // The spinner keeps itself ready; the stream gives control back anyway.
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert!(
        parent.count() > 0,
        "budget exhausted: task rescheduled itself"
    );
    let before = spins.load(Ordering::SeqCst);
    assert!(before <= 64, "bounded work per poll, got {before}");
    gates.open(0);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(0)));
    assert!(
        spins.load(Ordering::SeqCst) - before <= 2,
        "gate polled within one lap"
    );
}

#[test]
fn a_woken_future_is_polled_within_a_lap_while_fresh_futures_keep_completing() {
    // Slot 0 holds a gate; the source is an endless supply of ready futures.
    let gates = Gates::new(1);
    let first: Boxed = Box::pin(gates.future(0));
    let rest = (100u32..).map(|i| Box::pin(ready(i)) as Boxed);
    let mut s = limited_as_completed(std::iter::once(first).chain(rest), 4).unwrap();
    let waker = noop_waker();
    for _ in 0..10 {
        assert!(matches!(poll_once(&mut s, &waker), Poll::Ready(Some(i)) if i >= 100));
    }
    gates.open(0);
    let mut steps = 0;
    loop {
        steps += 1;
        match poll_once(&mut s, &waker) {
            Poll::Ready(Some(0)) => break,
            Poll::Ready(Some(_)) => assert!(steps <= 5, "gate starved"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn newly_pulled_futures_are_polled_on_the_same_poll() {
    let gates = Gates::new(3);
    let mut s = limited_as_completed((0..3).map(|i| gates.future(i)), 1).unwrap();
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(gates.polls(0), 1);
    gates.open(0);
    gates.open(1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(0)));
    // Gate 1 is already open: pulled and completed in one poll.
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(1)));
    assert_eq!(gates.polls(1), 1);
}

#[test]
fn errors_are_delivered_as_values() {
    let jobs = (0..6).map(|i| async move {
        if i % 2 == 0 {
            Ok(i)
        } else {
            Err(i)
        }
    });
    let mut out: Vec<Result<i32, i32>> = block_on(limited_as_completed(jobs, 2).unwrap().collect());
    out.sort();
    assert_eq!(out, [Ok(0), Ok(2), Ok(4), Err(1), Err(3), Err(5)]);
}

#[test]
fn runs_unpin_hostile_futures_in_place() {
    // `async` blocks holding a reference across an await are `!Unpin`.
    let gates = Gates::new(4);
    let jobs = (0..4).map(|i| {
        let gate = gates.future(i);
        async move {
            let local = [i as u32; 4];
            let r = &local;
            let _pin = std::marker::PhantomPinned;
            let v = gate.await;
            r[0] + v
        }
    });
    let mut s = limited_as_completed(jobs, 2).unwrap();
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    gates.open(1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(2)));
    for i in [0, 2, 3] {
        gates.open(i);
    }
    let mut rest = block_on(s.collect::<Vec<_>>());
    rest.sort();
    assert_eq!(rest, [0, 4, 6]);
}

#[test]
fn stream_source_is_polled_only_with_a_free_slot_and_may_be_pending() {
    let gates = Gates::new(4);
    let feed: Feed<util::GateFuture> = Feed::default();
    let mut s = limited_as_completed_stream(feed.clone(), 2).unwrap();
    let (parent, waker) = WakeCounter::new();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    for i in 0..4 {
        feed.push(gates.future(i));
    }
    assert_eq!(parent.count(), 1, "the pending source woke the task");
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(feed.queued(), 2, "only two slots");
    gates.open(1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(1)));
    assert_eq!(feed.queued(), 2);
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(feed.queued(), 1);
    for i in [0, 2, 3] {
        gates.open(i);
    }
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(0)));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(2)));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(3)));
    assert_eq!(
        poll_once(&mut s, &waker),
        Poll::Pending,
        "source not closed yet"
    );
    assert!(!s.is_terminated());
    feed.close();
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
}

#[test]
fn pending_then_woken_futures_run_to_completion_on_an_executor() {
    let jobs = (0..1000u32).map(|i| YieldOnce(Some(i), false));
    let s: LimitedAsCompleted<Iter<_>> = limited_as_completed(jobs, 16).unwrap();
    let mut out = block_on(s.collect::<Vec<_>>());
    out.sort();
    assert_eq!(out, (0..1000).collect::<Vec<_>>());
}

#[test]
fn wakes_from_other_threads_are_not_lost() {
    let gates = Gates::new(64);
    let mut s = limited_as_completed((0..64).map(|i| gates.future(i)), 8).unwrap();
    let opener = {
        let gates = gates.clone();
        std::thread::spawn(move || {
            for i in (0..64).rev() {
                gates.open(i);
            }
        })
    };
    let mut out = block_on(async {
        let mut out = Vec::new();
        while let Some(v) = s.next().await {
            out.push(v);
        }
        out
    });
    opener.join().unwrap();
    out.sort();
    assert_eq!(out, (0..64).collect::<Vec<_>>());
}
