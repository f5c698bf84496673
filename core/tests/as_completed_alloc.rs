//! Flat memory: after construction, running futures through the
//! `limited_*` streams allocates nothing per item, so allocations and peak
//! live bytes are the same for 10⁴ and 10⁶ items.
//!
//! A counting global allocator keeps per-thread tallies, so the tests in
//! this file may run in parallel.

#[path = "support/mod.rs"]
mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::{ready, Future};
use std::task::Poll;

use futures::task::noop_waker;
use futures::Stream;
use weir::{limited_as_completed, limited_as_completed_keyed, limited_ordered};

use util::{poll_once, YieldOnce};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn on_alloc(size: usize) {
    let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
    let _ = LIVE.try_with(|l| {
        let now = l.get() + size as isize;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn on_dealloc(size: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get() - size as isize));
}

// SAFETY: forwards to `System`, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_dealloc(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_dealloc(layout.size());
        on_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and peak extra live bytes on this thread while `f` runs.
fn measure<R>(f: impl FnOnce() -> R) -> (R, usize, isize) {
    let allocs = ALLOCS.with(Cell::get);
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    let r = f();
    (
        r,
        ALLOCS.with(Cell::get) - allocs,
        PEAK.with(Cell::get) - live,
    )
}

/// Drains `stream` by hand (no executor allocations), counting items.
fn drain<S: Stream + Unpin>(mut stream: S) -> usize {
    let waker = noop_waker();
    let mut n = 0;
    loop {
        match poll_once(&mut stream, &waker) {
            Poll::Ready(Some(_)) => n += 1,
            Poll::Ready(None) => return n,
            // Only self-waking futures are pending here: poll again.
            Poll::Pending => {}
        }
    }
}

/// Builds a stream over `n` items, then measures (construction, run).
/// Returns (allocations while running, peak bytes of the whole thing).
fn profile<S, B>(n: usize, build: B) -> (usize, usize, isize)
where
    S: Stream + Unpin,
    B: FnOnce(usize) -> S,
{
    let ((built_allocs, run_allocs), _, peak) = measure(|| {
        let (stream, built_allocs, _) = measure(|| build(n));
        let (count, run_allocs, _) = measure(|| drain(stream));
        assert_eq!(count, n);
        (built_allocs, run_allocs)
    });
    (built_allocs, run_allocs, peak)
}

fn assert_flat<S, B>(what: &str, build: B)
where
    S: Stream + Unpin,
    B: Fn(usize) -> S,
{
    let small = profile(10_000, &build);
    let large = profile(1_000_000, &build);
    assert_eq!(small.1, 0, "{what}: allocations while running 10^4 items");
    assert_eq!(large.1, 0, "{what}: allocations while running 10^6 items");
    assert_eq!(
        small.0, large.0,
        "{what}: construction allocations depend on N"
    );
    assert_eq!(small.2, large.2, "{what}: peak live bytes depend on N");
    // Construction: a handful of buffers plus one waker per slot.
    assert!(
        large.0 <= 64 + 16,
        "{what}: {} allocations to build",
        large.0
    );
}

fn yield_once(i: usize) -> impl Future<Output = usize> + Unpin {
    YieldOnce(Some(i), false)
}

#[test]
fn unordered_ready_futures_allocate_nothing_per_item() {
    assert_flat("ready", |n| {
        limited_as_completed((0..n).map(ready), 64).unwrap()
    });
}

#[test]
fn unordered_pending_then_woken_futures_allocate_nothing_per_item() {
    assert_flat("yield", |n| {
        limited_as_completed((0..n).map(yield_once), 64).unwrap()
    });
}

#[test]
fn ordered_allocates_nothing_per_item() {
    assert_flat("ordered", |n| {
        limited_ordered((0..n).map(yield_once), 64).unwrap()
    });
}

#[test]
fn keyed_allocates_nothing_per_item() {
    // 100 keys, 2 per key: keys come and go from the count map constantly.
    assert_flat("keyed", |n| {
        let jobs = (0..n).map(|i| ((i * 7919) % 100, yield_once(i)));
        limited_as_completed_keyed(jobs, 64, 2, 16).unwrap()
    });
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the guard: a boxed future per item would be caught.
    let (_, allocs, peak) = measure(|| {
        let jobs = (0..1000).map(|i| Box::pin(ready(i)));
        drain(limited_as_completed(jobs, 64).unwrap())
    });
    assert!(allocs >= 1000, "only {allocs} allocations counted");
    assert!(peak > 0);
}
