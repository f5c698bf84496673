//! The ready set shared between a stream and its slot wakers.
//!
//! One bit per slot, packed in atomic words, plus the waker of the task that
//! polls the stream. A slot waker sets its bit and wakes that task; the
//! stream drains the bits and polls only the slots it finds there.

use core::task::Waker;

use alloc::boxed::Box;

use crate::sync::{AtomicUsize, Mutex, Ordering};

const BITS: usize = usize::BITS as usize;

/// Number of `usize` words needed for `slots` bits.
pub(super) fn words_for(slots: usize) -> usize {
    slots.div_ceil(BITS)
}

/// Word index and bit mask of slot `index`.
pub(super) fn locate(index: usize) -> (usize, usize) {
    (index / BITS, 1 << (index % BITS))
}

/// Atomic "which slots were woken" bitset and the parent task's waker.
pub(super) struct ReadySet {
    words: Box<[AtomicUsize]>,
    parent: Mutex<Option<Waker>>,
}

impl ReadySet {
    /// A set for `slots` slots, all clear, with no parent waker.
    pub(super) fn new(slots: usize) -> Self {
        let words = (0..words_for(slots)).map(|_| AtomicUsize::new(0)).collect();
        Self {
            words,
            parent: Mutex::new(None),
        }
    }

    /// Marks slot `index` ready and wakes the parent task if it is the first
    /// to do so since the last drain.
    pub(super) fn wake_slot(&self, index: usize) {
        let (word, mask) = locate(index);
        let before = self.words[word].fetch_or(mask, Ordering::AcqRel);
        if before & mask != 0 {
            // Already marked: whoever set the bit wakes (or woke) the parent,
            // and the parent has not drained it yet.
            return;
        }
        let parent = self.parent.lock().take();
        // Woken outside the lock.
        if let Some(waker) = parent {
            waker.wake();
        }
    }

    /// Stores `waker` as the parent's waker, unless an equivalent one is
    /// already stored. Must be called before [`drain_into`](Self::drain_into)
    /// so that no wake-up falls between the two.
    pub(super) fn register(&self, waker: &Waker) {
        {
            let current = self.parent.lock();
            if current.as_ref().is_some_and(|w| w.will_wake(waker)) {
                return;
            }
        }
        // Clone and drop the old waker outside the lock: both may run
        // executor code.
        let fresh = waker.clone();
        let old = self.parent.lock().replace(fresh);
        drop(old);
    }

    /// ORs every set bit into `batch` and clears it here. Returns whether
    /// any bit was found.
    pub(super) fn drain_into(&self, batch: &mut [usize]) -> bool {
        let mut any = 0;
        for (local, shared) in batch.iter_mut().zip(self.words.iter()) {
            // Cheap load first: most words are usually clear.
            if shared.load(Ordering::Relaxed) != 0 {
                let bits = shared.swap(0, Ordering::Acquire);
                *local |= bits;
                any |= bits;
            }
        }
        any != 0
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::{Arc, AtomicBool};
    use std::task::Wake;

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// A slot wake racing the parent's register-then-drain is never lost:
    /// either the drain sees the bit, or the parent is woken and its next
    /// drain sees it.
    #[test]
    fn a_wake_racing_register_and_drain_is_never_lost() {
        loom::model(|| {
            let ready = Arc::new(ReadySet::new(2));
            let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(flag.clone());
            let waking = {
                let ready = ready.clone();
                loom::thread::spawn(move || ready.wake_slot(1))
            };
            ready.register(&waker);
            let mut batch = [0usize];
            let seen = ready.drain_into(&mut batch);
            waking.join().unwrap();
            if !seen {
                assert!(flag.0.load(Ordering::SeqCst), "wake lost");
                assert!(ready.drain_into(&mut batch));
            }
            assert_eq!(batch[0], 1 << 1);
        });
    }
}
