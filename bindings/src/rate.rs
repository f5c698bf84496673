//! `RawRateLimiter`: [`weir::RateLimiter`] for JS.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::sync::Arc;

use core::cell::RefCell;

use wasm_bindgen::prelude::*;
use weir::{Clock, Denied, RateAcquireOwned, RateLimiter};

use crate::errors::{denied_text, range_error_of};
use crate::quota::quotas_from_triples;
use crate::tickets::{reports, take_error, ParkOutcome, ParkedWaits};
use crate::timer::{with_one_clock_read, JsTimer};

/// GCRA quotas (global and per key) as the JS glue sees them. Nothing is
/// held after admission, so there are no permit ids: a granted wait resolves
/// to `1`.
#[wasm_bindgen]
pub struct RawRateLimiter {
    inner: Arc<RateLimiter<String, JsTimer>>,
    parked: ParkedWaits<RateAcquireOwned<String, JsTimer>>,
    errors: RefCell<Vec<(u32, JsValue)>>,
}

#[wasm_bindgen]
impl RawRateLimiter {
    /// A rate limiter from flat `[limit, intervalMs, burst (0 = limit)]` triples.
    #[wasm_bindgen(constructor)]
    pub fn new(global: &[f64], per_key: &[f64]) -> Result<RawRateLimiter, JsValue> {
        let global = quotas_from_triples(global, "global")?;
        let per_key = quotas_from_triples(per_key, "rate")?;
        Ok(RawRateLimiter {
            inner: Arc::new(RateLimiter::new(&global, &per_key, JsTimer)),
            parked: ParkedWaits::default(),
            errors: RefCell::default(),
        })
    }

    /// Admit `cost` for `key` now (consuming it) → `0`, or the milliseconds
    /// until it could be admitted (consuming nothing). Throws a `RangeError`
    /// when `cost` exceeds a burst.
    pub fn check(&self, key: &str, cost: u32) -> Result<f64, JsValue> {
        match self.inner.check(&String::from(key), cost) {
            Ok(()) => Ok(0.0),
            Err(Denied::NotUntil(at)) => {
                let ms = weir::time::duration_nanos(at - JsTimer.now()) as f64 / 1e6;
                // Never report "0 ms" for a denial.
                Ok(ms.max(f64::MIN_POSITIVE))
            }
            Err(e) => Err(denied_error(e)),
        }
    }

    /// `check` as a boolean (the acquire fast path).
    #[wasm_bindgen(js_name = tryAcquire)]
    pub fn try_acquire(&self, key: &str, cost: u32) -> Result<bool, JsValue> {
        Ok(self.check(key, cost)? == 0.0)
    }

    /// Wait (FIFO per key) for `cost` without a Promise: `1` when admitted
    /// at once, else `0` and the wait is parked under `ticket`; finished
    /// waits are reported by [`RawRateLimiter::drain`] (id `1`) after
    /// `notify` was called (as for `RawLimiter.acquireOrPark`). Throws a
    /// `RangeError` when `cost` exceeds a burst.
    #[wasm_bindgen(js_name = acquireOrPark)]
    pub fn acquire_or_park(
        &self,
        key: String,
        cost: u32,
        ticket: u32,
        notify: &js_sys::Function,
    ) -> Result<f64, JsValue> {
        let job = self.inner.acquire_owned(key, cost);
        match with_one_clock_read(|| self.parked.park(ticket, job, notify)) {
            ParkOutcome::Done(Ok(())) => Ok(1.0),
            ParkOutcome::Done(Err(e)) => Err(denied_error(e)),
            ParkOutcome::Parked => Ok(0.0),
        }
    }

    /// Poll the woken parked waits: flat `[ticket, 1 | -1, …]` pairs of those
    /// that finished (`-1`: failed, see `takeError`).
    pub fn drain(&self) -> Box<[f64]> {
        let finished = with_one_clock_read(|| self.parked.drain());
        reports(finished, |()| 1.0, denied_error, &self.errors)
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

    /// Nothing to release for a rate limiter (tokens are spent for good).
    pub fn release(&self, _id: f64) -> bool {
        false
    }

    /// Hold every check and waiter of `key` for `ms` milliseconds from now.
    #[wasm_bindgen(js_name = pauseFor)]
    pub fn pause_for(&self, key: &str, ms: f64) {
        let until = JsTimer.now() + core::time::Duration::from_nanos((ms.max(0.0) * 1e6) as u64);
        self.inner.pause_until(&String::from(key), until);
    }

    /// Keys with rate state now.
    pub fn keys(&self) -> f64 {
        self.inner.keys() as f64
    }
}

#[cold]
#[inline(never)]
fn denied_error(e: Denied) -> JsValue {
    range_error_of(&["weir: ", &denied_text(&e)])
}
