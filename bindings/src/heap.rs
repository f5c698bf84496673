//! The wasm heap: talc over `memory.grow`, growing geometrically.
//!
//! talc instead of dlmalloc: about half the code in the wasm (issue #3's size
//! target), and as fast on the permit/waiter allocation sizes this crate makes.
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

use core::alloc::Layout;
use core::arch::wasm32::{memory_grow, memory_size};
use core::ptr::NonNull;

use talc::base::{Talc, CHUNK_UNIT};
use talc::cell::TalcSyncCell;
use talc::wasm::WasmBinning;

const PAGE: usize = 64 * 1024;
const MIN_GROW_PAGES: usize = 16;

/// talc's source of memory: fresh pages from `memory.grow`, extending the one
/// heap when the new pages follow it (nothing else grows this memory).
#[derive(Debug)]
struct GrowingMemory {
    end: Option<NonNull<u8>>,
}

// SAFETY: claims or extends only pages `memory.grow` just returned (never
// handed out twice, never released) and does not allocate.
unsafe impl talc::source::Source for GrowingMemory {
    fn acquire<B: talc::base::binning::Binning>(
        talc: &mut Talc<Self, B>,
        layout: Layout,
    ) -> Result<(), ()> {
        // Enough for the chunk (size, tag, alignment) plus a claim's overhead.
        let required = layout.size() + layout.align() + 4 * CHUNK_UNIT;
        let needed = required.div_ceil(PAGE);
        let generous = needed.max(memory_size(0) / 4).max(MIN_GROW_PAGES);
        for pages in [generous, needed] {
            let previous = memory_grow(0, pages);
            if previous == usize::MAX {
                continue;
            }
            let base = (previous * PAGE) as *mut u8;
            let bytes = pages * PAGE;
            if let Some(old_end) = talc.source.end.take() {
                if old_end.as_ptr() == base {
                    // SAFETY: `old_end` is the end of our heap and the pages
                    // from there to `base + bytes` are fresh.
                    talc.source.end = Some(unsafe { talc.extend(old_end, base.add(bytes)) });
                    return Ok(());
                }
            }
            // SAFETY: fresh pages, ours alone.
            talc.source.end = unsafe { talc.claim(base, bytes) };
            return Ok(());
        }
        Err(())
    }
}

#[global_allocator]
static HEAP: TalcSyncCell<GrowingMemory, WasmBinning> =
    TalcSyncCell::new_wasm(GrowingMemory { end: None });
