//! Latency percentiles in bounded memory: a log-scale histogram with ~1 %
//! relative error (the same buckets as js/cli/histogram.js).
//!
//! Invariants: a fixed number of buckets whatever the count; `percentile`
//! never exceeds the largest value recorded.

const GROWTH: f64 = 1.02;
const MIN_MS: f64 = 0.01;

/// Latencies in milliseconds.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    /// Values recorded.
    pub count: u64,
    sum: f64,
    max: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        let buckets = ((1e8 / MIN_MS).ln() / GROWTH.ln()).ceil() as usize + 1;
        Histogram {
            counts: vec![0; buckets],
            count: 0,
            sum: 0.0,
            max: 0.0,
        }
    }
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, ms: f64) {
        let v = ms.max(MIN_MS);
        let i = ((v / MIN_MS).ln() / GROWTH.ln()).floor() as usize;
        let last = self.counts.len() - 1;
        self.counts[i.min(last)] += 1;
        self.count += 1;
        self.sum += ms;
        if ms > self.max {
            self.max = ms;
        }
    }

    /// The mean, or 0.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The `p`-th percentile (0 < p ≤ 100), or 0 when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil() as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return self.max.min(MIN_MS * GROWTH.powf(i as f64 + 0.5));
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_within_two_percent() {
        let mut h = Histogram::default();
        for i in 1..=10_000 {
            h.record(f64::from(i) / 10.0);
        }
        for (p, want) in [(50.0, 500.0), (95.0, 950.0), (99.0, 990.0)] {
            let got = h.percentile(p);
            assert!((got - want).abs() / want < 0.02, "p{p} = {got}");
        }
        assert!((h.mean() - 500.05).abs() < 1e-6);
        assert_eq!(Histogram::default().percentile(50.0), 0.0);
    }
}
