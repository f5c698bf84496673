//! [`Iter`]: an iterator seen as an always-ready stream.

use core::pin::Pin;
use core::task::{Context, Poll};
use futures_core::Stream;

/// Adapts an [`Iterator`] into a [`Stream`] that is always ready.
///
/// This is the source type of the iterator forms (`limited_as_completed`,
/// `limited_ordered`, `limited_as_completed_keyed`). The iterator is advanced
/// only when the adapter has a free slot, so it may be lazy and unbounded.
///
/// ```
/// use futures::StreamExt;
/// use weir::as_completed::Iter;
///
/// let mut s = Iter::new([1, 2].into_iter());
/// futures::executor::block_on(async {
///     assert_eq!(s.next().await, Some(1));
///     assert_eq!(s.next().await, Some(2));
///     assert_eq!(s.next().await, None);
/// });
/// ```
#[derive(Debug, Clone)]
#[must_use = "streams do nothing unless polled"]
pub struct Iter<I> {
    iter: I,
}

impl<I: Iterator> Iter<I> {
    /// Wraps `iter`.
    pub fn new(iter: I) -> Self {
        Self { iter }
    }

    /// Gives the wrapped iterator back.
    pub fn into_inner(self) -> I {
        self.iter
    }
}

// `Iter` never pins its iterator.
impl<I> Unpin for Iter<I> {}

impl<I: Iterator> Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.get_mut().iter.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}
