// `Limiter`: concurrency caps (global and per key), rate quotas (global and
// per key) and a bounded queue, enforced together by the Rust core.
//
// Guarantees: every decision is the core's (one wasm call to admit, one to
// release on the uncontended path, no Promise of its own; a `run` that must
// wait parks in that same call); bad options throw
// at construction naming the option; an aborted wait leaves the queue at
// once; a permit is held until the work settles.
import { RawLimiter, MUST_WAIT, FAILED, lastError, statsOf } from './boundary.js';
import { options, keyOf, signalOf, pauseMs, optionChecks } from './options.js';
import { parkingFor, parkToRun, limiterPermit } from './parking.js';
import { releaser, runHolding } from './permit.js';
import { pullAsCompleted } from './as-completed.js';
import { limitedFetch, fetchStatsOf } from './fetch.js';

const { whole, cap, quotas } = optionChecks('');
/** The wasm limiter behind a `Limiter` (set in its static block). */
let rawOfLimiter;
/** The RawLimiter of `limiter`. */
export const rawOf = (limiter) => rawOfLimiter(limiter);

const LIMITER_OPTIONS = ['concurrency', 'perKey', 'rate', 'perKeyRate', 'maxQueue'];
const RUN_OPTIONS = ['key', 'cost', 'signal'];

/**
 * Concurrency caps (global and per key), rate quotas (global and per key)
 * and a bounded queue, enforced together by the Rust core.
 */
export class Limiter {
  #raw;
  #limits;
  #parking;

  static {
    rawOfLimiter = (limiter) => limiter.#raw;
  }

  constructor(opts) {
    const o = options(opts, 'Limiter', LIMITER_OPTIONS);
    const concurrency = cap(o.concurrency, 'concurrency');
    const perKey = cap(o.perKey, 'perKey');
    const rate = quotas(o.rate, 'rate');
    const perKeyRate = quotas(o.perKeyRate, 'perKeyRate');
    const maxQueue = cap(o.maxQueue, 'maxQueue', 0);
    this.#raw = new RawLimiter(concurrency, perKey, rate, perKeyRate, maxQueue);
    this.#limits = { concurrency, perKey };
    this.#parking = parkingFor(this.#raw);
  }

  /** Run `fn({signal})` once admitted for `key`; resolves to its result. */
  run(fn, opts) {
    // Not `async`: the uncontended path adds no Promise beyond fn's own
    // (and the `then` that releases the permit). Errors still reject.
    let key;
    let cost;
    let signal;
    let id;
    try {
      if (typeof fn !== 'function') throw new TypeError("run: 'fn' must be a function");
      if (opts === undefined) {
        key = '';
        cost = 1;
      } else {
        const o = options(opts, 'run', RUN_OPTIONS);
        key = keyOf(o.key);
        cost = o.cost === undefined ? 1 : whole(o.cost, 'cost');
        signal = signalOf(o.signal);
      }
      // Without a signal: one wasm call admits at once or parks the wait.
      if (signal === undefined) return parkToRun(this.#parking, key, cost, fn);
      id = limiterPermit(this.#parking, key, cost, signal);
    } catch (error) {
      return Promise.reject(error);
    }
    if (typeof id === 'number') return runHolding(this.#raw, id, fn, signal);
    const raw = this.#raw;
    return id.then((granted) => runHolding(raw, granted, fn, signal));
  }

  /** Wait for admission; resolves to a release function (also disposable). */
  async acquire(opts) {
    const o = options(opts, 'acquire', RUN_OPTIONS);
    const key = keyOf(o.key);
    const cost = o.cost === undefined ? 1 : whole(o.cost, 'cost');
    let id = limiterPermit(this.#parking, key, cost, signalOf(o.signal));
    if (typeof id !== 'number') id = await id;
    return releaser(this.#raw, id);
  }

  /** Admit now or not at all: a release function, or `null`. */
  tryAcquire(opts) {
    const o = options(opts, 'tryAcquire', ['key', 'cost']);
    const id = this.#raw.tryAcquire(keyOf(o.key), o.cost === undefined ? 1 : whole(o.cost, 'cost'));
    if (id === FAILED) throw lastError(this.#raw);
    return id === MUST_WAIT ? null : releaser(this.#raw, id);
  }

  /** Map `source` through `mapper` under this limiter; results in completion order. */
  asCompleted(source, mapper, opts) {
    const o = options(opts, 'asCompleted', ['concurrency', 'key', 'cost', 'signal', 'failFast']);
    const window = o.concurrency === undefined ? this.#limits.concurrency : whole(o.concurrency, 'concurrency');
    if (window === undefined) {
      throw new TypeError("asCompleted: option 'concurrency' is required when the limiter has no concurrency cap");
    }
    return pullAsCompleted(this, this.#raw, source, mapper, { ...o, window });
  }

  /** Change the concurrency caps; omitted options keep their value. */
  setLimits(opts) {
    const o = options(opts, 'setLimits', ['concurrency', 'perKey']);
    const next = { ...this.#limits };
    if ('concurrency' in o) next.concurrency = cap(o.concurrency, 'concurrency');
    if ('perKey' in o) next.perKey = cap(o.perKey, 'perKey');
    this.#raw.setLimits(next.concurrency, next.perKey);
    this.#limits = next;
  }

  /** Hold every acquire for `key` for `ms` milliseconds (e.g. `Retry-After`). */
  pause(key, ms) {
    this.#raw.pauseFor(keyOf(key), pauseMs(ms));
  }

  /** `{ inFlight, queued, keys, rateKeys, concurrency, perKey }` now. */
  stats() {
    const s = statsOf(this.#raw);
    return {
      inFlight: s.inFlight,
      queued: s.queued,
      keys: s.keys,
      rateKeys: s.rateKeys,
      concurrency: this.#limits.concurrency ?? Infinity,
      perKey: this.#limits.perKey ?? Infinity,
    };
  }
}

/** `fetch` under this limiter (key = host:port); see fetch.js. */
Limiter.prototype.fetch = function fetch(input, init) {
  return limitedFetch(this, rawOf(this), input, init);
};

/** Per-key figures of `fetch`: in flight, queued, sent, retried, 429s, cooldown, p50/p95/p99. */
Limiter.prototype.fetchStats = function fetchStats() {
  return fetchStatsOf(this);
};
