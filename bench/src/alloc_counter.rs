//! A global allocator that counts allocations and live bytes while switched on.
//!
//! Register it in a binary with
//! `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;`.
//! While [`enabled`](CountingAlloc::set_enabled) is false it only forwards to
//! the system allocator after one relaxed load, so timed runs are not skewed
//! against peers that allocate more.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// The counting allocator (zero-sized; all state is in statics).
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// A snapshot of the counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Allocations (including reallocations) since the last reset.
    pub allocs: usize,
    /// Bytes allocated and not yet freed since the last reset (may be
    /// negative when memory allocated before the reset is freed).
    pub live_bytes: isize,
    /// Highest `live_bytes` since the last reset.
    pub peak_bytes: isize,
}

impl CountingAlloc {
    /// Switches counting on or off.
    pub fn set_enabled(on: bool) {
        ENABLED.store(on, Relaxed);
    }

    /// Zeroes every counter.
    pub fn reset() {
        ALLOCS.store(0, Relaxed);
        LIVE.store(0, Relaxed);
        PEAK.store(0, Relaxed);
    }

    /// The counters now.
    pub fn counts() -> Counts {
        Counts {
            allocs: ALLOCS.load(Relaxed),
            live_bytes: LIVE.load(Relaxed),
            peak_bytes: PEAK.load(Relaxed),
        }
    }

    /// Runs `f` with counting on (counters reset first) and returns its
    /// result with the counts it caused.
    pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Counts) {
        Self::reset();
        Self::set_enabled(true);
        let r = f();
        Self::set_enabled(false);
        (r, Self::counts())
    }
}

fn grew(bytes: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    let live = LIVE.fetch_add(bytes as isize, Relaxed) + bytes as isize;
    PEAK.fetch_max(live, Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes as isize, Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// plain atomics and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ENABLED.load(Relaxed) {
            grew(layout.size());
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if ENABLED.load(Relaxed) {
            grew(layout.size());
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ENABLED.load(Relaxed) {
            shrank(layout.size());
        }
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ENABLED.load(Relaxed) {
            shrank(layout.size());
            grew(new_size);
        }
        System.realloc(ptr, layout, new_size)
    }
}
