//! A tiny shared xorshift64* generator for backoff jitter (not for secrets).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub(crate) struct Rng(AtomicU64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // xorshift must not start at 0.
        Self(AtomicU64::new(seed | 1))
    }

    /// A seed that differs between middlewares and runs.
    pub(crate) fn seeded() -> Self {
        static CREATED: AtomicU64 = AtomicU64::new(0);
        let nth = CREATED.fetch_add(1, Ordering::Relaxed);
        let local = 0u8;
        let here = &local as *const u8 as usize as u64;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self::new(nanos ^ here.rotate_left(32) ^ nth.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub(crate) fn next_u64(&self) -> u64 {
        let step = |mut x: u64| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x
        };
        let prev = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
            .unwrap_or(1);
        step(prev).wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..=max` (modulo bias is irrelevant for jitter).
    pub(crate) fn below_inclusive(&self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}
