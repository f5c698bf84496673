//! The server-side guard's methods of [`RawLimiter`]: admit a request now or
//! say exactly why not, with the key's rate figures for the `RateLimit-*` and
//! `Retry-After` headers, in one call. Waiting (the guard's bounded queue),
//! release and stats are `RawLimiter`'s own, at cost 1.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::Borrow as _;

use wasm_bindgen::prelude::*;
use weir::limiter::RateStatus;
use weir::{Clock, LimiterError};

use crate::limiter::RawLimiter;
use crate::timer::with_one_clock_read;

/// `admit` answer: over the concurrency caps (ids are ≥ 1, rate denials < 0).
const BUSY: f64 = 0.0;

#[wasm_bindgen]
impl RawLimiter {
    /// Admit one request for `key` now, never waiting. Returns a permit id
    /// (≥ 1); [`BUSY`] (0) when the concurrency caps are full; or, when a
    /// rate quota denies it, minus the exact nanoseconds until it would pass
    /// (≤ −1). When the limiter has rate quotas, `figures` receives the key's
    /// figures after the decision, laid out as for [`RawLimiter::status`].
    pub fn admit(&self, key: String, figures: &mut [f64]) -> f64 {
        if !self.has_quotas() {
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
