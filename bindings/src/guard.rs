//! `RawGuard`: the server-side guard's view of [`weir::Limiter`] — admit a
//! request now or say exactly why not, with the key's rate figures for the
//! `RateLimit-*` and `Retry-After` headers, in one call.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::Borrow as _;

use alloc::rc::Rc;
use alloc::sync::Arc;

use core::cell::RefCell;

use wasm_bindgen::prelude::*;
use weir::limiter::RateStatus;
use weir::{Clock, Limiter, LimiterAcquire, LimiterError, LimiterGrant};

use crate::limiter::{limiter_error, new_limiter, MUST_WAIT};
use crate::slab::{release_grant, Permits};
use crate::tickets::{reports, take_error, ParkOutcome, ParkedWaits};
use crate::timer::{with_one_clock_read, JsTimer};

/// `admit` answer: over the concurrency caps (ids are ≥ 1, rate denials < 0).
const BUSY: f64 = 0.0;

/// A limiter for one guarded handler. Every request costs 1.
#[wasm_bindgen]
pub struct RawGuard {
    inner: Arc<Limiter<String, JsTimer>>,
    /// Whether any rate quota is set (else there are no figures to give).
    has_rate: bool,
    permits: Permits<LimiterGrant>,
    parked: ParkedWaits<LimiterAcquire<String, JsTimer>>,
    errors: RefCell<Vec<(u32, JsValue)>>,
}

#[wasm_bindgen]
impl RawGuard {
    /// A guard's limiter; arguments as for `RawLimiter` (`rate` and
    /// `per_key_rate` are flat `[limit, intervalMs, burst (0 = limit)]`
    /// triples; `undefined` caps are unlimited; `max_queue` bounds waiters).
    #[wasm_bindgen(constructor)]
    pub fn new(
        concurrency: Option<u32>,
        per_key: Option<u32>,
        rate: &[f64],
        per_key_rate: &[f64],
        max_queue: Option<u32>,
    ) -> Result<RawGuard, JsValue> {
        let inner = new_limiter(concurrency, per_key, rate, per_key_rate, max_queue)?;
        // Every triple is one quota (or `new_limiter` threw).
        let has_rate = !(rate.is_empty() && per_key_rate.is_empty());
        Ok(RawGuard {
            inner: Arc::new(inner),
            has_rate,
            permits: Rc::default(),
            parked: ParkedWaits::default(),
            errors: RefCell::default(),
        })
    }

    /// Admit one request for `key` now, never waiting. Returns a permit id
    /// (≥ 1); [`BUSY`] (0) when the concurrency caps are full; or, when a
    /// rate quota denies it, minus the exact nanoseconds until it would pass
    /// (≤ −1). When the guard has rate quotas, `figures` receives the key's
    /// figures after the decision, laid out as for [`RawGuard::status`].
    pub fn admit(&self, key: String, figures: &mut [f64]) -> f64 {
        if !self.has_rate {
            return match self.inner.try_acquire_grant(&key, 1) {
                Ok(grant) => self.permits.write().insert(grant),
                Err(_) => BUSY,
            };
        }
        // One host clock read for the decision and the figures.
        with_one_clock_read(|| {
            let answer = match self.inner.try_acquire_grant(&key, 1) {
                Ok(grant) => self.permits.write().insert(grant),
                Err(LimiterError::RateLimited { not_until }) => {
                    let wait = not_until.saturating_duration_since(self.inner.timer().now());
                    -(weir::time::duration_nanos(wait).clamp(1, 1 << 53) as f64)
                }
                // Busy, or a queue/size error that cannot happen at cost 1.
                Err(_) => BUSY,
            };
            self.fill(&key, figures);
            answer
        })
    }

    /// Fill `figures` with `[limit, remaining, resetNs, retryNs, intervalMs]`
    /// for `key` now; returns `false` (leaving it alone) without quotas.
    pub fn status(&self, key: &str, figures: &mut [f64]) -> bool {
        self.fill(&String::from(key), figures)
    }

    /// Wait (in the bounded queue) for one permit on `key` without a
    /// Promise: an id when admitted at once, else `0` and the wait is parked
    /// under `ticket`; finished waits are reported by [`RawGuard::drain`]
    /// after `notify` was called (as for `RawLimiter.acquireOrPark`). Throws
    /// a `QueueFullError` when the queue is full.
    #[wasm_bindgen(js_name = acquireOrPark)]
    pub fn acquire_or_park(
        &self,
        key: String,
        ticket: u32,
        notify: &js_sys::Function,
    ) -> Result<f64, JsValue> {
        let job = self.inner.acquire_grant(key, 1);
        match with_one_clock_read(|| self.parked.park(ticket, job, notify)) {
            ParkOutcome::Done(Ok(grant)) => Ok(self.permits.write().insert(grant)),
            ParkOutcome::Done(Err(e)) => Err(limiter_error(e)),
            ParkOutcome::Parked => Ok(MUST_WAIT),
        }
    }

    /// Poll the woken parked waits: flat `[ticket, id, …]` pairs of those
    /// that finished (an id of `-1`: failed, see `takeError`).
    pub fn drain(&self) -> Box<[f64]> {
        let finished = with_one_clock_read(|| self.parked.drain());
        let permits = &self.permits;
        reports(
            finished,
            |g| permits.write().insert(g),
            limiter_error,
            &self.errors,
        )
    }

    /// The error a parked wait failed with (after `drain` reported `-1`).
    #[wasm_bindgen(js_name = takeError)]
    pub fn take_error(&self, ticket: u32) -> JsValue {
        take_error(&self.errors, ticket)
    }

    /// Stop waiting: drops the waiting acquire now. Returns whether it was
    /// still waiting.
    pub fn cancel(&self, ticket: u32) -> bool {
        self.parked.cancel(ticket)
    }

    /// Return the permit `id`; `false` for an id already released.
    pub fn release(&self, id: f64) -> bool {
        release_grant(&self.permits, &self.inner, id)
    }

    /// Forget idle rate keys now (see `weir::Limiter::evict_idle`).
    #[wasm_bindgen(js_name = evictIdle)]
    pub fn evict_idle(&self) {
        self.inner.evict_idle();
    }

    /// `[inFlight, queued, keys, rateKeys, permitsHeld, waitingTickets]`.
    pub fn stats(&self) -> Box<[f64]> {
        let s = self.inner.stats();
        Box::new([
            s.in_flight as f64,
            s.queued as f64,
            s.keys as f64,
            s.rate_keys as f64,
            self.permits.read().len() as f64,
            self.parked.len() as f64,
        ])
    }
}

impl RawGuard {
    fn fill(&self, key: &String, figures: &mut [f64]) -> bool {
        let Some(status) = self.inner.rate_status(key) else {
            return false;
        };
        write_figures(&status, figures);
        true
    }
}

/// `[limit, remaining, resetNs, retryNs, intervalMs]` into `out` (as far as it goes).
fn write_figures(s: &RateStatus, out: &mut [f64]) {
    let values = [
        f64::from(s.quota.limit()),
        f64::from(s.remaining),
        weir::time::duration_nanos(s.reset_after) as f64,
        weir::time::duration_nanos(s.retry_after) as f64,
        s.quota.interval().as_secs_f64() * 1e3,
    ];
    for (slot, value) in out.iter_mut().zip(values) {
        *slot = value;
    }
}
