//! Quotas as they cross the boundary: flat `[limit, intervalMs, burst, …]`.

#[allow(unused_imports)]
use crate::prelude::*;

use core::time::Duration;

use wasm_bindgen::JsValue;
use weir::Quota;

use crate::errors::{js_number, quota_error_text, range_error_of};

/// Parse `[limit, intervalMs, burst]` triples (`burst` 0 = default) into quotas.
/// `option` names the JS option in error messages.
pub(crate) fn quotas_from_triples(triples: &[f64], option: &str) -> Result<Vec<Quota>, JsValue> {
    if triples.len() % 3 != 0 {
        return Err(range_error_of(&[option, ": malformed quota list"]));
    }
    // A plain loop (not `map(…).collect::<Result<_, _>>()`): no generic
    // short-circuiting adapter in the wasm.
    let mut quotas = Vec::with_capacity(triples.len() / 3);
    for t in triples.chunks_exact(3) {
        quotas.push(quota_from_triple(t[0], t[1], t[2], option)?);
    }
    Ok(quotas)
}

/// One `[limit, intervalMs, burst]` triple.
fn quota_from_triple(
    limit: f64,
    interval_ms: f64,
    burst: f64,
    option: &str,
) -> Result<Quota, JsValue> {
    let limit = whole_u32(limit).ok_or_else(|| {
        bad_number(
            option,
            ".limit must be a whole number in 1..2^32, got ",
            limit,
        )
    })?;
    if !(interval_ms.is_finite() && interval_ms > 0.0) {
        return Err(bad_number(
            option,
            ".interval must be a positive number of milliseconds, got ",
            interval_ms,
        ));
    }
    let interval = Duration::from_nanos(round_to_u64(interval_ms * 1e6).max(1));
    let quota = Quota::new(limit, interval)
        .map_err(|e| range_error_of(&[option, ": ", quota_error_text(&e)]))?;
    if burst == 0.0 {
        return Ok(quota);
    }
    let burst = whole_u32(burst).ok_or_else(|| {
        bad_number(
            option,
            ".burst must be a whole number in 1..2^32, got ",
            burst,
        )
    })?;
    quota
        .with_burst(burst)
        .map_err(|e| range_error_of(&[option, ".burst: ", quota_error_text(&e)]))
}

/// `RangeError("<option><what><x as JS prints it>")`: one out-of-line copy
/// for the three number checks.
#[cold]
#[inline(never)]
fn bad_number(option: &str, what: &str, x: f64) -> JsValue {
    range_error_of(&[option, what, &js_number(x)])
}

fn whole_u32(x: f64) -> Option<u32> {
    // `x as u32 == x`: a whole number (`f64::fract` is not in `core`).
    (x >= 1.0 && x <= f64::from(u32::MAX) && f64::from(x as u32) == x).then_some(x as u32)
}

/// `x.round() as u64` for `x > 0` (`f64::round` is not in `core`): half away
/// from zero, saturating. `x - trunc(x)` is exact in binary floating point.
fn round_to_u64(x: f64) -> u64 {
    let whole = x as u64;
    if x - whole as f64 >= 0.5 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::{round_to_u64, whole_u32};

    #[test]
    fn round_to_u64_matches_f64_round() {
        for x in [
            0.4,
            0.5,
            1.0,
            1.49,
            1.5,
            2.5,
            999_999.5,
            1e6,
            0.49999999999999994,
            4503599627370495.5,
        ] {
            assert_eq!(round_to_u64(x), x.round() as u64, "{x}");
        }
        assert_eq!(round_to_u64(1e300), u64::MAX);
        assert_eq!(round_to_u64(f64::INFINITY), u64::MAX);
    }

    #[test]
    fn whole_u32_accepts_whole_numbers_in_range() {
        assert_eq!(whole_u32(1.0), Some(1));
        assert_eq!(whole_u32(4294967295.0), Some(u32::MAX));
        assert_eq!(whole_u32(1.5), None);
        assert_eq!(whole_u32(0.0), None);
        assert_eq!(whole_u32(4294967296.0), None);
        assert_eq!(whole_u32(f64::NAN), None);
    }
}
