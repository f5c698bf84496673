//! Run many futures with at most `limit` in flight: `limited_as_completed`
//! and its ordered and keyed forms.
//!
//! Every form takes an iterator (or a [`Stream`](futures_core::Stream)) of
//! futures, pulls from it only when a slot is free, and yields outputs as a
//! stream:
//!
//! | function | order | limits |
//! |---|---|---|
//! | [`limited_as_completed`] / [`limited_as_completed_stream`] | completion | `limit` |
//! | [`limited_ordered`] / [`limited_ordered_stream`] | input | `limit` (the reorder window) |
//! | [`limited_as_completed_keyed`] / [`limited_as_completed_keyed_stream`] | completion | `limit`, `per_key`, `lookahead` |
//!
//! Memory is fixed at construction: `limit` slots, each with a waker
//! allocated once, so running 10⁸ futures costs what running 10³ does and
//! allocates nothing per item (futures are stored in place, never boxed).
//! A future is polled when it is started and then only after its waker
//! fires; a stream whose futures are all pending costs nothing until then.
//! Woken futures are visited round-robin, so one that is always ready cannot
//! starve the others. Dropping a stream drops the futures it holds and never
//! pulls again. Streams are fused: after `None` they keep returning `None`.
//!
//! The streams are `Send` when the source and futures are, and work just as
//! well on a single-threaded executor (wasm).
//!
//! The rules of what may be pulled and started live apart from the futures,
//! as pure state machines that the streams drive and that the JS
//! `limitedAsCompleted` drives through the wasm bindings: [`Window`] (at
//! most `limit` out of the source), [`Reorder`] (the input-order form's
//! reorder window) and [`Lookahead`] (per-key caps with a bounded
//! look-ahead buffer).

mod error;
mod iter;
mod key_counts;
mod keyed;
mod lookahead;
mod ordered;
mod ready;
mod reorder;
mod slot_waker;
mod slots;
mod unordered;
mod window;

pub use error::ZeroLimit;
pub use iter::Iter;
pub use key_counts::{Count, DenseKeys, KeyCounts};
pub use keyed::{
    limited_as_completed_keyed, limited_as_completed_keyed_stream, LimitedAsCompletedKeyed,
};
pub use lookahead::Lookahead;
pub use ordered::{limited_ordered, limited_ordered_stream, LimitedOrdered};
pub use reorder::Reorder;
pub use unordered::{limited_as_completed, limited_as_completed_stream, LimitedAsCompleted};
pub use window::Window;

use slots::Slots;
