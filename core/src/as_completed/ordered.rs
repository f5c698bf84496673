//! [`LimitedOrdered`]: at most `limit` futures at once, outputs in input
//! order.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::{Iter, Reorder, Slots, ZeroLimit};

type Output<S> = <<S as Stream>::Item as Future>::Output;

/// Runs the futures of `iter` with at most `limit` in flight and yields their
/// outputs in input order.
///
/// The reorder window is `limit`: a future that finishes early keeps its slot
/// (holding its output) until every earlier one has been yielded, so at most
/// `limit` items are pulled and not yet yielded. Memory is allocated here,
/// once. Returns [`ZeroLimit`] if `limit` is 0.
///
/// ```
/// use futures::{executor::block_on, StreamExt};
/// use weir::limited_ordered;
///
/// let jobs = (0..20).map(|n| async move { n * 10 });
/// let out: Vec<i32> = block_on(limited_ordered(jobs, 4).unwrap().collect());
/// assert_eq!(out, (0..20).map(|n| n * 10).collect::<Vec<_>>());
/// ```
pub fn limited_ordered<I>(
    iter: I,
    limit: usize,
) -> Result<LimitedOrdered<Iter<I::IntoIter>>, ZeroLimit>
where
    I: IntoIterator,
    I::Item: Future,
{
    limited_ordered_stream(Iter::new(iter.into_iter()), limit)
}

/// Like [`limited_ordered`], over a [`Stream`] of futures.
///
/// ```
/// use futures::{executor::block_on, stream, StreamExt};
/// use weir::limited_ordered_stream;
///
/// let jobs = stream::iter(["a", "b", "c"]).map(|s| async move { s.len() });
/// let out: Vec<usize> = block_on(limited_ordered_stream(jobs, 2).unwrap().collect());
/// assert_eq!(out, [1, 1, 1]);
/// ```
pub fn limited_ordered_stream<S>(stream: S, limit: usize) -> Result<LimitedOrdered<S>, ZeroLimit>
where
    S: Stream,
    S::Item: Future,
{
    let reorder = Reorder::new(limit)?;
    Ok(LimitedOrdered {
        source: stream,
        slots: Slots::new(limit),
        reorder,
        source_done: false,
        terminated: false,
    })
}

/// Stream returned by [`limited_ordered`] and [`limited_ordered_stream`].
#[must_use = "streams do nothing unless polled"]
pub struct LimitedOrdered<S>
where
    S: Stream,
    S::Item: Future,
{
    /// Structurally pinned; nothing else is.
    source: S,
    /// Running futures, tagged with their place in `reorder`.
    slots: Slots<S::Item, usize>,
    /// The reorder window: a place per item pulled and not yet yielded,
    /// holding its output once finished.
    reorder: Reorder<Output<S>>,
    source_done: bool,
    terminated: bool,
}

// Only `source` is structurally pinned; the futures live in a heap slice.
impl<S> Unpin for LimitedOrdered<S>
where
    S: Stream + Unpin,
    S::Item: Future,
{
}

impl<S> LimitedOrdered<S>
where
    S: Stream,
    S::Item: Future,
{
    /// Number of items pulled from the source and not yet yielded: running
    /// futures plus finished ones waiting for their turn. Never above `limit`.
    pub fn in_flight(&self) -> usize {
        self.reorder.held()
    }

    /// Whether the source has ended (no more futures will be pulled).
    pub fn is_source_done(&self) -> bool {
        self.source_done
    }
}

impl<S> Stream for LimitedOrdered<S>
where
    S: Stream,
    S::Item: Future,
{
    type Item = Output<S>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // SAFETY: `source` is structurally pinned and never moved out; the
        // other fields are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.terminated {
            return Poll::Ready(None);
        }
        // SAFETY: as above.
        let mut source = unsafe { Pin::new_unchecked(&mut this.source) };
        while !this.source_done && !this.reorder.is_full() {
            match source.as_mut().poll_next(cx) {
                Poll::Ready(Some(future)) => {
                    let place = this.reorder.reserve().expect("not full");
                    this.slots.insert(place, future);
                }
                Poll::Ready(None) => this.source_done = true,
                Poll::Pending => break,
            }
        }
        loop {
            if let Some(output) = this.reorder.pop() {
                return Poll::Ready(Some(output));
            }
            match this.slots.poll_next(cx) {
                Poll::Ready(Some((place, output))) => {
                    if this.reorder.finish(place, output).is_err() {
                        unreachable!("a running future's place is reserved and unfinished");
                    }
                }
                Poll::Ready(None) => {
                    // Nothing running and the head is not finished: the
                    // window is empty.
                    debug_assert_eq!(this.reorder.held(), 0);
                    if this.source_done {
                        this.terminated = true;
                        return Poll::Ready(None);
                    }
                    // The source is pending: it will wake us.
                    return Poll::Pending;
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.terminated {
            return (0, Some(0));
        }
        let held = self.reorder.held();
        if self.source_done {
            return (held, Some(held));
        }
        let (low, high) = self.source.size_hint();
        (
            low.saturating_add(held),
            high.and_then(|h| h.checked_add(held)),
        )
    }
}

impl<S> FusedStream for LimitedOrdered<S>
where
    S: Stream,
    S::Item: Future,
{
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<S> fmt::Debug for LimitedOrdered<S>
where
    S: Stream,
    S::Item: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitedOrdered")
            .field("in_flight", &self.reorder.held())
            .field("running", &self.slots.len())
            .field("source_done", &self.source_done)
            .field("terminated", &self.terminated)
            .finish_non_exhaustive()
    }
}
