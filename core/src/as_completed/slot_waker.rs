//! Per-slot wakers, allocated once when a stream is built.
//!
//! A slot waker is an `Arc<SlotWaker>` behind a hand-written `RawWaker`
//! vtable (so the crate's `sync::Arc`, loom's under `cfg(loom)`, can be
//! used). Waking it marks its slot in the shared [`ReadySet`]; cloning it is
//! a reference-count increment, never an allocation.

use core::task::{RawWaker, RawWakerVTable, Waker};

use super::ready::ReadySet;
use crate::sync::Arc;

/// What a slot's waker points at: the shared ready set and the slot index.
struct SlotWaker {
    ready: Arc<ReadySet>,
    index: usize,
}

/// Builds the waker for slot `index` of `ready`.
pub(super) fn slot_waker(ready: &Arc<ReadySet>, index: usize) -> Waker {
    let data = Arc::into_raw(Arc::new(SlotWaker {
        ready: Arc::clone(ready),
        index,
    }));
    // SAFETY: `data` comes from `Arc::into_raw` of a `SlotWaker`, which is
    // what every vtable function expects; `SlotWaker` is Send + Sync.
    unsafe { Waker::from_raw(RawWaker::new(data.cast(), &VTABLE)) }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live `Arc<SlotWaker>` pointer (see `slot_waker`);
    // the count is incremented for the new handle.
    unsafe { Arc::increment_strong_count(data.cast::<SlotWaker>()) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: consumes the handle this pointer represents.
    let this = unsafe { Arc::from_raw(data.cast::<SlotWaker>()) };
    this.ready.wake_slot(this.index);
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the handle stays alive for the duration of the call.
    let this = unsafe { &*data.cast::<SlotWaker>() };
    this.ready.wake_slot(this.index);
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: releases the handle this pointer represents.
    drop(unsafe { Arc::from_raw(data.cast::<SlotWaker>()) });
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn waking_marks_the_slot_and_clones_share_it() {
        let ready = Arc::new(ReadySet::new(70));
        let waker = slot_waker(&ready, 69);
        let clone = waker.clone();
        assert_eq!(Arc::strong_count(&ready), 2);
        clone.wake();
        let mut batch = [0usize; 2];
        assert!(ready.drain_into(&mut batch));
        let (word, mask) = super::super::ready::locate(69);
        let mut expected = [0usize; 2];
        expected[word] = mask;
        assert_eq!(batch, expected);
        waker.wake_by_ref();
        drop(waker);
        assert_eq!(Arc::strong_count(&ready), 1);
        let mut batch = [0usize; 2];
        assert!(ready.drain_into(&mut batch));
        assert!(!ready.drain_into(&mut batch));
    }
}
