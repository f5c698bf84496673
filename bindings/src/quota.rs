//! Quotas as they cross the boundary: flat `[limit, intervalMs, burst, …]`.

use core::time::Duration;

use wasm_bindgen::JsValue;
use weir::Quota;

use crate::errors::{js_number, quota_error_text, range_error};

/// Parse `[limit, intervalMs, burst]` triples (`burst` 0 = default) into quotas.
/// `option` names the JS option in error messages.
pub(crate) fn quotas_from_triples(triples: &[f64], option: &str) -> Result<Vec<Quota>, JsValue> {
    if triples.len() % 3 != 0 {
        return Err(range_error(&[option, ": malformed quota list"].concat()));
    }
    triples
        .chunks_exact(3)
        .map(|t| {
            let (limit, interval_ms, burst) = (t[0], t[1], t[2]);
            let limit = whole_u32(limit).ok_or_else(|| {
                range_error(
                    &[
                        option,
                        ".limit must be a whole number in 1..2^32, got ",
                        &js_number(limit),
                    ]
                    .concat(),
                )
            })?;
            if !(interval_ms.is_finite() && interval_ms > 0.0) {
                return Err(range_error(
                    &[
                        option,
                        ".interval must be a positive number of milliseconds, got ",
                        &js_number(interval_ms),
                    ]
                    .concat(),
                ));
            }
            let interval = Duration::from_nanos((interval_ms * 1e6).round().max(1.0) as u64);
            let quota = Quota::new(limit, interval)
                .map_err(|e| range_error(&[option, ": ", quota_error_text(&e)].concat()))?;
            if burst == 0.0 {
                return Ok(quota);
            }
            let burst = whole_u32(burst).ok_or_else(|| {
                range_error(
                    &[
                        option,
                        ".burst must be a whole number in 1..2^32, got ",
                        &js_number(burst),
                    ]
                    .concat(),
                )
            })?;
            quota
                .with_burst(burst)
                .map_err(|e| range_error(&[option, ".burst: ", quota_error_text(&e)].concat()))
        })
        .collect()
}

fn whole_u32(x: f64) -> Option<u32> {
    (x >= 1.0 && x <= f64::from(u32::MAX) && x.fract() == 0.0).then_some(x as u32)
}
