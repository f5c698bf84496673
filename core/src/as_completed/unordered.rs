//! [`LimitedAsCompleted`]: at most `limit` futures at once, outputs in
//! completion order.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::{Iter, Slots, Window, ZeroLimit};

/// Runs the futures of `iter` with at most `limit` in flight and yields their
/// outputs in completion order.
///
/// The iterator is advanced only when a slot is free, so it can be lazy and
/// as long as you like: memory stays at `limit` slots, allocated here, once.
/// Outputs are delivered as they are (a `Result` output is just a value; an
/// error does not end the stream). Dropping the stream drops the futures in
/// flight and never advances the iterator again.
///
/// Returns [`ZeroLimit`] if `limit` is 0.
///
/// ```
/// use futures::{executor::block_on, StreamExt};
/// use weir::limited_as_completed;
///
/// let jobs = (1..=100u64).map(|n| async move { n * n });
/// let stream = limited_as_completed(jobs, 8).unwrap();
/// let total: u64 = block_on(stream.fold(0, |acc, sq| async move { acc + sq }));
/// assert_eq!(total, 338_350);
/// ```
pub fn limited_as_completed<I>(
    iter: I,
    limit: usize,
) -> Result<LimitedAsCompleted<Iter<I::IntoIter>>, ZeroLimit>
where
    I: IntoIterator,
    I::Item: Future,
{
    limited_as_completed_stream(Iter::new(iter.into_iter()), limit)
}

/// Like [`limited_as_completed`], over a [`Stream`] of futures.
///
/// The source stream is polled only when a slot is free; while it is
/// pending, the futures already in flight keep running.
///
/// ```
/// use futures::{executor::block_on, stream, StreamExt};
/// use weir::limited_as_completed_stream;
///
/// let jobs = stream::iter(0..10).map(|n| async move { n + 1 });
/// let mut out: Vec<i32> =
///     block_on(limited_as_completed_stream(jobs, 3).unwrap().collect());
/// out.sort();
/// assert_eq!(out, (1..=10).collect::<Vec<_>>());
/// ```
pub fn limited_as_completed_stream<S>(
    stream: S,
    limit: usize,
) -> Result<LimitedAsCompleted<S>, ZeroLimit>
where
    S: Stream,
    S::Item: Future,
{
    let window = Window::new(limit)?;
    Ok(LimitedAsCompleted {
        source: stream,
        window,
        slots: Slots::new(limit),
        source_done: false,
        terminated: false,
    })
}

/// Stream returned by [`limited_as_completed`] and
/// [`limited_as_completed_stream`].
#[must_use = "streams do nothing unless polled"]
pub struct LimitedAsCompleted<S>
where
    S: Stream,
    S::Item: Future,
{
    /// Structurally pinned; nothing else is.
    source: S,
    /// The pull rule: held = running (an output is yielded as it finishes).
    window: Window,
    slots: Slots<S::Item, ()>,
    source_done: bool,
    terminated: bool,
}

// Only `source` is structurally pinned; the futures live in a heap slice.
impl<S> Unpin for LimitedAsCompleted<S>
where
    S: Stream + Unpin,
    S::Item: Future,
{
}

impl<S> LimitedAsCompleted<S>
where
    S: Stream,
    S::Item: Future,
{
    /// Number of futures pulled from the source and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.slots.len()
    }

    /// Whether the source has ended (no more futures will be pulled).
    pub fn is_source_done(&self) -> bool {
        self.source_done
    }
}

impl<S> Stream for LimitedAsCompleted<S>
where
    S: Stream,
    S::Item: Future,
{
    type Item = <S::Item as Future>::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // SAFETY: `source` is structurally pinned and never moved out; the
        // other fields are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.terminated {
            return Poll::Ready(None);
        }
        // SAFETY: as above.
        let mut source = unsafe { Pin::new_unchecked(&mut this.source) };
        while !this.source_done && this.window.can_pull() {
            match source.as_mut().poll_next(cx) {
                Poll::Ready(Some(future)) => {
                    this.window.pull();
                    this.slots.insert((), future);
                }
                Poll::Ready(None) => this.source_done = true,
                Poll::Pending => break,
            }
        }
        match this.slots.poll_next(cx) {
            Poll::Ready(Some(((), output))) => {
                this.window.release();
                Poll::Ready(Some(output))
            }
            Poll::Ready(None) if this.source_done => {
                this.terminated = true;
                Poll::Ready(None)
            }
            // Empty and the source is pending: it will wake us.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.terminated {
            return (0, Some(0));
        }
        let running = self.slots.len();
        if self.source_done {
            return (running, Some(running));
        }
        let (low, high) = self.source.size_hint();
        (
            low.saturating_add(running),
            high.and_then(|h| h.checked_add(running)),
        )
    }
}

impl<S> FusedStream for LimitedAsCompleted<S>
where
    S: Stream,
    S::Item: Future,
{
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<S> fmt::Debug for LimitedAsCompleted<S>
where
    S: Stream,
    S::Item: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitedAsCompleted")
            .field("in_flight", &self.slots.len())
            .field("source_done", &self.source_done)
            .field("terminated", &self.terminated)
            .finish_non_exhaustive()
    }
}
