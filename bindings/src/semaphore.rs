//! `RawSemaphore`: [`weir::KeyedSemaphore`] for JS, permits as ids.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use alloc::sync::Arc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use weir::{AcquireError, KeyedSemaphore, OwnedPermit, TryAcquireError};

use crate::errors::{limit_error_text, range_error, too_large_text};
use crate::limiter::MUST_WAIT;
use crate::slab::Permits;
use crate::tickets::Tickets;

/// A keyed semaphore (global cap + per-key cap, FIFO per key) as the JS glue
/// sees it. Keys are strings; permits are ids, returned with
/// [`RawSemaphore::release`].
#[wasm_bindgen]
pub struct RawSemaphore {
    inner: Arc<KeyedSemaphore<String>>,
    permits: Permits<OwnedPermit<String>>,
    tickets: Tickets,
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
            tickets: Tickets::default(),
        })
    }

    /// `n` permits of `key` now: an id, or `0` when it would have to wait.
    /// Throws a `RangeError` when `n` exceeds a cap. Creates no Promise.
    #[wasm_bindgen(js_name = tryAcquire)]
    pub fn try_acquire(&self, key: String, n: u32) -> Result<f64, JsValue> {
        match self.inner.try_acquire_owned(key, n as usize) {
            Ok(permit) => Ok(self.permits.borrow_mut().insert(permit)),
            Err(TryAcquireError::NoPermits) => Ok(MUST_WAIT),
            Err(TryAcquireError::TooLarge { requested, limit }) => {
                Err(too_large(AcquireError::TooLarge { requested, limit }))
            }
        }
    }

    /// Wait for `n` permits of `key`: a Promise of an id (or of `undefined`
    /// once [`RawSemaphore::cancel`] dropped it).
    pub fn acquire(&self, key: String, n: u32, ticket: u32) -> Promise {
        let waiting = self.inner.acquire_owned(key, n as usize);
        self.tickets
            .spawn_permit(ticket, &self.permits, waiting, too_large)
    }

    /// Stop waiting: drops the waiting acquire now. Returns whether it waited.
    pub fn cancel(&self, ticket: u32) -> bool {
        self.tickets.cancel(ticket)
    }

    /// Return the permit `id` (both its key and global share at once).
    pub fn release(&self, id: f64) -> bool {
        let permit = self.permits.borrow_mut().remove(id);
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
            self.permits.borrow().len() as f64,
            self.tickets.len() as f64,
        ])
    }
}

/// A weighted acquire larger than its cap, as a `RangeError`.
fn too_large(AcquireError::TooLarge { requested, limit }: AcquireError) -> JsValue {
    range_error(&["weir: ", &too_large_text(requested, limit)].concat())
}
