// The store's counters and mode (`stats().store`), fed with every call's
// outcome — the JS twin of integrations/redis/src/health.rs.
//
// Invariants: mode is 'degraded' from a failed call until one succeeds, each
// switch back is counted; while degraded, at most one call per probe
// interval goes to the server (the others fail at once with the last error,
// so the failure policy acts without waiting out a timeout each time).

const WINDOW = 1024;

export class Health {
  roundTrips = 0;
  errors = 0;
  lastError = undefined;
  mode = 'ok';
  recoveries = 0;
  #latencies = [];
  #next = 0;
  #lastProbe = -Infinity;

  success(ms) {
    this.roundTrips++;
    if (this.#latencies.length < WINDOW) this.#latencies.push(ms);
    else this.#latencies[this.#next] = ms;
    this.#next = (this.#next + 1) % WINDOW;
    if (this.mode === 'degraded') {
      this.mode = 'ok';
      this.recoveries++;
    }
  }

  failure(error, now) {
    this.roundTrips++;
    this.errors++;
    this.lastError = error;
    this.mode = 'degraded';
    this.#lastProbe = now;
  }

  /** The last error when a call must not go out now, else undefined. */
  refuse(now, probeEveryMs) {
    if (this.mode === 'ok') return undefined;
    if (now - this.#lastProbe < probeEveryMs) return this.lastError;
    this.#lastProbe = now;
    return undefined;
  }

  snapshot() {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    const p99 = sorted.length === 0 ? 0 : sorted[Math.ceil(sorted.length * 0.99) - 1];
    return {
      roundTrips: this.roundTrips,
      errors: this.errors,
      lastError: this.lastError,
      latencyP99Ms: p99,
      mode: this.mode,
      recoveries: this.recoveries,
    };
  }
}
