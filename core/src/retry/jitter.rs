//! Exponential back-off with full jitter, over a small seeded PRNG.

use core::time::Duration;

use crate::time::duration_nanos;

/// SplitMix64: a tiny, fast, seedable PRNG (not for secrets). Seeded by the
/// caller so that back-off sequences are reproducible in tests.
///
/// ```
/// use weir::retry::SplitMix64;
/// let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (multiply-shift; bias below 2⁻⁶⁴·max).
    pub fn below_or_eq(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        ((u128::from(self.next_u64()) * (u128::from(max) + 1)) >> 64) as u64
    }
}

/// The cap of retry `retry` (from 0): `min(max_delay, base · 2^retry)`.
///
/// ```
/// use core::time::Duration;
/// use weir::retry::backoff_ceiling;
/// let (base, max) = (Duration::from_millis(100), Duration::from_secs(1));
/// assert_eq!(backoff_ceiling(base, max, 0), Duration::from_millis(100));
/// assert_eq!(backoff_ceiling(base, max, 3), Duration::from_millis(800));
/// assert_eq!(backoff_ceiling(base, max, 40), max);
/// ```
pub fn backoff_ceiling(base: Duration, max_delay: Duration, retry: u32) -> Duration {
    let base_ns = duration_nanos(base);
    let grown = if retry >= 64 {
        u64::MAX
    } else {
        base_ns.saturating_mul(1u64 << retry)
    };
    Duration::from_nanos(grown.min(duration_nanos(max_delay)))
}

/// Full-jitter back-off for retry `retry` (from 0): uniform in
/// `0..=min(max_delay, base · 2^retry)`, drawn from `rng`.
///
/// ```
/// use core::time::Duration;
/// use weir::retry::{full_jitter, SplitMix64};
/// let mut rng = SplitMix64::new(1);
/// let d = full_jitter(Duration::from_millis(100), Duration::from_secs(1), 2, &mut rng);
/// assert!(d <= Duration::from_millis(400));
/// ```
pub fn full_jitter(
    base: Duration,
    max_delay: Duration,
    retry: u32,
    rng: &mut SplitMix64,
) -> Duration {
    let ceiling = duration_nanos(backoff_ceiling(base, max_delay, retry));
    Duration::from_nanos(rng.below_or_eq(ceiling))
}
