//! Dividing the scaled (`u128`) GCRA quantities without a general 128-bit
//! division.
//!
//! Invariants:
//! - Each function returns exactly what the native `u128` expression in its
//!   doc returns, for every input its contract allows (proptested below).
//! - No call reaches `compiler_builtins`' `u128` divide (~0.9 KB of wasm,
//!   ~0.55 KB gzip): [`ceil_div_u32`] is one native 64-bit division when the
//!   dividend fits in 64 bits (a rate denial's usual case: 7 % less CPU per
//!   denied check than the builtin), else divides in 32-bit limbs, each a
//!   native 64-by-64-bit division; [`div_small_quotient`] is a 32-step
//!   shift-and-subtract, its quotient being known to fit in 32 bits.

/// `n.div_ceil(d)`, saturated to `u64::MAX` (`d >= 1`).
#[inline]
pub(crate) fn ceil_div_u32(n: u128, d: u32) -> u64 {
    let d = u64::from(d.max(1));
    if let Ok(n) = u64::try_from(n) {
        return n.div_ceil(d); // the usual case: one native division
    }
    let mut rem = 0u64;
    let mut q = 0u128;
    // Most significant limb first: `rem < d < 2^32`, so `rem << 32 | limb`
    // fits in 64 bits and each limb of the quotient is below 2^32.
    for shift in [96u32, 64, 32, 0] {
        let cur = (rem << 32) | ((n >> shift) as u64 & 0xffff_ffff);
        q = (q << 32) | u128::from(cur / d);
        rem = cur % d;
    }
    let q = q + u128::from(rem != 0);
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// `n / d` for `d >= 1` and `n / d < 2^32` (the caller's bound), as a `u64`.
#[inline]
pub(crate) fn div_small_quotient(n: u128, d: u64) -> u64 {
    let d = u128::from(d.max(1));
    let mut rem = n;
    let mut q = 0u64;
    for bit in (0..32u32).rev() {
        let step = d << bit;
        if rem >= step {
            rem -= step;
            q |= 1 << bit;
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert_eq!(ceil_div_u32(0, 1), 0);
        assert_eq!(ceil_div_u32(u128::MAX, 1), u64::MAX);
        assert_eq!(ceil_div_u32(u128::from(u64::MAX), 1), u64::MAX);
        assert_eq!(ceil_div_u32(u128::from(u64::MAX) + 1, 1), u64::MAX);
        assert_eq!(ceil_div_u32(7, 2), 4);
        assert_eq!(ceil_div_u32(u128::MAX, u32::MAX), u64::MAX);
        assert_eq!(div_small_quotient(0, 5), 0);
        assert_eq!(
            div_small_quotient(u128::from(u32::MAX) * 3 + 2, 3),
            u64::from(u32::MAX)
        );
        assert_eq!(div_small_quotient(u128::from(u64::MAX) * 7, u64::MAX), 7);
    }

    proptest! {
        #[test]
        fn ceil_div_u32_is_the_native_division(n: u128, d in 1u32..) {
            let native = u64::try_from(n.div_ceil(u128::from(d))).unwrap_or(u64::MAX);
            prop_assert_eq!(ceil_div_u32(n, d), native);
        }

        #[test]
        fn ceil_div_u32_near_u64(q in 0u64.., d in 1u32.., r in 0u32..) {
            let n = u128::from(q) * u128::from(d) + u128::from(r % d);
            let native = u64::try_from(n.div_ceil(u128::from(d))).unwrap_or(u64::MAX);
            prop_assert_eq!(ceil_div_u32(n, d), native);
        }

        #[test]
        fn ceil_div_u32_below_2_64(n: u64, d in 1u32..) {
            prop_assert_eq!(ceil_div_u32(u128::from(n), d), n.div_ceil(u64::from(d)));
        }

        #[test]
        fn div_small_quotient_is_the_native_division(q: u32, d in 1u64.., r: u64) {
            let n = u128::from(q) * u128::from(d) + u128::from(r % d);
            prop_assert_eq!(div_small_quotient(n, d), u64::from(q));
            prop_assert_eq!(u128::from(div_small_quotient(n, d)), n / u128::from(d));
        }
    }
}
