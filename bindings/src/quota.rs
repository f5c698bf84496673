//! Quotas as they cross the boundary: flat `[limit, intervalMs, burst, …]`.

use core::time::Duration;

use wasm_bindgen::JsValue;
use weir::Quota;

use crate::errors::range_error;

/// Parse `[limit, intervalMs, burst]` triples (`burst` 0 = default) into quotas.
/// `option` names the JS option in error messages.
pub(crate) fn quotas_from_triples(triples: &[f64], option: &str) -> Result<Vec<Quota>, JsValue> {
    if triples.len() % 3 != 0 {
        return Err(range_error(&format!("{option}: malformed quota list")));
    }
    triples
        .chunks_exact(3)
        .map(|t| {
            let (limit, interval_ms, burst) = (t[0], t[1], t[2]);
            let limit = whole_u32(limit).ok_or_else(|| range_error(&format!("{option}.limit must be a whole number in 1..2^32, got {limit}")))?;
            if !(interval_ms.is_finite() && interval_ms > 0.0) {
                return Err(range_error(&format!("{option}.interval must be a positive number of milliseconds, got {interval_ms}")));
            }
            let interval = Duration::from_nanos((interval_ms * 1e6).round().max(1.0) as u64);
            let quota = Quota::new(limit, interval).map_err(|e| range_error(&format!("{option}: {e}")))?;
            if burst == 0.0 {
                return Ok(quota);
            }
            let burst = whole_u32(burst).ok_or_else(|| range_error(&format!("{option}.burst must be a whole number in 1..2^32, got {burst}")))?;
            quota.with_burst(burst).map_err(|e| range_error(&format!("{option}.burst: {e}")))
        })
        .collect()
}

fn whole_u32(x: f64) -> Option<u32> {
    (x >= 1.0 && x <= f64::from(u32::MAX) && x.fract() == 0.0).then_some(x as u32)
}
