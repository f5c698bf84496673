//! Turning core errors into JS exceptions (`RangeError` for requests that can
//! never succeed, `Error` with a distinct `name` for the rest).

#[allow(unused_imports)]
use crate::prelude::*;

use js_sys::{Error, RangeError};
use wasm_bindgen::JsValue;

/// A `RangeError` with `message`.
pub(crate) fn range_error(message: &str) -> JsValue {
    RangeError::new(message).into()
}

/// A `RangeError` whose message is `parts` joined. Out of line and cold:
/// one copy of the joining instead of one per error site.
#[cold]
#[inline(never)]
pub(crate) fn range_error_of(parts: &[&str]) -> JsValue {
    range_error(&cat(parts))
}

/// `parts` joined. Out of line, and without `[&str]::concat`'s generic
/// join (its length-overflow checks and their panic text).
#[inline(never)]
pub(crate) fn cat(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        out.push_str(part);
    }
    out
}

/// An `Error` whose `name` is `name`.
#[cold]
#[inline(never)]
pub(crate) fn named_error(name: &str, message: &str) -> JsValue {
    let error = Error::new(message);
    error.set_name(name);
    error.into()
}

// Message text without `core::fmt`: `format!`/`Display` would pull the
// formatting machinery (float formatting alone is ~17 KB) into the wasm.

/// The decimal digits of `n`. Out of line: error texts call it up to twice.
#[inline(never)]
pub(crate) fn decimal(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[at..].iter().map(|&d| char::from(d)).collect()
}

/// JS's own text for the number `x` (`0.5`, `NaN`, `-1`).
pub(crate) fn js_number(x: f64) -> String {
    js_sys::Number::from(x)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// The text of an invalid limiter option.
#[cold]
#[inline(never)]
pub(crate) fn config_error_text(e: &weir::ConfigError) -> String {
    cat(&["invalid limiter option `", e.field, "`: ", e.problem])
}

/// The text of an invalid quota.
pub(crate) fn quota_error_text(e: &weir::QuotaError) -> &'static str {
    match e {
        weir::QuotaError::ZeroLimit => "quota limit must be at least 1",
        weir::QuotaError::ZeroInterval => "quota interval must be at least 1 ns",
        weir::QuotaError::ZeroBurst => "quota burst must be at least 1",
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::prelude::*;

    use super::decimal;

    #[test]
    fn decimal_prints_every_digit() {
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (1_000_000_007, "1000000007"),
            (u64::MAX, "18446744073709551615"),
        ] {
            assert_eq!(decimal(n), text);
        }
    }
}
