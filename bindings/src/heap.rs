//! The wasm heap: dlmalloc over `memory.grow`, growing geometrically.
//!
//! Rust's default wasm allocator grows linear memory by exactly what each
//! request needs (often one 64 KiB page). Every `memory.grow` is a host call
//! that replaces the `ArrayBuffer` and reports external memory to the JS GC,
//! so a limiter with a million parked waiters spent most of its time growing
//! memory and in the GC work that triggers. Here each grow takes at least a
//! quarter of the current size (and at least 1 MiB). Pages never touched are
//! never resident, so peak RSS does not change.

#[allow(unused_imports)]
use crate::prelude::*;

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32::{memory_grow, memory_size};
use core::cell::UnsafeCell;
use core::ptr;

const PAGE: usize = 64 * 1024;
const MIN_GROW_PAGES: usize = 16;

/// dlmalloc's system interface: fresh pages from `memory.grow`.
struct GrowingMemory;

// SAFETY: the returned regions come from `memory.grow` (zeroed, never
// handed out twice) and are never released.
unsafe impl dlmalloc::Allocator for GrowingMemory {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let needed = size.div_ceil(PAGE);
        let generous = needed.max(memory_size(0) / 4).max(MIN_GROW_PAGES);
        for pages in [generous, needed] {
            let previous = memory_grow(0, pages);
            if previous != usize::MAX {
                return ((previous * PAGE) as *mut u8, pages * PAGE, 0);
            }
        }
        (ptr::null_mut(), 0, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

/// The global allocator of the wasm build.
struct Heap(UnsafeCell<dlmalloc::Dlmalloc<GrowingMemory>>);

// SAFETY: wasm32-unknown-unknown without the atomics feature has one thread.
unsafe impl Sync for Heap {}

// SAFETY: forwards to dlmalloc, which upholds the `GlobalAlloc` contract;
// there is no concurrent access (one thread) and no reentrancy (dlmalloc does
// not allocate).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).malloc(layout.size(), layout.align()) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).calloc(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { (*self.0.get()).free(ptr, layout.size(), layout.align()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}

#[global_allocator]
static HEAP: Heap = Heap(UnsafeCell::new(dlmalloc::Dlmalloc::new_with_allocator(
    GrowingMemory,
)));
