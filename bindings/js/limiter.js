// `Limiter`: concurrency caps (global and per key), rate quotas (global and
// per key) and a bounded queue, enforced together by the Rust core.
//
// Guarantees: every decision is the core's (one wasm call to admit, one to
// release on the uncontended path, no Promise of its own; a `run` that must
// wait parks in that same call); bad options throw
// at construction naming the option; an aborted wait leaves the queue at
// once; a permit is held until the work settles. With `concurrency: {
// adaptive }` the core moves the cap from reported samples (`run` and
// `fetch` report by themselves). With a `store` (e.g. `RedisStore` from
// 'weir-limiter/redis') the fleet's limits are the store's: every permit
// comes from it, this process's core keeps only the local caps and queue.
import { RawLimiter, MUST_WAIT, FAILED, lastError, statsOf, adaptiveStatsOf, adaptiveKeyStatsOf, inFlightNowOf, reportTo } from './boundary.js';
import { options, keyOf, signalOf, pauseMs, optionChecks } from './options.js';
import { adaptiveRow, outcomeCode, outcomeNames, timed } from './adaptive.js';
import { parkingFor, parkToRun, limiterPermit } from './parking.js';
import { releaser, runHolding } from './permit.js';
import { pullAsCompleted } from './as-completed.js';
import { limitedFetch, fetchStatsOf } from './fetch.js';

const { whole, cap, quotas } = optionChecks('');
const NO_QUOTAS = new Float64Array(0);
/** How many keys `stats().perKeyAdaptive` lists at most. */
const PER_KEY_STATS_MAX = 100;
/** The wasm limiter behind a `Limiter` (set in its static block). */
let rawOfLimiter;
/**
 * The RawLimiter whose fast path `limiter.fetch` and `asCompleted` may take
 * (`tryAcquire` & co.): the limiter's own, or, with a store, a stand-in that
 * never admits, so every permit comes through `acquire` / `run`.
 */
export const rawOf = (limiter) => rawOfLimiter(limiter);
const NO_FAST_PERMIT = Object.freeze({ tryAcquire: () => MUST_WAIT, tryAcquireUnkeyed: () => MUST_WAIT });

const LIMITER_OPTIONS = ['concurrency', 'perKey', 'rate', 'perKeyRate', 'maxQueue', 'store', 'onStoreError', 'localShare'];
const RUN_OPTIONS = ['key', 'cost', 'signal'];

/**
 * Concurrency caps (global and per key), rate quotas (global and per key)
 * and a bounded queue, enforced together by the Rust core.
 */
export class Limiter {
  #raw;
  #limits;
  #parking;
  #adaptive;
  /** `perKey: { adaptive }`: each key's cap follows its own reports. */
  #perKeyAdaptive;
  /** With a `store`: its hook (redis/shared.js); the quotas live there. */
  #shared;

  static {
    rawOfLimiter = (limiter) => (limiter.#shared === undefined ? limiter.#raw : NO_FAST_PERMIT);
  }

  constructor(opts) {
    const o = options(opts, 'Limiter', LIMITER_OPTIONS);
    const adaptive = adaptiveRow(o.concurrency, 'concurrency');
    const concurrency = adaptive ? undefined : cap(o.concurrency, 'concurrency');
    const perKeyAdaptive = adaptiveRow(o.perKey, 'perKey');
    const perKey = perKeyAdaptive ? undefined : cap(o.perKey, 'perKey');
    const rate = quotas(o.rate, 'rate');
    const perKeyRate = quotas(o.perKeyRate, 'perKeyRate');
    const maxQueue = cap(o.maxQueue, 'maxQueue', 0);
    if (o.store !== undefined) {
      // Shared limits: this process's core keeps the caps (its order and
      // queue); the store enforces caps, quotas and pauses fleet-wide.
      if (typeof o.store?.attach !== 'function') {
        throw new TypeError("option 'store' must be a store, e.g. new RedisStore(client) from 'weir-limiter/redis'");
      }
      const hooks = {
        acquireLocal: (key, cost, signal) => this.#acquireLocal(key, cost, signal),
        makeLocal: (local) => new Limiter(local),
      };
      const { onStoreError, localShare } = o;
      this.#shared = o.store.attach({ concurrency, perKey, rate, perKeyRate, onStoreError, localShare }, hooks);
      this.#raw = new RawLimiter(concurrency, perKey, NO_QUOTAS, NO_QUOTAS, maxQueue, adaptive, perKeyAdaptive);
    } else {
      this.#raw = new RawLimiter(concurrency, perKey, rate, perKeyRate, maxQueue, adaptive, perKeyAdaptive);
    }
    this.#limits = { concurrency, perKey };
    this.#adaptive = adaptive !== undefined;
    this.#perKeyAdaptive = perKeyAdaptive !== undefined;
    this.#parking = parkingFor(this.#raw);
  }

  /**
   * Feed the adaptive caps (`concurrency: { adaptive }`, `perKey: {
   * adaptive }`) one finished request of `key` (default `''`): `rtt` in
   * ms, `inFlight` and `keyInFlight` when it started (itself included;
   * `keyInFlight` defaults to `inFlight`), `outcome` `'ok'` (default),
   * `'dropped'`, `'429'`, `'503'`, `'timeout'` or `'cancelled'`. Returns
   * the global cap's limit after it, or with only `perKey` adaptive the
   * key's (`undefined` when not adaptive). `run` and `fetch` report by
   * themselves.
   */
  report(sample) {
    const o = options(sample, 'report', ['rtt', 'inFlight', 'keyInFlight', 'outcome', 'key']);
    if (typeof o.rtt !== 'number' || !(o.rtt >= 0)) throw new RangeError("report: 'rtt' must be a number >= 0");
    const total = whole(o.inFlight, 'inFlight', 0);
    const started = { total, key: o.keyInFlight === undefined ? total : whole(o.keyInFlight, 'keyInFlight', 0) };
    const code = outcomeCode(o.outcome === undefined ? 'ok' : String(o.outcome));
    if (code < 0) throw new RangeError(`report: 'outcome' must be one of ${outcomeNames()}, got ${String(o.outcome)}`);
    const after = reportTo(this.#raw, keyOf(o.key), o.rtt, started, code);
    return after.global ?? after.key;
  }

  /** A local permit (the store's hook: it asks the fleet after this). */
  async #acquireLocal(key, cost, signal) {
    let id = limiterPermit(this.#parking, key, cost, signal);
    if (typeof id !== 'number') id = await id;
    return releaser(this.#raw, id);
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
      if (this.#adaptive || this.#perKeyAdaptive) fn = timed(this.#raw, fn, key);
      if (this.#shared !== undefined) return this.#shared.run(fn, key, cost, signal);
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
    if (this.#shared !== undefined) return this.#shared.acquire(key, cost, signalOf(o.signal));
    let id = limiterPermit(this.#parking, key, cost, signalOf(o.signal));
    if (typeof id !== 'number') id = await id;
    return releaser(this.#raw, id);
  }

  /** Admit now or not at all: a release function, or `null`. */
  tryAcquire(opts) {
    const o = options(opts, 'tryAcquire', ['key', 'cost']);
    if (this.#shared !== undefined) {
      throw new TypeError('tryAcquire: a limiter with a store decides on the server; use acquire (or run)');
    }
    const id = this.#raw.tryAcquire(keyOf(o.key), o.cost === undefined ? 1 : whole(o.cost, 'cost'));
    if (id === FAILED) throw lastError(this.#raw);
    return id === MUST_WAIT ? null : releaser(this.#raw, id);
  }

  /** Map `source` through `mapper` under this limiter; results in completion order. */
  asCompleted(source, mapper, opts) {
    const o = options(opts, 'asCompleted', ['concurrency', 'key', 'cost', 'signal', 'failFast', 'ordered']);
    const window = o.concurrency === undefined ? this.#limits.concurrency : whole(o.concurrency, 'concurrency');
    if (window === undefined) {
      throw new TypeError("asCompleted: option 'concurrency' is required when the limiter has no concurrency cap");
    }
    return pullAsCompleted(this, rawOf(this), source, mapper, { ...o, window });
  }

  /** Change the concurrency caps; omitted options keep their value. */
  setLimits(opts) {
    const o = options(opts, 'setLimits', ['concurrency', 'perKey']);
    const next = { ...this.#limits };
    if ('concurrency' in o) next.concurrency = cap(o.concurrency, 'concurrency');
    if ('perKey' in o) next.perKey = cap(o.perKey, 'perKey');
    // An adaptive cap stays where it is unless `concurrency` is given.
    const concurrency = next.concurrency ?? (this.#adaptive ? adaptiveStatsOf(this.#raw).limit : undefined);
    this.#raw.setLimits(concurrency, next.perKey);
    this.#limits = next;
  }

  /** Hold every acquire for `key` for `ms` milliseconds (e.g. `Retry-After`). */
  pause(key, ms) {
    const k = keyOf(key);
    const duration = pauseMs(ms);
    this.#raw.pauseFor(k, duration);
    // Shared: the whole fleet waits too (failures are counted in stats().store).
    this.#shared?.pause(k, duration).catch(() => {});
  }

  /**
   * `{ inFlight, queued, keys, rateKeys, concurrency, perKey }` now; with
   * an adaptive cap, `concurrency` is its current limit and `adaptive` is
   * `{ limit, minRtt, sampleRtt, gradient }` (RTTs in ms, NaN until measured);
   * with adaptive per-key caps, `perKeyAdaptive` maps up to 100 keys with a
   * controller to the same figures; with a store, `store` (its counters and mode).
   */
  stats() {
    const s = statsOf(this.#raw);
    const stats = {
      inFlight: s.inFlight,
      queued: s.queued,
      keys: s.keys,
      rateKeys: s.rateKeys,
      concurrency: this.#limits.concurrency ?? Infinity,
      perKey: this.#limits.perKey ?? Infinity,
    };
    if (this.#shared !== undefined) stats.store = this.#shared.stats();
    if (this.#adaptive) {
      const adaptive = adaptiveStatsOf(this.#raw);
      stats.concurrency = adaptive.limit;
      stats.adaptive = adaptive;
    }
    if (this.#perKeyAdaptive) stats.perKeyAdaptive = adaptiveKeyStatsOf(this.#raw, PER_KEY_STATS_MAX);
    return stats;
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
