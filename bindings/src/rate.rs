//! `RawRateLimiter`: [`weir::RateLimiter`] for JS.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::sync::Arc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use weir::{Clock, Denied, RateLimiter};

use crate::errors::{denied_text, range_error};
use crate::quota::quotas_from_triples;
use crate::tickets::Tickets;
use crate::timer::JsTimer;

/// GCRA quotas (global and per key) as the JS glue sees them. Nothing is
/// held after admission, so there are no permit ids: a granted wait resolves
/// to `1`.
#[wasm_bindgen]
pub struct RawRateLimiter {
    inner: Arc<RateLimiter<String, JsTimer>>,
    tickets: Tickets,
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
            tickets: Tickets::default(),
        })
    }

    /// Admit `cost` for `key` now (consuming it) → `0`, or the milliseconds
    /// until it could be admitted (consuming nothing). Throws a `RangeError`
    /// when `cost` exceeds a burst.
    pub fn check(&self, key: &str, cost: u32) -> Result<f64, JsValue> {
        match self.inner.check(&String::from(key), cost) {
            Ok(()) => Ok(0.0),
            Err(Denied::NotUntil(at)) => {
                let ms = (at - JsTimer.now()).as_nanos() as f64 / 1e6;
                // Never report "0 ms" for a denial.
                Ok(ms.max(f64::MIN_POSITIVE))
            }
            Err(e) => Err(range_error(&["weir: ", &denied_text(&e)].concat())),
        }
    }

    /// `check` as a boolean (the acquire fast path).
    #[wasm_bindgen(js_name = tryAcquire)]
    pub fn try_acquire(&self, key: &str, cost: u32) -> Result<bool, JsValue> {
        Ok(self.check(key, cost)? == 0.0)
    }

    /// Wait (FIFO per key) for `cost`: a Promise of `1`, or of `undefined`
    /// once [`RawRateLimiter::cancel`] dropped it.
    pub fn acquire(&self, key: String, cost: u32, ticket: u32) -> Promise {
        let waiting = self.inner.acquire_owned(key, cost);
        self.tickets.spawn(ticket, async move {
            waiting
                .await
                .map_err(|e| range_error(&["weir: ", &denied_text(&e)].concat()))?;
            Ok(JsValue::from_f64(1.0))
        })
    }

    /// Stop waiting: drops the waiting acquire now. Returns whether it waited.
    pub fn cancel(&self, ticket: u32) -> bool {
        self.tickets.cancel(ticket)
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
