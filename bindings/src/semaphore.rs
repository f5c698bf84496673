//! `RawSemaphore`: [`weir::KeyedSemaphore`] for JS, permits as ids.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::Borrow as _;

use alloc::rc::Rc;
use alloc::sync::Arc;

use core::cell::RefCell;

use wasm_bindgen::prelude::*;
use weir::semaphore::AcquireOwned;
use weir::{AcquireError, KeyedSemaphore, OwnedPermit, TryAcquireError};

use crate::errors::{limit_error_text, range_error, range_error_of, too_large_text};
use crate::limiter::MUST_WAIT;
use crate::slab::Permits;
use crate::tickets::{reports, take_error, ParkOutcome, ParkedWaits};

/// A keyed semaphore (global cap + per-key cap, FIFO per key) as the JS glue
/// sees it. Keys are strings; permits are ids, returned with
/// [`RawSemaphore::release`].
#[wasm_bindgen]
pub struct RawSemaphore {
    inner: Arc<KeyedSemaphore<String>>,
    permits: Permits<OwnedPermit<String>>,
    parked: ParkedWaits<AcquireOwned<String>>,
    errors: RefCell<Vec<(u32, JsValue)>>,
}

#[wasm_bindgen]
impl RawSemaphore {
    /// A semaphore; `undefined` caps are unlimited.
    #[wasm_bindgen(constructor)]
    pub fn new(global: Option<u32>, per_key: Option<u32>) -> Result<RawSemaphore, JsValue> {
        let inner = KeyedSemaphore::new(global.map(|n| n as usize), per_key.map(|n| n as usize))
            .map_err(|e| range_error(&limit_error_text(&e)))?;
        Ok(RawSemaphore {
            inner: Arc::new(inner),
            permits: Rc::default(),
            parked: ParkedWaits::default(),
            errors: RefCell::default(),
        })
    }

    /// `n` permits of `key` now: an id, or `0` when it would have to wait.
    /// Throws a `RangeError` when `n` exceeds a cap. Creates no Promise.
    #[wasm_bindgen(js_name = tryAcquire)]
    pub fn try_acquire(&self, key: String, n: u32) -> Result<f64, JsValue> {
        match self.inner.try_acquire_owned(key, n as usize) {
            Ok(permit) => Ok(self.permits.write().insert(permit)),
            Err(TryAcquireError::NoPermits) => Ok(MUST_WAIT),
            Err(TryAcquireError::TooLarge { requested, limit }) => {
                Err(too_large(AcquireError::TooLarge { requested, limit }))
            }
        }
    }

    /// Wait for `n` permits of `key` without a Promise: an id when they are
    /// granted at once, else `0` ([`MUST_WAIT`]) and the wait is parked under
    /// `ticket`; finished waits are reported by [`RawSemaphore::drain`] after
    /// `notify` was called (as for `RawLimiter.acquireOrPark`). Throws a
    /// `RangeError` when `n` exceeds a cap.
    #[wasm_bindgen(js_name = acquireOrPark)]
    pub fn acquire_or_park(
        &self,
        key: String,
        n: u32,
        ticket: u32,
        notify: &js_sys::Function,
    ) -> Result<f64, JsValue> {
        let job = self.inner.acquire_owned(key, n as usize);
        match self.parked.park(ticket, job, notify) {
            ParkOutcome::Done(Ok(permit)) => Ok(self.permits.write().insert(permit)),
            ParkOutcome::Done(Err(e)) => Err(too_large(e)),
            ParkOutcome::Parked => Ok(MUST_WAIT),
        }
    }

    /// Poll the woken parked waits: flat `[ticket, id, …]` pairs of those
    /// that finished (an id of `-1`: failed, see `takeError`).
    pub fn drain(&self) -> Box<[f64]> {
        let finished = self.parked.drain();
        let permits = &self.permits;
        reports(
            finished,
            |p| permits.write().insert(p),
            too_large,
            &self.errors,
        )
    }

    /// The error a parked wait failed with (after `drain` reported `-1`).
    #[wasm_bindgen(js_name = takeError)]
    pub fn take_error(&self, ticket: u32) -> JsValue {
        take_error(&self.errors, ticket)
    }

    /// Stop waiting: drops the waiting acquire now. Returns whether it waited.
    pub fn cancel(&self, ticket: u32) -> bool {
        self.parked.cancel(ticket)
    }

    /// Return the permit `id` (both its key and global share at once).
    pub fn release(&self, id: f64) -> bool {
        let permit = self.permits.write().remove(id);
        permit.is_some()
    }

    /// Change the caps (`undefined` = unlimited).
    #[wasm_bindgen(js_name = setLimits)]
    pub fn set_limits(&self, global: Option<u32>, per_key: Option<u32>) -> Result<(), JsValue> {
        self.inner
            .set_limits(global.map(|n| n as usize), per_key.map(|n| n as usize))
            .map_err(|e| range_error(&limit_error_text(&e)))
    }

    /// `[inFlight, waiting, keys, permitsHeld, waitingTickets]`.
    pub fn stats(&self) -> Box<[f64]> {
        let s = self.inner.stats();
        Box::new([
            s.in_flight as f64,
            s.waiting as f64,
            s.keys as f64,
            self.permits.read().len() as f64,
            self.parked.len() as f64,
        ])
    }
}

/// A weighted acquire larger than its cap, as a `RangeError`.
#[cold]
#[inline(never)]
fn too_large(AcquireError::TooLarge { requested, limit }: AcquireError) -> JsValue {
    range_error_of(&["weir: ", &too_large_text(requested, limit)])
}
