//! Wakers collected under the lock, woken after it is released.

use alloc::vec::Vec;
use core::task::Waker;

/// A list of wakers that holds the first one inline, so the common release
/// that lets one waiter through allocates nothing.
#[derive(Default)]
pub(crate) struct WakeList {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl WakeList {
    pub(crate) const fn new() -> Self {
        WakeList {
            first: None,
            rest: Vec::new(),
        }
    }

    /// Wakes everyone collected. Call only with no lock held.
    #[inline]
    pub(crate) fn wake_all(self) {
        if self.first.is_some() {
            self.wake_each();
        } else {
            // `rest` is filled only after `first`: it never allocated, so
            // there is nothing to drop (this skips the drop glue's call).
            debug_assert_eq!(self.rest.capacity(), 0);
            core::mem::forget(self);
        }
    }

    fn wake_each(self) {
        if let Some(first) = self.first {
            first.wake();
        }
        for waker in self.rest {
            waker.wake();
        }
    }
}

impl Extend<Waker> for WakeList {
    fn extend<I: IntoIterator<Item = Waker>>(&mut self, iter: I) {
        for waker in iter {
            if self.first.is_none() {
                self.first = Some(waker);
            } else {
                self.rest.push(waker);
            }
        }
    }
}
