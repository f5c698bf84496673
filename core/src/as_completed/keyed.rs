//! [`LimitedAsCompletedKeyed`]: at most `limit` futures at once and at most
//! `per_key` per key, with a bounded look-ahead so that a saturated key does
//! not stall the others.

use core::fmt;
use core::future::Future;
use core::hash::Hash;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::{Iter, Lookahead, Slots, ZeroLimit};

/// Runs keyed futures with at most `limit` in flight overall and at most
/// `per_key` in flight per key, and yields `(key, output)` in completion
/// order.
///
/// An item whose key is saturated waits in a look-ahead buffer of
/// `lookahead` items (allocated once) while items of other keys keep
/// starting. Buffered items start first-in first-out, before anything new is
/// pulled, so per-key order is kept. When the buffer is full, or every slot
/// is busy, nothing more is pulled until something finishes. A `lookahead`
/// of 0 is treated as 1: the item that found its key saturated has to be held
/// somewhere. Per-key counts live in a map that forgets a key when nothing
/// of it runs or waits, so it never holds more than `limit + lookahead` keys.
/// The rule is [`Lookahead`](super::Lookahead)'s.
///
/// Returns [`ZeroLimit`] if `limit` or `per_key` is 0.
///
/// ```
/// use futures::{executor::block_on, StreamExt};
/// use weir::limited_as_completed_keyed;
///
/// let jobs = ["a.example", "b.example", "a.example"]
///     .into_iter()
///     .enumerate()
///     .map(|(i, host)| (host, async move { i }));
/// let stream = limited_as_completed_keyed(jobs, 10, 1, 16).unwrap();
/// let mut out: Vec<(&str, usize)> = block_on(stream.collect());
/// out.sort();
/// assert_eq!(out, [("a.example", 0), ("a.example", 2), ("b.example", 1)]);
/// ```
pub fn limited_as_completed_keyed<I, K, F>(
    iter: I,
    limit: usize,
    per_key: usize,
    lookahead: usize,
) -> Result<LimitedAsCompletedKeyed<Iter<I::IntoIter>, K, F>, ZeroLimit>
where
    I: IntoIterator<Item = (K, F)>,
    K: Hash + Eq + Clone,
    F: Future,
{
    limited_as_completed_keyed_stream(Iter::new(iter.into_iter()), limit, per_key, lookahead)
}

/// Like [`limited_as_completed_keyed`], over a [`Stream`] of
/// `(key, future)` pairs.
///
/// ```
/// use futures::{executor::block_on, stream, StreamExt};
/// use weir::limited_as_completed_keyed_stream;
///
/// let jobs = stream::iter([(1u8, 10), (2, 20), (1, 30)]).map(|(k, v)| (k, async move { v }));
/// let out: Vec<(u8, i32)> =
///     block_on(limited_as_completed_keyed_stream(jobs, 2, 1, 1).unwrap().collect());
/// assert_eq!(out.len(), 3);
/// ```
pub fn limited_as_completed_keyed_stream<S, K, F>(
    stream: S,
    limit: usize,
    per_key: usize,
    lookahead: usize,
) -> Result<LimitedAsCompletedKeyed<S, K, F>, ZeroLimit>
where
    S: Stream<Item = (K, F)>,
    K: Hash + Eq + Clone,
    F: Future,
{
    let lookahead = Lookahead::new(limit, per_key, lookahead)?;
    Ok(LimitedAsCompletedKeyed {
        source: stream,
        slots: Slots::new(limit),
        lookahead,
        source_done: false,
        terminated: false,
    })
}

/// Stream returned by [`limited_as_completed_keyed`] and
/// [`limited_as_completed_keyed_stream`]; yields `(key, output)`.
#[must_use = "streams do nothing unless polled"]
pub struct LimitedAsCompletedKeyed<S, K, F>
where
    S: Stream<Item = (K, F)>,
    K: Hash + Eq + Clone,
    F: Future,
{
    /// Structurally pinned; nothing else is.
    source: S,
    /// Running futures, tagged with their key; never more than `limit`, as
    /// `lookahead` starts no more.
    slots: Slots<F, K>,
    /// The admission rule: per-key counts and the items waiting for room.
    lookahead: Lookahead<K, F>,
    source_done: bool,
    terminated: bool,
}

// Only `source` is structurally pinned: running futures live in a heap
// slice, and waiting ones are not pinned yet.
impl<S, K, F> Unpin for LimitedAsCompletedKeyed<S, K, F>
where
    S: Stream<Item = (K, F)> + Unpin,
    K: Hash + Eq + Clone,
    F: Future,
{
}

impl<S, K, F> LimitedAsCompletedKeyed<S, K, F>
where
    S: Stream<Item = (K, F)>,
    K: Hash + Eq + Clone,
    F: Future,
{
    /// Number of futures started and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.slots.len()
    }

    /// Number of futures started and not yet completed for `key`.
    pub fn in_flight_for(&self, key: &K) -> usize {
        self.lookahead.running_for(key)
    }

    /// Number of items pulled but waiting in the look-ahead buffer because
    /// their key is saturated.
    pub fn waiting(&self) -> usize {
        self.lookahead.waiting()
    }

    /// Whether the source has ended (no more items will be pulled).
    pub fn is_source_done(&self) -> bool {
        self.source_done
    }
}

impl<S, K, F> Stream for LimitedAsCompletedKeyed<S, K, F>
where
    S: Stream<Item = (K, F)>,
    K: Hash + Eq + Clone,
    F: Future,
{
    type Item = (K, F::Output);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // SAFETY: `source` is structurally pinned and never moved out; the
        // other fields are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.terminated {
            return Poll::Ready(None);
        }
        // SAFETY: as above.
        let mut source = unsafe { Pin::new_unchecked(&mut this.source) };
        let lookahead = &mut this.lookahead;
        loop {
            // Buffered items first (per-key order), then new ones.
            while let Some((key, future)) = lookahead.next_start() {
                this.slots.insert(key, future);
            }
            while !this.source_done && lookahead.can_pull() {
                match source.as_mut().poll_next(cx) {
                    Poll::Ready(Some((key, future))) => {
                        if let Some((key, future)) = lookahead.offer(key, future) {
                            this.slots.insert(key, future);
                        }
                    }
                    Poll::Ready(None) => this.source_done = true,
                    Poll::Pending => break,
                }
            }
            return match this.slots.poll_next(cx) {
                Poll::Ready(Some((key, output))) => {
                    lookahead.finish(&key);
                    Poll::Ready(Some((key, output)))
                }
                Poll::Ready(None) if lookahead.waiting() != 0 => {
                    // Unreachable in practice (items wait only behind running
                    // ones), but if nothing runs, everything waiting can start.
                    continue;
                }
                Poll::Ready(None) if this.source_done => {
                    this.terminated = true;
                    Poll::Ready(None)
                }
                // Nothing running and the source is pending: it will wake us.
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            };
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.terminated {
            return (0, Some(0));
        }
        let held = self.slots.len() + self.lookahead.waiting();
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

impl<S, K, F> FusedStream for LimitedAsCompletedKeyed<S, K, F>
where
    S: Stream<Item = (K, F)>,
    K: Hash + Eq + Clone,
    F: Future,
{
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<S, K, F> fmt::Debug for LimitedAsCompletedKeyed<S, K, F>
where
    S: Stream<Item = (K, F)>,
    K: Hash + Eq + Clone,
    F: Future,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitedAsCompletedKeyed")
            .field("in_flight", &self.slots.len())
            .field("buffered", &self.lookahead.waiting())
            .field("source_done", &self.source_done)
            .field("terminated", &self.terminated)
            .finish_non_exhaustive()
    }
}
