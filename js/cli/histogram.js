// Latency percentiles in bounded memory: a log-scale histogram (about 1%
// relative error) instead of a list of every latency.

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const MIN_MS = 0.01;
const BUCKETS = Math.ceil(Math.log(1e8 / MIN_MS) / LOG_GROWTH) + 1;

/** Latencies in ms; `percentile(p)`, `mean`, `count`, `max`. */
export class Histogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** Record one latency in ms. */
  record(ms) {
    const v = Math.max(ms, MIN_MS);
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(v / MIN_MS) / LOG_GROWTH));
    this.counts[i] += 1;
    this.count += 1;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** The mean latency (ms), or 0. */
  get mean() {
    return this.count ? this.sum / this.count : 0;
  }

  /** The `p`-th percentile (0 < p ≤ 100) in ms, or 0 when empty. */
  percentile(p) {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, MIN_MS * GROWTH ** (i + 0.5));
    }
    return this.max;
  }
}
