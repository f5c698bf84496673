//! The adaptive cap's values across the boundary: config as a `u32` row,
//! samples as numbers, stats as a `f64` row. The rule itself lives in
//! `weir::adaptive`; this only translates.

#[allow(unused_imports)]
use crate::prelude::*;

use core::time::Duration;

use wasm_bindgen::JsValue;
use weir::adaptive::{AdaptiveConfig, AdaptiveStats, Algorithm, Outcome, Sample};

use crate::errors::range_error;

/// `[min, max, initial, algorithm (0 gradient, 1 AIMD)]`, validated;
/// errors name `<option>.adaptive`.
pub(crate) fn config_from(row: &[u32], option: &str) -> Result<AdaptiveConfig, JsValue> {
    let [min, max, initial, algorithm] = row else {
        return Err(range_error(
            &[option, ".adaptive: expected [min, max, initial, algorithm]"].concat(),
        ));
    };
    let algorithm = match algorithm {
        0 => Algorithm::Gradient,
        1 => Algorithm::Aimd,
        _ => {
            return Err(range_error(
                &[option, ".adaptive.algorithm: must be 'gradient' or 'aimd'"].concat(),
            ))
        }
    };
    Ok(AdaptiveConfig {
        min: *min,
        max: *max,
        initial: *initial,
        algorithm,
    })
}

/// A sample from the JS numbers (`outcome` codes as in `RawLimiter.report`;
/// an unknown code, a NaN or a negative RTT is a cancelled request).
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

/// `[limit, minRttMs, sampleRttMs, gradient]`.
pub(crate) fn stats_row(s: AdaptiveStats) -> Box<[f64]> {
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_nanos() as f64 / 1e6);
    Box::new([
        f64::from(s.limit),
        ms(s.min_rtt),
        ms(s.sample_rtt),
        s.gradient,
    ])
}
