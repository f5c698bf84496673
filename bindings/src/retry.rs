//! `RawRetry` / `RawRetryPolicy`: [`weir::retry`] for the JS fetch wrapper.
//!
//! The JS layer (`bindings/js/fetch.js`) keeps no retry logic: it reports each
//! request's life to a `RawRetry` and does what `decide` answers — sleep, or
//! pause the key on its limiter.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::Borrow as _;

use core::cell::{Cell, RefCell};
use core::time::Duration;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use weir::retry::{
    parse_retry_after, Attempt, Decision, GiveUpReason, Outcome, PolicyError, RetryController,
    RetryPolicy,
};
use weir::{Clock, Instant};

use crate::errors::{js_number, range_error_of};
use crate::timer::JsTimer;
use crate::wire::{named, strings};

/// `decide` answer codes: retry, or why not (an index into `GIVE_UP`).
const RETRY: f64 = 0.0;
/// Why `decide` gave up, by code (0 is `RETRY`).
const GIVE_UP: &[&str] = &[
    "",
    "not-retryable",
    "method-not-retryable",
    "body-not-replayable",
    "attempts-exhausted",
    "budget-exhausted",
];
/// The fields of each key's record in `snapshot`'s flat array.
const SNAPSHOT: &[&str] = &[
    "key",
    "inFlight",
    "queued",
    "sent",
    "retried",
    "status429",
    "networkErrors",
    "cooldownMs",
    "p50",
    "p95",
    "p99",
];

/// The fetch wrapper's codes and layouts, by name (see `crate::wire`). The
/// retry policy's defaults never cross: `RawRetryPolicy` fills every option
/// JS leaves out from `weir::RetryPolicy::default()`.
#[wasm_bindgen(js_name = retryNames)]
pub fn retry_names() -> Array {
    named(&[
        ("retry", JsValue::from(RETRY)),
        ("giveUp", strings(GIVE_UP).into()),
        ("snapshot", strings(SNAPSHOT).into()),
    ])
}

fn reason_code(reason: GiveUpReason) -> f64 {
    match reason {
        GiveUpReason::NotRetryable => 1.0,
        GiveUpReason::MethodNotRetryable => 2.0,
        GiveUpReason::BodyNotReplayable => 3.0,
        GiveUpReason::AttemptsExhausted => 4.0,
        GiveUpReason::BudgetExhausted => 5.0,
    }
}

fn millis(ms: f64, name: &str) -> Result<Duration, JsValue> {
    if !(ms.is_finite() && ms >= 0.0) {
        return Err(range_error_of(&[
            "option '",
            name,
            "' must be a finite number of milliseconds >= 0, got ",
            &js_number(ms),
        ]));
    }
    Ok(Duration::from_nanos((ms * 1e6) as u64))
}

fn as_ms(d: Duration) -> f64 {
    // u64 nanos (exact: every duration here comes from u64 nanos), not
    // u128: on wasm32 that is a libcall.
    weir::time::duration_nanos(d) as f64 / 1e6
}

/// A validated retry policy (per call or per limiter).
#[wasm_bindgen]
pub struct RawRetryPolicy {
    policy: RetryPolicy,
}

#[wasm_bindgen]
impl RawRetryPolicy {
    /// `attempts` in all; `statuses`; `methods` comma-separated; delays in ms;
    /// the budget (`ratio`, `min` per window, `windowMs`). An option left
    /// `undefined` takes the core's default (`weir::RetryPolicy::default()`).
    /// Throws a `RangeError` naming the option at fault.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        attempts: Option<u32>,
        statuses: Option<Box<[u16]>>,
        methods: Option<String>,
        base_delay_ms: Option<f64>,
        max_delay_ms: Option<f64>,
        budget_ratio: Option<f64>,
        budget_min: Option<u32>,
        budget_window_ms: Option<f64>,
    ) -> Result<RawRetryPolicy, JsValue> {
        let mut policy = RetryPolicy::default();
        if let Some(attempts) = attempts {
            policy.attempts = attempts;
        }
        if let Some(statuses) = statuses {
            policy.statuses = statuses.into_vec();
        }
        if let Some(methods) = methods {
            policy.methods = method_list(&methods);
        }
        if let Some(ms) = base_delay_ms {
            policy.base_delay = millis(ms, "retry.baseDelay")?;
        }
        if let Some(ms) = max_delay_ms {
            policy.max_delay = millis(ms, "retry.maxDelay")?;
        }
        if let Some(ratio) = budget_ratio {
            policy.budget.ratio = ratio;
        }
        if let Some(min) = budget_min {
            policy.budget.min_per_window = min;
        }
        if let Some(ms) = budget_window_ms {
            policy.budget.window = millis(ms, "retry.budget.window")?;
        }
        policy.validate().map_err(|e| policy_error(&e))?;
        Ok(RawRetryPolicy { policy })
    }

    /// The statuses this policy may retry (a `Retry-After` is read only for these).
    pub fn statuses(&self) -> Box<[u16]> {
        self.policy.statuses.clone().into_boxed_slice()
    }
}

/// `"get,,put"` → `["GET", "PUT"]`: split at commas, empty names dropped,
/// ASCII upper-cased. A byte scan rather than `str::split`: no pattern
/// searcher in the wasm (a comma is ASCII, so every cut is a char boundary).
fn method_list(methods: &str) -> Vec<String> {
    let upper = methods.to_ascii_uppercase();
    let mut rest = upper.as_str();
    let mut list = Vec::new();
    loop {
        let end = rest.bytes().position(|b| b == b',').unwrap_or(rest.len());
        let (name, tail) = rest.split_at_checked(end).unwrap_or((rest, ""));
        if !name.is_empty() {
            list.push(String::from(name));
        }
        match tail.get(1..) {
            Some(after_comma) => rest = after_comma,
            None => return list,
        }
    }
}

/// A `RangeError` naming the option at fault. Built by concatenation, not
/// `format!`/`Display`: those would pull `core::fmt` into the wasm.
#[cold]
#[inline(never)]
fn policy_error(e: &PolicyError) -> JsValue {
    range_error_of(&["invalid option 'retry.", js_name(e.field), "': ", e.problem])
}

fn js_name(field: &str) -> &str {
    match field {
        "base_delay" => "baseDelay",
        "max_delay" => "maxDelay",
        "budget.min_per_window" => "budget.min",
        other => other,
    }
}

/// The per-limiter retry state: budgets, cooldowns and figures per key.
#[wasm_bindgen]
pub struct RawRetry {
    inner: RefCell<RetryController<String>>,
    /// `[afterMs, pauseMs]` of the last `decide` that answered "retry".
    last_retry: Cell<(f64, f64)>,
}

#[wasm_bindgen]
impl RawRetry {
    /// A controller whose budget is `policy`'s; jitter seeded with `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(policy: &RawRetryPolicy, seed: f64) -> Result<RawRetry, JsValue> {
        let controller = RetryController::new(policy.policy.clone(), seed as u64)
            .map_err(|e| policy_error(&e))?;
        Ok(RawRetry {
            inner: RefCell::new(controller),
            last_retry: Cell::new((0.0, 0.0)),
        })
    }

    /// Use `policy`'s budget from now on (when it differs).
    #[wasm_bindgen(js_name = useBudget)]
    pub fn use_budget(&self, policy: &RawRetryPolicy) {
        let mut inner = self.inner.write();
        if inner.policy().budget != policy.policy.budget {
            // Validated with the policy.
            let _ = inner.set_budget(policy.policy.budget);
        }
    }

    /// A request for `key` waits for a permit.
    pub fn queued(&self, key: String) {
        self.inner.write().queued(&key, JsTimer.now());
    }

    /// A request for `key` stopped waiting.
    pub fn unqueued(&self, key: String) {
        self.inner.write().unqueued(&key, JsTimer.now());
    }

    /// An attempt goes out (holding a permit); returns its start (ms).
    pub fn sent(&self, key: String, retry: u32) -> f64 {
        let started = self.inner.write().sent(&key, JsTimer.now(), retry);
        started.as_millis_f64()
    }

    /// An attempt of `key` released its permit.
    pub fn done(&self, key: String) {
        self.inner.write().done(&key, JsTimer.now());
    }

    /// How an attempt ended (`status` 0 = network error) and what next: a
    /// code, 0 = retry (then [`retry_after_ms`](RawRetry::retry_after_ms) and
    /// [`pause_ms`](RawRetry::pause_ms) tell when), 1–5 = give up (not
    /// retryable, method, body not replayable, attempts exhausted, budget
    /// exhausted). A number, not an array: nothing to allocate per request.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        policy: &RawRetryPolicy,
        key: String,
        method: &str,
        status: u16,
        retry: u32,
        retry_after: Option<String>,
        replayable: bool,
        started_ms: f64,
    ) -> f64 {
        let now = JsTimer.now();
        let attempt = Attempt {
            method,
            outcome: if status == 0 {
                Outcome::NetworkError
            } else {
                Outcome::Status(status)
            },
            retry,
            // The wall clock is read only for a `Retry-After` (an HTTP date
            // needs it); most answers have none.
            retry_after: retry_after.as_deref().and_then(retry_after_now),
            replayable,
            started: Instant::from_millis_f64(started_ms),
        };
        let decision = self
            .inner
            .write()
            .decide_with(&policy.policy, &key, now, &attempt);
        let pause_ms = decision
            .pause_key_until()
            .map_or(0.0, |until| as_ms(until - now));
        match decision {
            Decision::Retry { after, .. } => {
                self.last_retry.set((as_ms(after), pause_ms));
                RETRY
            }
            Decision::GiveUp { reason, .. } => {
                self.last_retry.set((0.0, pause_ms));
                reason_code(reason)
            }
        }
    }

    /// After a `decide` that answered 0 (retry): wait this many ms first.
    #[wasm_bindgen(js_name = retryAfterMs)]
    pub fn retry_after_ms(&self) -> f64 {
        self.last_retry.get().0
    }

    /// After any `decide`: pause the key this many ms (0 = no pause). A
    /// `Retry-After` pauses the key whether the request is retried or not.
    #[wasm_bindgen(js_name = pauseMs)]
    pub fn pause_ms(&self) -> f64 {
        self.last_retry.get().1
    }

    /// Every resident key's figures: a flat array of records laid out as
    /// `SNAPSHOT` (times in ms; `NaN` when no sample).
    pub fn snapshot(&self) -> Array {
        let now = JsTimer.now();
        let out = Array::new();
        self.inner.read().for_each_stats(now, |key, s| {
            out.push(&JsValue::from_str(key));
            for v in [
                f64::from(s.in_flight),
                f64::from(s.queued),
                s.sent as f64,
                s.retried as f64,
                s.status_429 as f64,
                s.network_errors as f64,
                s.cooldown_until.map_or(0.0, |t| as_ms(t - now)),
                s.p50.map_or(f64::NAN, as_ms),
                s.p95.map_or(f64::NAN, as_ms),
                s.p99.map_or(f64::NAN, as_ms),
            ] {
                out.push(&JsValue::from_f64(v));
            }
        });
        out
    }

    /// Keys resident.
    pub fn keys(&self) -> u32 {
        self.inner.read().len() as u32
    }
}

/// `Retry-After: value` as a delay from now (wall clock for HTTP dates).
#[cold]
#[inline(never)]
fn retry_after_now(value: &str) -> Option<Duration> {
    parse_retry_after(value, (js_sys::Date::now() / 1000.0) as u64)
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::prelude::*;

    use super::method_list;

    #[test]
    fn method_list_splits_upper_cases_and_drops_empty_names() {
        assert_eq!(method_list("get,Put"), ["GET", "PUT"]);
        assert_eq!(method_list(",get,,put,"), ["GET", "PUT"]);
        assert_eq!(method_list(""), Vec::<String>::new());
        assert_eq!(method_list(","), Vec::<String>::new());
        assert_eq!(method_list("pätch,x"), ["PäTCH", "X"]);
    }
}
