//! The fast paths allocate nothing once a key's slot and the waiter slab
//! have been warmed up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use weir::KeyedSemaphore;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

#[test]
fn uncontended_acquire_and_release_allocate_nothing() {
    let sem = KeyedSemaphore::new(Some(8), Some(2)).unwrap();
    // Warm up the key slab and index: room for the idle keys kept, and the
    // index grown past its tombstones of evicted keys.
    for key in 1000..3000u64 {
        drop(sem.try_acquire(key, 1).unwrap());
    }
    let waker = futures::task::noop_waker();
    let n = allocations(|| {
        for key in 0..1000u64 {
            drop(sem.try_acquire(key, 1).unwrap());
            let mut fut = sem.acquire(key, 2);
            let Poll::Ready(Ok(permit)) = Pin::new(&mut fut).poll(&mut Context::from_waker(&waker))
            else {
                panic!("contended")
            };
            drop(permit);
        }
    });
    assert_eq!(n, 0);
    assert_eq!(sem.stats().keys, 0);
}

#[test]
fn a_steady_contended_hand_off_allocates_nothing() {
    let sem = KeyedSemaphore::new(Some(1), None).unwrap();
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut cycle = |key: u64| {
        let held = sem.try_acquire(key, 1).unwrap();
        let mut fut = sem.acquire(key + 1, 1);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        drop(held); // grants the waiter, wakes it after unlocking
        let Poll::Ready(Ok(permit)) = Pin::new(&mut fut).poll(&mut cx) else {
            panic!("lost")
        };
        drop(permit);
    };
    (0..3).for_each(&mut cycle); // warm up slabs
    assert_eq!(allocations(|| (0..1000).for_each(|k| cycle(k % 3))), 0);
}
