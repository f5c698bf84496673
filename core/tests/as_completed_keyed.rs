//! `limited_as_completed_keyed`: per-key caps, the look-ahead bound, and no
//! stalling of other keys behind a saturated one.

#[path = "support/mod.rs"]
mod util;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::task::Poll;

use futures::executor::block_on;
use futures::stream::{FusedStream, StreamExt};
use futures::task::noop_waker;
use proptest::prelude::*;
use weir::{limited_as_completed_keyed, limited_as_completed_keyed_stream};

use util::{poll_once, Counted, Feed, Gates, Stream as _, YieldOnce};

#[test]
fn a_saturated_key_does_not_stall_the_others() {
    // Key 'a' is blocked forever; its later items wait in the look-ahead.
    let keys = ['a', 'b', 'a', 'b', 'b', 'a', 'b', 'b', 'b', 'b'];
    let gates = Gates::new(keys.len());
    let (source, pulls) = Counted::new(keys.iter().enumerate().map(|(i, &k)| (k, gates.future(i))));
    let mut s = limited_as_completed_keyed(source, 4, 1, 3).unwrap();
    let waker = noop_waker();
    let mut b_out = Vec::new();
    loop {
        match poll_once(&mut s, &waker) {
            Poll::Ready(Some((key, v))) => {
                assert_eq!(key, 'b');
                b_out.push(v);
            }
            Poll::Ready(None) => panic!("gate 0 is still closed"),
            Poll::Pending => {
                assert!(s.in_flight_for(&'a') <= 1 && s.in_flight_for(&'b') <= 1);
                let running_b: Vec<usize> = gates
                    .running()
                    .into_iter()
                    .filter(|&i| keys[i] == 'b')
                    .collect();
                match running_b.as_slice() {
                    [] => break,
                    [one] => gates.open(*one),
                    more => panic!("per-key cap exceeded: {more:?}"),
                }
            }
        }
    }
    assert_eq!(b_out, [1, 3, 4, 6, 7, 8, 9]);
    assert_eq!(pulls.load(Ordering::SeqCst), keys.len());
    assert_eq!((s.in_flight(), s.waiting()), (1, 2));
    assert_eq!(gates.running(), [0]);
    // Unblocking 'a' lets its waiting items run, oldest first.
    gates.open(0);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(('a', 0))));
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(gates.running(), [2]);
    gates.open(2);
    gates.open(5);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(('a', 2))));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(('a', 5))));
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
    assert!(s.is_terminated());
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(None));
}

#[test]
fn pulling_stops_while_the_look_ahead_is_full() {
    let keys = ['a', 'a', 'a', 'b'];
    let gates = Gates::new(keys.len());
    let (source, pulls) = Counted::new(keys.iter().enumerate().map(|(i, &k)| (k, gates.future(i))));
    let mut s = limited_as_completed_keyed(source, 4, 1, 1).unwrap();
    let waker = noop_waker();
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(
        pulls.load(Ordering::SeqCst),
        2,
        "a0 runs, a1 fills the look-ahead"
    );
    assert_eq!(s.waiting(), 1);
    assert_eq!(s.size_hint(), (4, Some(4)));
    gates.open(0);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(('a', 0))));
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    // a1 started (before anything new was pulled); a2 now fills the
    // look-ahead, so 'b' is still not pulled.
    assert_eq!(gates.running(), [1]);
    assert_eq!(pulls.load(Ordering::SeqCst), 3);
    gates.open(1);
    assert_eq!(poll_once(&mut s, &waker), Poll::Ready(Some(('a', 1))));
    assert_eq!(poll_once(&mut s, &waker), Poll::Pending);
    assert_eq!(gates.running(), [2, 3]);
    assert_eq!(pulls.load(Ordering::SeqCst), 4);
}

#[test]
fn lookahead_zero_behaves_as_one() {
    let jobs = [(1, 10), (1, 11), (2, 20)].map(|(k, v)| (k, async move { v }));
    let mut out: Vec<(i32, i32)> =
        block_on(limited_as_completed_keyed(jobs, 2, 1, 0).unwrap().collect());
    out.sort();
    assert_eq!(out, [(1, 10), (1, 11), (2, 20)]);
}

#[test]
fn dropping_drops_running_and_waiting_futures() {
    let keys = [0u8, 0, 1, 0];
    let gates = Gates::new(keys.len());
    let (source, pulls) = Counted::new(keys.iter().enumerate().map(|(i, &k)| (k, gates.future(i))));
    let mut s = limited_as_completed_keyed(source, 3, 1, 4).unwrap();
    assert_eq!(poll_once(&mut s, &noop_waker()), Poll::Pending);
    assert_eq!(pulls.load(Ordering::SeqCst), 4);
    drop(s);
    assert_eq!(gates.total_drops(), 4);
    assert_eq!(pulls.load(Ordering::SeqCst), 4);
}

#[test]
fn stream_source_and_executor() {
    let feed = Feed::default();
    for i in 0..300u32 {
        feed.push((i % 7, YieldOnce(Some(i), false)));
    }
    feed.close();
    let s = limited_as_completed_keyed_stream(feed, 10, 2, 8).unwrap();
    let mut out: Vec<(u32, u32)> = block_on(s.collect());
    out.sort_by_key(|&(_, v)| v);
    assert_eq!(out, (0..300).map(|i| (i % 7, i)).collect::<Vec<_>>());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random keys, caps and completion order: the global cap, the per-key
    /// cap, the look-ahead bound and per-key start order always hold, and
    /// every item comes out once with its key.
    #[test]
    fn caps_and_look_ahead_hold_for_any_schedule(
        keys in proptest::collection::vec(0u8..4, 0..40),
        limit in 1usize..6,
        per_key in 1usize..3,
        lookahead in 1usize..5,
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 40),
    ) {
        let n = keys.len();
        let gates = Gates::new(n);
        let (source, pulls) =
            Counted::new(keys.iter().enumerate().map(|(i, &k)| (k, gates.future(i))));
        let mut s = limited_as_completed_keyed(source, limit, per_key, lookahead).unwrap();
        let waker = noop_waker();
        let mut out = Vec::new();
        let mut expected = Vec::new();
        let mut picks = picks.into_iter();
        loop {
            match poll_once(&mut s, &waker) {
                Poll::Ready(Some(item)) => {
                    out.push(item);
                    continue;
                }
                Poll::Ready(None) => break,
                Poll::Pending => {}
            }
            let pulled = pulls.load(Ordering::SeqCst);
            let started: Vec<usize> = (0..pulled).filter(|&i| gates.polls(i) > 0).collect();
            let running = gates.running();
            prop_assert!(running.len() <= limit);
            let mut per: HashMap<u8, usize> = HashMap::new();
            for &i in &running {
                *per.entry(keys[i]).or_default() += 1;
            }
            for (k, c) in &per {
                prop_assert!(*c <= per_key, "key {} has {} running", k, c);
                prop_assert_eq!(s.in_flight_for(k), *c);
            }
            prop_assert!(pulled - started.len() <= lookahead);
            prop_assert_eq!(s.waiting(), pulled - started.len());
            // Per key, the started items are the earliest ones pulled.
            for k in 0u8..4 {
                let of_key: Vec<usize> = (0..pulled).filter(|&i| keys[i] == k).collect();
                let started_of_key = of_key.iter().filter(|&&i| gates.polls(i) > 0).count();
                prop_assert!(of_key[..started_of_key].iter().all(|&i| gates.polls(i) > 0));
            }
            prop_assert!(!running.is_empty(), "stalled with nothing running");
            let id = running[picks.next().map_or(0, |p| p.index(running.len()))];
            gates.open(id);
            expected.push((keys[id], id as u32));
        }
        prop_assert_eq!(out, expected);
        prop_assert_eq!(pulls.load(Ordering::SeqCst), n);
    }
}
