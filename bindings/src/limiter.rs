//! `RawLimiter`: [`weir::Limiter`] for JS, permits as ids.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::Borrow as _;

use alloc::rc::Rc;
use alloc::sync::Arc;

use core::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;
use weir::{Clock, Limiter, LimiterAcquire, LimiterConfig, LimiterError, LimiterGrant};

use crate::errors::{cat, config_error_text, decimal, named_error, range_error, range_error_of};
use crate::quota::quotas_from_triples;
use crate::slab::{release_grant, Permits};
use crate::tickets::{reports, take_error, ParkOutcome, ParkedWaits};
use crate::timer::{with_one_clock_read, JsTimer};

/// What `tryAcquire` returns when the caller must wait (ids are always ≥ 1).
pub const MUST_WAIT: f64 = 0.0;

/// What `tryAcquire` returns when the request can never be admitted; the
/// error is then `lastError()`.
pub const FAILED: f64 = -1.0;

/// What `acquireOrPark` returns when it parked the wait and the wasm side
/// holds no `notify` function to schedule drains with: call `setNotify`.
pub const WANTS_NOTIFY: f64 = -2.0;

/// The combined limiter (concurrency caps, rate quotas, bounded queue) as the
/// JS glue sees it. Keys are strings; permits are ids from
/// [`RawLimiter::try_acquire`] / [`RawLimiter::acquire_or_park`], returned with
/// [`RawLimiter::release`].
#[wasm_bindgen]
pub struct RawLimiter {
    pub(crate) inner: Arc<Limiter<String, JsTimer>>,
    pub(crate) permits: Permits<LimiterGrant>,
    /// Parked waits: the core's named acquire future itself, unboxed, so a
    /// million parked waiters stay small.
    parked: ParkedWaits<LimiterAcquire<String, JsTimer>>,
    errors: RefCell<Vec<(u32, JsValue)>>,
    last_error: Cell<Option<JsValue>>,
    /// The guard's rule for denied requests (`setGuard`; unused elsewhere).
    #[cfg(feature = "guard")]
    pub(crate) guard: Cell<weir::guard::GuardPolicy>,
}

#[wasm_bindgen]
impl RawLimiter {
    /// A limiter. `rate` and `per_key_rate` are flat `[limit, intervalMs,
    /// burst (0 = limit)]` triples; `undefined` caps are unlimited.
    /// `adaptive`, when given, is the row `adaptiveNames().config` lays
    /// out (`NaN` = the core's default): the global cap then follows
    /// [`report`](RawLimiter::report)s, capped by `concurrency`.
    /// `per_key_adaptive`, the same row, gives each key a cap of its own
    /// that follows the key's reports, capped by `per_key`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        concurrency: Option<u32>,
        per_key: Option<u32>,
        rate: &[f64],
        per_key_rate: &[f64],
        max_queue: Option<u32>,
        adaptive: Option<Vec<f64>>,
        per_key_adaptive: Option<Vec<f64>>,
    ) -> Result<RawLimiter, JsValue> {
        #[cfg(feature = "adaptive")]
        let (adaptive, per_key_adaptive) = (
            adaptive
                .map(|a| crate::adaptive::config_from(&a, "concurrency"))
                .transpose()?,
            per_key_adaptive
                .map(|a| crate::adaptive::config_from(&a, "perKey"))
                .transpose()?,
        );
        #[cfg(not(feature = "adaptive"))]
        let (adaptive, per_key_adaptive) = match (adaptive, per_key_adaptive) {
            (None, None) => (None, None),
            (Some(_), _) => return Err(range_error("concurrency.adaptive: not in this build")),
            (_, Some(_)) => return Err(range_error("perKey.adaptive: not in this build")),
        };
        let inner = new_limiter(
            concurrency,
            per_key,
            rate,
            per_key_rate,
            max_queue,
            [adaptive, per_key_adaptive],
        )?;
        Ok(RawLimiter {
            inner: Arc::new(inner),
            permits: Rc::default(),
            parked: ParkedWaits::default(),
            errors: RefCell::default(),
            last_error: Cell::default(),
            #[cfg(feature = "guard")]
            guard: Cell::new(weir::guard::GuardPolicy::new(
                None,
                core::time::Duration::from_secs(1),
            )),
        })
    }

    /// Admit `cost` for `key` now: a permit id, `0` ([`MUST_WAIT`]) when it
    /// would have to wait, or `-1` ([`FAILED`]) for a cost no limit can ever
    /// admit (the `RangeError` is then [`lastError`](RawLimiter::last_error)).
    /// Creates no Promise and no JS object: a plain number comes back.
    #[wasm_bindgen(js_name = tryAcquire)]
    pub fn try_acquire(&self, key: String, cost: u32) -> f64 {
        self.try_acquire_key(&key, cost)
    }

    /// [`RawLimiter::try_acquire`] for the empty key `""` (what callers that
    /// give no key use), without passing a string across the boundary.
    #[wasm_bindgen(js_name = tryAcquireUnkeyed)]
    pub fn try_acquire_unkeyed(&self, cost: u32) -> f64 {
        const UNKEYED: &String = &String::new();
        self.try_acquire_key(UNKEYED, cost)
    }

    /// [`RawLimiter::try_acquire`] of `cost` up to `count` times over in one
    /// call: the id of one permit holding `k * cost` units (`1 <= k <=
    /// count`, see [`permitsOf`](RawLimiter::permits_of)), `0` when not even
    /// one unit fits now, `-1` as for `tryAcquire`. With rate quotas `k` is
    /// always 1. Units go back one part at a time with
    /// [`releasePart`](RawLimiter::release_part), or all with `release`.
    #[wasm_bindgen(js_name = tryAcquireMany)]
    pub fn try_acquire_many(&self, key: String, cost: u32, count: u32) -> f64 {
        match with_one_clock_read(|| self.inner.try_acquire_grants(&key, cost, count)) {
            Ok(grant) => self.permits.write().insert(grant),
            Err(e) => self.refusal(e),
        }
    }

    /// How many units (permits) the permit `id` holds; `0` once released.
    #[wasm_bindgen(js_name = permitsOf)]
    pub fn permits_of(&self, id: f64) -> u32 {
        self.permits
            .write()
            .get_mut(id)
            .map_or(0, |grant| grant.permits() as u32)
    }

    /// Give back `permits` of the permit `id`'s units; the id stays valid
    /// until its last unit is given back. Returns `false` (releasing
    /// nothing) for an unknown id or more units than it holds.
    #[wasm_bindgen(js_name = releasePart)]
    pub fn release_part(&self, id: f64, permits: u32) -> bool {
        let part = {
            let mut slab = self.permits.write();
            let Some(grant) = slab.get_mut(id) else {
                return false;
            };
            if permits as usize > grant.permits() {
                return false;
            }
            let part = grant.split_off(permits as usize);
            if grant.permits() == 0 {
                slab.remove(id);
            }
            part
        };
        // Outside the slab's borrow: releasing wakes the next waiters.
        self.inner.release(part);
        true
    }

    /// Wait for `cost` on `key` without a Promise: a permit id when it is
    /// admitted at once, else the wait is parked under `ticket` and the
    /// answer is `0` ([`MUST_WAIT`]), or [`WANTS_NOTIFY`] when the JS side
    /// must hand over its `notify` function first ([`setNotify`], once per
    /// busy spell). Parked waits that finish are reported by
    /// [`RawLimiter::drain`], after `notify` was called. `-1` ([`FAILED`]):
    /// the core refused (a full queue, a cost no limit can admit); the error
    /// is then [`lastError`](RawLimiter::last_error). A plain number comes
    /// back: no JS object is made.
    ///
    /// [`setNotify`]: RawLimiter::set_notify
    #[wasm_bindgen(js_name = acquireOrPark)]
    pub fn acquire_or_park(&self, key: String, cost: u32, ticket: u32) -> f64 {
        self.park(key, cost, ticket)
    }

    /// [`RawLimiter::acquire_or_park`] for the empty key `""`, without
    /// passing a string across the boundary.
    #[wasm_bindgen(js_name = acquireOrParkUnkeyed)]
    pub fn acquire_or_park_unkeyed(&self, cost: u32, ticket: u32) -> f64 {
        self.park(String::new(), cost, ticket)
    }

    /// The function that schedules a [`drain`](RawLimiter::drain) (called
    /// with no arguments, once per batch of wakes; it must only schedule,
    /// e.g. with `queueMicrotask`). Asked for by `acquireOrPark` answering
    /// [`WANTS_NOTIFY`]; held only while some wait is parked, so a limiter
    /// with nothing parked is not kept alive by the wasm side.
    #[wasm_bindgen(js_name = setNotify)]
    pub fn set_notify(&self, notify: &js_sys::Function) {
        self.parked.set_notify(notify);
    }

    /// Admit `cost` for `key` now and let it go at once (`RateLimiter.check`;
    /// `weir::Limiter::try_pass`): rate tokens are spent, nothing is held →
    /// `0`. Otherwise, consuming nothing: the milliseconds until a rate quota
    /// or pause allows it (`> 0`), `Infinity` when only a release of
    /// concurrency permits could, or `-1` ([`FAILED`]) for a cost no limit
    /// can ever admit (the `RangeError` is then
    /// [`lastError`](RawLimiter::last_error)).
    pub fn check(&self, key: String, cost: u32) -> f64 {
        with_one_clock_read(|| match self.inner.try_pass(&key, cost) {
            Ok(()) => 0.0,
            Err(LimiterError::RateLimited { not_until }) => {
                let ms = weir::time::duration_nanos(not_until - JsTimer.now()) as f64 / 1e6;
                // Never report "0 ms" for a denial.
                ms.max(f64::MIN_POSITIVE)
            }
            Err(LimiterError::Busy) => f64::INFINITY,
            Err(e) => self.refusal(e),
        })
    }

    /// Poll the woken parked waits. Returns flat `[ticket, id, …]` pairs for
    /// those that finished; an id of `-1` means it failed and
    /// [`take_error`](RawLimiter::take_error) returns the error.
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

    /// The error of the last `tryAcquire` that returned `-1` ([`FAILED`]).
    #[wasm_bindgen(js_name = lastError)]
    pub fn last_error(&self) -> JsValue {
        self.last_error.take().unwrap_or(JsValue::UNDEFINED)
    }

    /// The error a parked wait failed with (after `drain` reported `-1`).
    #[wasm_bindgen(js_name = takeError)]
    pub fn take_error(&self, ticket: u32) -> JsValue {
        take_error(&self.errors, ticket)
    }

    /// Stop waiting: drops the waiting acquire now, freeing its queue place.
    /// Returns whether it was still waiting.
    pub fn cancel(&self, ticket: u32) -> bool {
        self.parked.cancel(ticket)
    }

    /// Return the permit `id`. Returns `false` for an id already released.
    pub fn release(&self, id: f64) -> bool {
        release_grant(&self.permits, &self.inner, id)
    }

    /// Change the concurrency caps (`undefined` = unlimited).
    #[wasm_bindgen(js_name = setLimits)]
    pub fn set_limits(
        &self,
        concurrency: Option<u32>,
        per_key: Option<u32>,
    ) -> Result<(), JsValue> {
        self.inner
            .set_limits(concurrency.map(|n| n as usize), per_key.map(|n| n as usize))
            .map_err(|e| range_error(&config_error_text(&e)))
    }

    /// Hold every acquire for `key` for `ms` milliseconds from now.
    #[wasm_bindgen(js_name = pauseFor)]
    pub fn pause_for(&self, key: &str, ms: f64) {
        let key = String::from(key);
        let until = JsTimer.now() + core::time::Duration::from_nanos((ms.max(0.0) * 1e6) as u64);
        self.inner.pause_until(&key, until);
    }

    /// Feed the adaptive caps one finished request of `key`: its
    /// round-trip time in ms, the permits in flight when it started in
    /// total and for its key (itself included: [`inFlightNow`]), and its
    /// outcome (a code of `adaptiveNames().outcomes`). Returns `{ global,
    /// key }`: the caps' limits after it, `-1` for one not adaptive.
    ///
    /// [`inFlightNow`]: RawLimiter::in_flight_now
    #[cfg(feature = "adaptive")]
    pub fn report(
        &self,
        key: String,
        rtt_ms: f64,
        in_flight: u32,
        key_in_flight: u32,
        outcome: u8,
    ) -> js_sys::Array {
        let sample = crate::adaptive::sample(rtt_ms, in_flight, outcome);
        let started = weir::InFlight {
            total: in_flight,
            key: key_in_flight,
        };
        let after = self.inner.report(&key, started, sample.rtt, sample.outcome);
        let limit = |l: Option<u32>| JsValue::from(l.map_or(-1.0, f64::from));
        crate::wire::named(&[("global", limit(after.global)), ("key", limit(after.key))])
    }

    /// Whether a cap is adaptive (`adaptive` or `per_key_adaptive`): then
    /// finished requests are to be [`report`](RawLimiter::report)ed.
    #[cfg(feature = "adaptive")]
    #[wasm_bindgen(js_name = isAdaptive)]
    pub fn is_adaptive(&self) -> bool {
        self.inner.is_adaptive()
    }

    /// `{ total, key }`: the permits in flight now, in total and for `key`,
    /// read together (what [`report`](RawLimiter::report) wants back from a
    /// request's start).
    #[cfg(feature = "adaptive")]
    #[wasm_bindgen(js_name = inFlightNow)]
    pub fn in_flight_now(&self, key: String) -> js_sys::Array {
        let now = self.inner.in_flight_now(&key);
        crate::wire::named(&[
            ("total", JsValue::from(now.total)),
            ("key", JsValue::from(now.key)),
        ])
    }

    /// Up to `max` keys that have an adaptive per-key controller (see
    /// [`adaptiveStatsOf`](RawLimiter::adaptive_stats_of)).
    #[cfg(feature = "adaptive")]
    #[wasm_bindgen(js_name = adaptiveKeys)]
    pub fn adaptive_keys(&self, max: u32) -> Vec<String> {
        let rows = self.inner.adaptive_key_stats(max as usize);
        rows.into_iter().map(|(k, _)| k).collect()
    }

    /// `{ limit, minRtt, sampleRtt, gradient }` of `key`'s adaptive per-key
    /// controller (RTTs in ms, NaN until measured), or `undefined`.
    #[cfg(feature = "adaptive")]
    #[wasm_bindgen(js_name = adaptiveStatsOf)]
    pub fn adaptive_stats_of(&self, key: String) -> Option<js_sys::Array> {
        self.inner
            .adaptive_stats_of(&key)
            .map(crate::adaptive::stats_named)
    }

    /// `{ limit, minRtt, sampleRtt, gradient }` of the adaptive cap (RTTs
    /// in ms, NaN until measured), or `undefined` without `adaptive`.
    #[cfg(feature = "adaptive")]
    #[wasm_bindgen(js_name = adaptiveStats)]
    pub fn adaptive_stats(&self) -> Option<js_sys::Array> {
        self.inner
            .adaptive_stats()
            .map(crate::adaptive::stats_named)
    }

    /// `{ inFlight, queued, keys, rateKeys, permits, waiting }`: in flight
    /// and queued in the core, keys with concurrency state and with rate
    /// state, permit ids held, waits parked under tickets.
    pub fn stats(&self) -> js_sys::Array {
        let s = self.inner.stats();
        crate::wire::named(&[
            ("inFlight", JsValue::from(s.in_flight as f64)),
            ("queued", JsValue::from(s.queued as f64)),
            ("keys", JsValue::from(s.keys as f64)),
            ("rateKeys", JsValue::from(s.rate_keys as f64)),
            ("permits", JsValue::from(self.permits.read().len() as f64)),
            ("waiting", JsValue::from(self.parked.len() as f64)),
        ])
    }
}

impl RawLimiter {
    fn park(&self, key: String, cost: u32, ticket: u32) -> f64 {
        // Uncontended: admitted as `tryAcquire` would be, with no waiting
        // acquire made (the parked one below starts with the same attempt).
        match with_one_clock_read(|| self.inner.try_acquire_grant(&key, cost)) {
            Ok(grant) => return self.permits.write().insert(grant),
            Err(LimiterError::Busy | LimiterError::RateLimited { .. }) => {}
            Err(e) => return self.refusal(e),
        }
        let job = self.inner.acquire_grant(key, cost);
        match with_one_clock_read(|| self.parked.park(ticket, job)) {
            ParkOutcome::Done(Ok(grant)) => self.permits.write().insert(grant),
            ParkOutcome::Done(Err(e)) => {
                self.last_error.set(Some(limiter_error(e)));
                FAILED
            }
            ParkOutcome::Parked { notified: true } => MUST_WAIT,
            ParkOutcome::Parked { notified: false } => WANTS_NOTIFY,
        }
    }

    fn try_acquire_key(&self, key: &String, cost: u32) -> f64 {
        match with_one_clock_read(|| self.inner.try_acquire_grant(key, cost)) {
            Ok(grant) => self.permits.write().insert(grant),
            Err(e) => self.refusal(e),
        }
    }

    /// What `tryAcquire` answers for a refusal: [`MUST_WAIT`], or [`FAILED`]
    /// with the error kept for `lastError`.
    fn refusal(&self, e: LimiterError) -> f64 {
        match e {
            LimiterError::Busy | LimiterError::RateLimited { .. } => MUST_WAIT,
            e => {
                self.last_error.set(Some(limiter_error(e)));
                FAILED
            }
        }
    }
}

/// The core limiter from `RawLimiter`'s flat constructor arguments: `rate`
/// and `per_key_rate` are `[limit, intervalMs, burst (0 = limit)]` triples;
/// `None` caps are unlimited. Bad options throw a `RangeError`.
fn new_limiter(
    concurrency: Option<u32>,
    per_key: Option<u32>,
    rate: &[f64],
    per_key_rate: &[f64],
    max_queue: Option<u32>,
    [adaptive, per_key_adaptive]: [Option<weir::adaptive::AdaptiveConfig>; 2],
) -> Result<Limiter<String, JsTimer>, JsValue> {
    let config = LimiterConfig {
        concurrency: concurrency.map(|n| n as usize),
        per_key: per_key.map(|n| n as usize),
        rate: quotas_from_triples(rate, "rate")?,
        per_key_rate: quotas_from_triples(per_key_rate, "perKeyRate")?,
        max_queue: max_queue.map(|n| n as usize),
        adaptive,
        per_key_adaptive,
    };
    Limiter::new(config, JsTimer).map_err(|e| range_error(&config_error_text(&e)))
}

/// A core limiter error as the JS exception `RawLimiter` throws:
/// `QueueFullError`, a `RangeError` for a cost no limit can ever admit, else
/// a `LimiterError`.
#[cold]
#[inline(never)]
fn limiter_error(e: LimiterError) -> JsValue {
    // Each text built once, with its `weir: ` prefix (the same texts as the
    // core's `Display`, which would pull `core::fmt` into the wasm).
    match e {
        LimiterError::QueueFull { max } => named_error(
            "QueueFullError",
            &cat(&["weir: queue full (maxQueue = ", &decimal(max as u64), ")"]),
        ),
        LimiterError::TooLarge { requested, limit } => range_error_of(&[
            "weir: cost ",
            &decimal(requested as u64),
            " exceeds the concurrency limit ",
            &decimal(limit as u64),
        ]),
        LimiterError::ExceedsBurst { cost, burst } => range_error_of(&[
            "weir: cost ",
            &decimal(cost.into()),
            " exceeds the rate quota's burst ",
            &decimal(burst.into()),
        ]),
        LimiterError::Busy => named_error("LimiterError", "weir: no concurrency permit is free"),
        LimiterError::RateLimited { not_until } => named_error(
            "LimiterError",
            &cat(&[
                "weir: rate limited until ",
                &decimal(not_until.as_nanos()),
                " ns",
            ]),
        ),
    }
}
