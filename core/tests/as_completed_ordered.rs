//! `limited_ordered`: input order whatever the completion order, with a
//! reorder window of `limit`.

#[path = "support/mod.rs"]
mod util;

use std::sync::atomic::Ordering;
use std::task::Poll;

use futures::executor::block_on;
use futures::stream::{FusedStream, StreamExt};
use futures::task::noop_waker;
use proptest::prelude::*;
use weir::{limited_ordered, limited_ordered_stream};

use util::{poll_once, Counted, Feed, Gates, Stream as _, YieldOnce};

#[test]
fn yields_in_input_order_when_completed_backwards() {
    let gates = Gates::new(3);
    let mut s = limited_ordered((0..3).map(|i| gates.future(i)), 3).unwrap();
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    gates.open(2);
    assert_eq!(
        poll_once(&mut s, &waker),
        Poll::Pending,
        "2 waits for 0 and 1"
    );
    gates.open(1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    gates.open(0);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(0)));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(1)));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(2)));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
    assert!(s.is_terminated());
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
}

#[test]
fn a_finished_future_keeps_its_slot_until_its_turn() {
    let gates = Gates::new(5);
    let (source, pulls) = Counted::new((0..5).map(|i| gates.future(i)));
    let mut s = limited_ordered(source, 2).unwrap();
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    gates.open(1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(
        pulls.load(Ordering::SeqCst),
        2,
        "window is full: 0 running, 1 done"
    );
    assert_eq!(s.in_flight(), 2);
    assert_eq!(gates.drops(1), 1, "the finished future itself is dropped");
    gates.open(0);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(0)));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(1)));
    assert_eq!(pulls.load(Ordering::SeqCst), 3);
    assert_eq!(s.size_hint(), (3, Some(3)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn input_order_and_window_hold_for_any_completion_order(
        n in 0usize..40,
        limit in 1usize..8,
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 40),
    ) {
        let gates = Gates::new(n);
        let (source, pulls) = Counted::new((0..n).map(|i| gates.future(i)));
        let mut s = limited_ordered(source, limit).unwrap();
        let waker = noop_waker();
        let mut yielded = Vec::new();
        let mut opened = vec![false; n];
        let mut picks = picks.into_iter();
        while yielded.len() < n {
            match poll_once(&mut s, &waker) {
                Poll::Ready(Some(v)) => yielded.push(v as usize),
                Poll::Ready(None) => prop_assert!(false, "ended early"),
                Poll::Pending => {
                    let pulled = pulls.load(Ordering::SeqCst);
                    let closed: Vec<usize> = (0..pulled).filter(|&i| !opened[i]).collect();
                    prop_assert!(!closed.is_empty());
                    let pick = picks.next().map_or(0, |p| p.index(closed.len()));
                    opened[closed[pick]] = true;
                    gates.open(closed[pick]);
                }
            }
            prop_assert!(pulls.load(Ordering::SeqCst) - yielded.len() <= limit);
            prop_assert_eq!(s.in_flight(), pulls.load(Ordering::SeqCst) - yielded.len());
        }
        prop_assert_eq!(yielded, (0..n).collect::<Vec<_>>());
        prop_assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
    }
}

#[test]
fn dropping_drops_running_futures_and_held_outputs() {
    let gates = Gates::new(6);
    let (source, pulls) = Counted::new((0..6).map(|i| gates.future(i)));
    let mut s = limited_ordered(source, 3).unwrap();
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    gates.open(2);
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    drop(s);
    assert_eq!(pulls.load(Ordering::SeqCst), 3);
    assert_eq!(gates.total_drops(), 3);
}

#[test]
fn stream_source_and_executor() {
    let feed = Feed::default();
    for i in 0..100u32 {
        feed.push(YieldOnce(Some(i), false));
    }
    feed.close();
    let out: Vec<u32> = block_on(limited_ordered_stream(feed, 7).unwrap().collect());
    assert_eq!(out, (0..100).collect::<Vec<_>>());
}
