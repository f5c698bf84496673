//! Batching: the rate decisions of callers that arrive while a `gcra.lua`
//! call is in flight on a store go out together, as one script call.
//!
//! Invariants:
//! - [`BatchQueue`] (pure): at most one batch is in flight per store; a
//!   caller arriving while the store is idle leads (sends its own request at
//!   once, a batch of one: no added latency for a lone caller); callers
//!   arriving while a call is in flight wait, in arrival order; when the call
//!   ends, everything waiting (up to [`MAX_BATCH`]) is the next batch, sent in
//!   arrival order — so the server decides every request in the order its
//!   caller arrived, and `gcra.lua` decides a batch exactly as the same calls
//!   made one by one (its invariant, checked by the differential test);
//! - the async glue ([`RedisStore::decide`](crate::RedisStore::decide)): the
//!   batches after a leader's call are sent by a spawned task, never by the
//!   leader's future, so a leader that is cancelled (dropped) strands no one;
//!   after handing out a batch's answers the sender yields once, so the
//!   callers just answered (who mostly come straight back) join the next call;
//!   each batch is one store call with the store's timeout and health, and
//!   its outcome (the replies, or the one `StoreError`) reaches every caller
//!   in it; if the runtime drops the task, the callers' channels close and
//!   they get a `StoreError` — nothing waits forever.

/// Requests in one script call at most (a bigger queue is sent as several
/// calls, in order): bounds the time one call holds the server.
pub const MAX_BATCH: usize = 128;

/// Who sends what, per store.
#[derive(Debug)]
pub struct BatchQueue<T> {
    in_flight: bool,
    waiting: std::collections::VecDeque<T>,
}

impl<T> Default for BatchQueue<T> {
    fn default() -> Self {
        BatchQueue {
            in_flight: false,
            waiting: std::collections::VecDeque::new(),
        }
    }
}

impl<T> BatchQueue<T> {
    /// A caller arrives with `item`: `Some(item)` back when the store is idle
    /// (the caller leads: it sends now, and a call is in flight from here);
    /// `None` when it waits for the next batch.
    ///
    /// ```
    /// use weir_redis::batch::BatchQueue;
    /// let mut q = BatchQueue::default();
    /// assert_eq!(q.arrive('a'), Some('a')); // idle: 'a' is sent alone, now
    /// assert_eq!(q.arrive('b'), None);      // queued behind the call in flight
    /// assert_eq!(q.arrive('c'), None);
    /// assert_eq!(q.next_batch(), Some(vec!['b', 'c'])); // 'a' answered: one call for both
    /// assert_eq!(q.next_batch(), None);     // answered, nobody waiting: idle
    /// assert_eq!(q.arrive('d'), Some('d'));
    /// ```
    pub fn arrive(&mut self, item: T) -> Option<T> {
        if self.in_flight {
            self.waiting.push_back(item);
            None
        } else {
            self.in_flight = true;
            Some(item)
        }
    }

    /// The call in flight has ended: the next batch (the first
    /// [`MAX_BATCH`] waiting, in arrival order; a call is in flight again),
    /// or `None` (idle).
    pub fn next_batch(&mut self) -> Option<Vec<T>> {
        if self.waiting.is_empty() {
            self.in_flight = false;
            return None;
        }
        let n = self.waiting.len().min(MAX_BATCH);
        Some(self.waiting.drain(..n).collect())
    }

    /// Callers waiting for the next batch.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// True while a call is in flight.
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_queue_goes_out_in_arrival_order_in_bounded_batches() {
        let mut q = BatchQueue::default();
        assert_eq!(q.arrive(0), Some(0));
        for i in 1..=300 {
            assert_eq!(q.arrive(i), None);
        }
        let mut sent = vec![0];
        while let Some(batch) = q.next_batch() {
            assert!(batch.len() <= MAX_BATCH);
            assert!(q.in_flight());
            sent.extend(batch);
        }
        assert_eq!(sent, (0..=300).collect::<Vec<_>>());
        assert!(!q.in_flight() && q.waiting() == 0);
    }

    #[test]
    fn arrivals_during_a_batch_wait_for_the_next() {
        let mut q = BatchQueue::default();
        assert_eq!(q.arrive("lead"), Some("lead"));
        assert_eq!(q.arrive("x"), None);
        assert_eq!(q.next_batch(), Some(vec!["x"]));
        // While ["x"] is in flight.
        assert_eq!(q.arrive("y"), None);
        assert_eq!(q.waiting(), 1);
        assert_eq!(q.next_batch(), Some(vec!["y"]));
        assert_eq!(q.next_batch(), None);
        assert!(!q.in_flight());
    }
}
