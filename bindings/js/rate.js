// `RateLimiter`: GCRA token buckets per key (`limit` per `interval` ms,
// bursts of `burst`), optionally with quotas shared by all keys.
//
// Guarantees: a fresh bucket is full; `check` never waits and a denial
// consumes nothing; `acquire` waits FIFO per key and an aborted wait
// consumes nothing.
import { RawLimiter, FAILED, lastError, statsOf } from './boundary.js';
import { options, keyOf, signalOf, pauseMs, optionChecks } from './options.js';
import { parkingFor, parkForPermit } from './parking.js';
import { abortReason } from './abort-reason.js';

const { whole, duration, quotas } = optionChecks('');

/** GCRA token buckets per key (`limit` per `interval` ms, bursts of `burst`). */
export class RateLimiter {
  #raw;
  #parking;

  constructor(opts) {
    const o = options(opts, 'RateLimiter', ['limit', 'interval', 'burst', 'global']);
    if (o.limit === undefined && o.interval === undefined && o.global === undefined) {
      throw new TypeError("RateLimiter: options 'limit' and 'interval' are required");
    }
    const perKey = new Float64Array(o.limit === undefined && o.interval === undefined ? 0 : 3);
    if (perKey.length) {
      perKey[0] = whole(o.limit, 'limit');
      perKey[1] = duration(o.interval, 'interval');
      perKey[2] = o.burst === undefined ? 0 : whole(o.burst, 'burst');
    } else if (o.burst !== undefined) {
      throw new TypeError("RateLimiter: option 'burst' needs 'limit' and 'interval'");
    }
    this.#raw = new RawLimiter(undefined, undefined, quotas(o.global, 'global'), perKey, undefined);
    this.#parking = parkingFor(this.#raw);
  }

  /** Admit `cost` for `key` now? `{ ok, retryAfterMs }`; a denial consumes nothing. */
  check(key, cost = 1) {
    const retryAfterMs = this.#raw.check(keyOf(key), whole(cost, 'cost'));
    if (retryAfterMs === FAILED) throw lastError(this.#raw);
    return { ok: retryAfterMs === 0, retryAfterMs };
  }

  /** Wait (FIFO per key) until `cost` is admitted for `key`. */
  async acquire(key, cost = 1, opts) {
    const o = options(opts, 'acquire', ['signal']);
    const signal = signalOf(o.signal);
    const k = keyOf(key);
    const c = whole(cost, 'cost');
    if (signal?.aborted) throw abortReason(signal);
    const raw = this.#raw;
    const wait = raw.check(k, c);
    if (wait === 0) return;
    if (wait === FAILED) throw lastError(raw);
    // Admitted work holds nothing here (no concurrency caps): the permit
    // goes straight back.
    raw.release(await parkForPermit(this.#parking, k, c, signal));
  }

  /** Hold every acquire for `key` for `ms` milliseconds (e.g. `Retry-After`). */
  pause(key, ms) {
    this.#raw.pauseFor(keyOf(key), pauseMs(ms));
  }

  /** `{ keys }`: keys with state now. */
  stats() {
    return { keys: statsOf(this.#raw).rateKeys };
  }
}
