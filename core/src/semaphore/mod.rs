//! The keyed semaphore: a global in-flight cap and a per-key cap in one
//! primitive.
//!
//! - [`KeyedSemaphore`] is the async, thread-safe front: `acquire` /
//!   `try_acquire` (borrowing) and `acquire_owned` / `try_acquire_owned`
//!   (for an `Arc`), yielding RAII [`Permit`]s / [`OwnedPermit`]s.
//! - [`SemaphoreState`] is the pure state machine underneath, generic over the
//!   payload parked with each waiter; hosts that bring their own event loop
//!   (the wasm bindings) drive it directly.
//!
//! Semantics: FIFO within a key; keys waiting on the global cap are served
//! round-robin; a key saturated on its own cap never blocks another key
//! while the global cap has room; newcomers never barge past queued waiters;
//! weighted requests larger than a finite cap fail instead of hanging; idle
//! keys are evicted (all but the 32 used last, kept indexed so that a hot
//! key is not re-inserted per acquire); caps can change at runtime.

// The `Arc` of the owned API. Under loom it stays `alloc`'s: loom's `Arc`
// cannot be a method receiver (`self: &Arc<Self>`), and the lock is what the
// loom model checks.
#[cfg(not(loom))]
use crate::sync::Arc;
#[cfg(loom)]
use alloc::sync::Arc;

mod acquire;
mod error;
mod key_caps;
mod keyed;
mod permit;
mod slots;
mod state;
mod wake_list;

pub(crate) use acquire::Request;
pub use acquire::{Acquire, AcquireOwned};
pub use error::{AcquireError, LimitError, TryAcquireError};
pub use keyed::KeyedSemaphore;
pub use permit::{OwnedPermit, Permit};
pub use state::{Acquired, Grant, SemaphoreState, SemaphoreStats, WaiterId, WaiterPoll};
