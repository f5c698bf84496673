//! The adaptive cap's values across the boundary: the config row the
//! constructor takes (its layout, the algorithms and the outcome codes are
//! named here and handed to JS by `adaptiveNames()`), samples as numbers,
//! stats as named values. The rule itself, and its defaults, live in
//! `weir::adaptive`; this only translates.

#[allow(unused_imports)]
use crate::prelude::*;

use core::time::Duration;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use weir::adaptive::{AdaptiveConfig, AdaptiveStats, Algorithm, Outcome, Sample};

use crate::errors::range_error;
use crate::wire::{named, strings};

/// The layout of the config row: a field JS leaves out is `NaN` and takes
/// [`AdaptiveConfig::default`]'s value (`initial` clamped into `min..=max`).
const CONFIG: [&str; 4] = ["min", "max", "initial", "algorithm"];
/// `algorithm` codes, by index.
const ALGORITHMS: [&str; 2] = ["gradient", "aimd"];
/// `RawLimiter.report`'s outcome codes, by index.
const OUTCOMES: [&str; 6] = ["ok", "dropped", "429", "503", "timeout", "cancelled"];

/// `{ config, algorithms, outcomes }`: the config row's layout, the
/// algorithm names (code = index) and the outcome names (code = index).
#[wasm_bindgen(js_name = adaptiveNames)]
pub fn adaptive_names() -> Array {
    named(&[
        ("config", strings(&CONFIG).into()),
        ("algorithms", strings(&ALGORITHMS).into()),
        ("outcomes", strings(&OUTCOMES).into()),
    ])
}

/// The config from its row (see [`CONFIG`]) for the option `option`
/// (`concurrency` or `perKey`, which errors name); JS has checked each
/// given field is a whole number, the core checks their order.
pub(crate) fn config_from(row: &[f64], option: &str) -> Result<AdaptiveConfig, JsValue> {
    let [min, max, initial, algorithm] = row else {
        return Err(range_error(
            &[option, ".adaptive: expected [min, max, initial, algorithm]"].concat(),
        ));
    };
    let defaults = AdaptiveConfig::default();
    let given = |value: f64, default: u32| {
        if value.is_nan() {
            default
        } else {
            value as u32
        }
    };
    let min = given(*min, defaults.min);
    let max = given(*max, defaults.max);
    let initial = given(*initial, defaults.initial.clamp(min, max.max(min)));
    let algorithm = match given(*algorithm, 0) {
        0 => Algorithm::Gradient,
        1 => Algorithm::Aimd,
        _ => {
            return Err(range_error(
                &[option, ".adaptive.algorithm: must be 'gradient' or 'aimd'"].concat(),
            ))
        }
    };
    Ok(AdaptiveConfig {
        min,
        max,
        initial,
        algorithm,
    })
}

/// A sample from the JS numbers (`outcome` codes as in [`OUTCOMES`]; an
/// unknown code, a NaN or a negative RTT is a cancelled request).
pub(crate) fn sample(rtt_ms: f64, in_flight: u32, outcome: u8) -> Sample {
    let outcome = match outcome {
        0 => Outcome::Ok,
        1 => Outcome::Dropped,
        2 => Outcome::TooManyRequests,
        3 => Outcome::Unavailable,
        4 => Outcome::Timeout,
        _ => Outcome::Cancelled,
    };
    let valid = (0.0..1e15).contains(&rtt_ms);
    Sample {
        rtt: Duration::from_nanos(if valid { (rtt_ms * 1e6) as u64 } else { 0 }),
        in_flight,
        outcome: if valid { outcome } else { Outcome::Cancelled },
    }
}

/// `{ limit, minRtt, sampleRtt, gradient }` (RTTs in ms, NaN until measured).
pub(crate) fn stats_named(s: AdaptiveStats) -> Array {
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_nanos() as f64 / 1e6);
    named(&[
        ("limit", JsValue::from(f64::from(s.limit))),
        ("minRtt", JsValue::from(ms(s.min_rtt))),
        ("sampleRtt", JsValue::from(ms(s.sample_rtt))),
        ("gradient", JsValue::from(s.gradient)),
    ])
}
