//! The server-side guard's methods of [`RawLimiter`]: admit a request now, or
//! say whether it is worth a bounded wait or shed now (the core's rule,
//! [`weir::guard`]), with the `Retry-After` seconds and the key's rate figures
//! for the `RateLimit-*` headers, in one call. Waiting (the guard's bounded
//! queue), release and stats are `RawLimiter`'s own, at cost 1.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::Borrow as _;

use core::time::Duration;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use weir::guard::{GuardPolicy, Shed, ShedReason, Verdict};
use weir::limiter::RateStatus;
use weir::Clock;

use crate::limiter::RawLimiter;
use crate::timer::with_one_clock_read;
use crate::wire::{named, strings};

/// `admit` answer: worth a bounded wait (permit ids are ≥ 1).
const WAIT: f64 = 0.0;
/// `admit` / `afterWait` answer: shed now; the figures say why and when.
const SHED: f64 = -1.0;

/// The layout of the figures `admit`, `afterWait` and `status` fill: the
/// key's rate figures (with quotas) and a shed request's reason (an index
/// into `REASONS`) and `Retry-After` seconds.
const FIGURES: &[&str] = &[
    "limit",
    "remaining",
    "resetNs",
    "retryNs",
    "intervalMs",
    "reason",
    "retryAfter",
];
const REASON: usize = 5;
const RETRY_AFTER: usize = 6;
/// Why a request was shed, by the index `figures[reason]` holds.
const REASONS: &[&str] = &["concurrency", "rate"];

/// The guard's codes and figure layout, by name (see `crate::wire`).
#[wasm_bindgen(js_name = guardNames)]
pub fn guard_names() -> Array {
    named(&[
        ("wait", JsValue::from(WAIT)),
        ("shed", JsValue::from(SHED)),
        ("figures", strings(FIGURES).into()),
        ("reasons", strings(REASONS).into()),
    ])
}

#[wasm_bindgen]
impl RawLimiter {
    /// The guard's rule for denied requests: wait up to `max_wait_ms`
    /// (`undefined`: never) and tell a request shed at the in-flight caps to
    /// come back after `busy_retry_after_ms`.
    #[wasm_bindgen(js_name = setGuard)]
    pub fn set_guard(&self, max_wait_ms: Option<f64>, busy_retry_after_ms: f64) {
        let ms = |v: f64| Duration::from_nanos((v.max(0.0) * 1e6) as u64);
        self.guard.set(GuardPolicy::new(
            max_wait_ms.map(ms),
            ms(busy_retry_after_ms),
        ));
    }

    /// Admit one request for `key` now, never waiting. Returns a permit id
    /// (≥ 1), `WAIT` when the guard's rule says a bounded wait can admit it,
    /// or `SHED` with `figures[reason]` and `figures[retryAfter]` filled.
    /// With rate quotas, `figures` also receives the key's rate figures
    /// after the decision.
    pub fn admit(&self, key: String, figures: &mut [f64]) -> f64 {
        // One host clock read for the decision and the figures.
        with_one_clock_read(|| {
            let answer = match self.inner.try_acquire_grant(&key, 1) {
                Ok(grant) => self.permits.write().insert(grant),
                Err(denial) => match self.guard.get().on_denial(denial, self.inner.timer().now()) {
                    Verdict::Wait => WAIT,
                    Verdict::Shed(shed) => write_shed(shed, figures),
                },
            };
            if self.has_quotas() {
                self.fill(&key, figures);
            }
            answer
        })
    }

    /// After a wait that gave no permit (timed out, or the queue was full):
    /// the shed answer as the key stands now (`SHED`, figures filled).
    #[wasm_bindgen(js_name = afterWait)]
    pub fn after_wait(&self, key: String, figures: &mut [f64]) -> f64 {
        with_one_clock_read(|| {
            let rate_wait = self
                .inner
                .rate_status(&key)
                .map(|status| status.retry_after);
            self.fill(&key, figures);
            write_shed(self.guard.get().after_wait(rate_wait), figures)
        })
    }

    /// Fill the rate figures of `figures` (`limit` … `intervalMs`) for `key`
    /// now; returns `false` (leaving them alone) without quotas.
    pub fn status(&self, key: &str, figures: &mut [f64]) -> bool {
        self.fill(&String::from(key), figures)
    }

    /// Forget idle rate keys now (see `weir::Limiter::evict_idle`).
    #[wasm_bindgen(js_name = evictIdle)]
    pub fn evict_idle(&self) {
        self.inner.evict_idle();
    }
}

impl RawLimiter {
    /// Whether any rate quota is set (else there are no figures to give).
    fn has_quotas(&self) -> bool {
        !(self.inner.rate_quotas().is_empty() && self.inner.per_key_rate_quotas().is_empty())
    }

    fn fill(&self, key: &String, figures: &mut [f64]) -> bool {
        let Some(status) = self.inner.rate_status(key) else {
            return false;
        };
        write_figures(&status, figures);
        true
    }
}

/// A shed answer into `figures`; returns `SHED`.
fn write_shed(shed: Shed, figures: &mut [f64]) -> f64 {
    if let Some(slot) = figures.get_mut(REASON) {
        *slot = match shed.reason {
            ShedReason::Concurrency => 0.0,
            ShedReason::Rate => 1.0,
        };
    }
    if let Some(slot) = figures.get_mut(RETRY_AFTER) {
        *slot = shed.retry_after_secs as f64;
    }
    SHED
}

/// The rate figures (`limit` … `intervalMs` of `FIGURES`) into `out` (as far as it goes).
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
