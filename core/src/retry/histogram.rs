//! [`LatencyHistogram`]: fixed log buckets, constant memory, percentiles.

use core::time::Duration;

/// Sub-buckets per power of two (relative error ≤ 1/(2·SUB) at the midpoint).
const SUB: u64 = 4;
const SUB_BITS: u32 = 2;
/// Largest octave tracked (values are microseconds; 2³² µs ≈ 71 minutes).
const MAX_OCTAVE: u32 = 31;
/// Bucket count: values `0..SUB` exactly, `SUB` per octave, one overflow.
pub const HISTOGRAM_BUCKETS: usize = (SUB + (MAX_OCTAVE - SUB_BITS) as u64 * SUB + 1) as usize;

/// A latency histogram with fixed logarithmic buckets (4 per power of two of
/// microseconds, up to ~71 minutes; longer latencies land in the last
/// bucket). Memory is constant (~0.5 KiB); percentiles are within 12.5 % of
/// the true value.
///
/// ```
/// use core::time::Duration;
/// use weir::retry::LatencyHistogram;
/// let mut h = LatencyHistogram::new();
/// for ms in 1..=100 { h.record(Duration::from_millis(ms)); }
/// let p50 = h.percentile(50.0).unwrap().as_secs_f64() * 1e3;
/// assert!((44.0..=57.0).contains(&p50), "{p50}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: [u32; HISTOGRAM_BUCKETS],
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        LatencyHistogram {
            counts: [0; HISTOGRAM_BUCKETS],
            total: 0,
        }
    }

    /// Counts one latency.
    pub fn record(&mut self, latency: Duration) {
        // Whole µs, in u64 (not `as_micros`' u128). Past u64::MAX ns both land
        // in the last bucket.
        let micros = crate::time::duration_nanos(latency) / 1_000;
        let i = bucket_of(micros);
        if self.counts[i] == u32::MAX {
            // Saturated: halve everything, keeping the shape (recent-biased).
            for c in &mut self.counts {
                *c /= 2;
            }
            self.total = self.counts.iter().map(|c| u64::from(*c)).sum();
        }
        self.counts[i] += 1;
        self.total += 1;
    }

    /// Latencies counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `p`-th percentile (`0.0..=100.0`, clamped) as the midpoint of its
    /// bucket; `None` when empty. Out of line: stats ask for three at once.
    #[inline(never)]
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let p = if p.is_nan() {
            100.0
        } else {
            p.clamp(0.0, 100.0)
        };
        // Rank of the wanted sample, 1-based (nearest-rank method).
        let rank = ((p / 100.0) * self.total as f64 + 0.999_999_999) as u64;
        let rank = rank.clamp(1, self.total);
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                return Some(Duration::from_micros(midpoint_of(i)));
            }
        }
        None
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

fn bucket_of(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let octave = (63 - micros.leading_zeros()).min(MAX_OCTAVE);
    if octave == MAX_OCTAVE {
        return HISTOGRAM_BUCKETS - 1;
    }
    let sub = (micros >> (octave - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(octave - SUB_BITS) * SUB + sub) as usize
}

/// Lower bound and width of bucket `i`, in microseconds.
fn bounds_of(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, 1);
    }
    let octave = (i - SUB) / SUB + u64::from(SUB_BITS);
    let sub = (i - SUB) % SUB;
    let width = 1u64 << (octave - u64::from(SUB_BITS));
    ((SUB + sub) * width, width)
}

fn midpoint_of(i: usize) -> u64 {
    let (low, width) = bounds_of(i);
    low + width / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_contain_their_values() {
        for v in (0..100_000u64).chain([1 << 20, (1 << 31) - 1, 1 << 30 | 12345]) {
            let (low, width) = bounds_of(bucket_of(v));
            assert!(low <= v && v < low + width, "{v} not in [{low}, +{width})");
        }
        assert_eq!(bucket_of(u64::MAX), HISTOGRAM_BUCKETS - 1);
        assert_eq!(bucket_of((1 << 31) - 1), HISTOGRAM_BUCKETS - 2);
        assert_eq!(bucket_of(1 << 31), HISTOGRAM_BUCKETS - 1);
    }
}
