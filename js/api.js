// The public JS API of weir: thin glue over the wasm classes. Every limiting
// decision is made in Rust (crate `weir`); this file validates options, turns
// permit ids into release functions, links AbortSignals to tickets and runs
// the asCompleted pull loop. It imports no host API and is shared by every
// loader (node.js, deno.js, browser.js, workerd.js), which initialise the
// wasm before any of this is called.
import { RawLimiter, RawSemaphore, RawRateLimiter } from './wasm/weir_wasm.js';
import { limitedFetch, fetchStatsOf } from './fetch.js';

export { TimeoutError, QueueTimeoutError, BodyTimeoutError, setHostConnectionLimit, fetchKeyOf } from './fetch.js';

const MUST_WAIT = 0;
const MAX_U32 = 0xffffffff;
const disposeSymbol = Symbol.dispose ?? Symbol.for('Symbol.dispose');
const TICKET = Symbol('weir.ticket');

// ---------------------------------------------------------------- validation

function options(value, where, allowed) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${where}: options must be an object`);
  }
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) {
      throw new TypeError(
        `${where}: unknown option '${name}' (expected one of: ${allowed.join(', ')})`,
      );
    }
  }
  return value;
}

/** A cap: undefined/null/Infinity = unlimited, else a whole number >= min. */
function cap(value, name, min = 1) {
  if (value === undefined || value === null || value === Infinity) return undefined;
  return whole(value, name, min);
}

function whole(value, name, min = 1) {
  if (typeof value !== 'number') {
    throw new TypeError(`option '${name}' must be a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < min || value > MAX_U32) {
    throw new RangeError(
      `option '${name}' must be a whole number from ${min} to ${MAX_U32}, got ${value}`,
    );
  }
  return value;
}

function positive(value, name) {
  if (typeof value !== 'number') {
    throw new TypeError(`option '${name}' must be a number, got ${typeof value}`);
  }
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`option '${name}' must be a positive finite number, got ${value}`);
  }
  return value;
}

/** Quotas `{limit, interval, burst?}` (or an array of them) as flat triples. */
function quotas(value, name) {
  if (value === undefined || value === null) return new Float64Array(0);
  const list = Array.isArray(value) ? value : [value];
  const triples = new Float64Array(list.length * 3);
  list.forEach((quota, i) => {
    const at = Array.isArray(value) ? `${name}[${i}]` : name;
    if (quota === null || typeof quota !== 'object') {
      throw new TypeError(`option '${at}' must be an object { limit, interval, burst? }`);
    }
    for (const k of Object.keys(quota)) {
      if (k !== 'limit' && k !== 'interval' && k !== 'burst') {
        throw new TypeError(`option '${at}': unknown option '${at}.${k}'`);
      }
    }
    triples[i * 3] = whole(quota.limit, `${at}.limit`);
    triples[i * 3 + 1] = positive(quota.interval, `${at}.interval`);
    triples[i * 3 + 2] = quota.burst === undefined ? 0 : whole(quota.burst, `${at}.burst`);
  });
  return triples;
}

function keyOf(key, name = 'key') {
  if (key === undefined) return '';
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  throw new TypeError(`option '${name}' must be a string, got ${typeof key}`);
}

function signalOf(signal) {
  if (signal === undefined || signal === null) return undefined;
  if (typeof signal !== 'object' || typeof signal.addEventListener !== 'function') {
    throw new TypeError("option 'signal' must be an AbortSignal");
  }
  return signal;
}

function abortReason(signal) {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

// ------------------------------------------------------------- the two paths

/**
 * Wait on the contended path: the Rust future runs as a Promise under a
 * ticket; an abort cancels the ticket (Rust drops the future at once, freeing
 * its queue place) and rejects with the signal's reason. A permit granted in
 * the same turn as the abort is released, never leaked.
 */
function waitForPermit(owner, raw, key, cost, signal) {
  const ticket = (owner[TICKET] = ((owner[TICKET] ?? 0) + 1) >>> 0);
  const pending = raw.acquire(key, cost, ticket);
  if (!signal) return pending;
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      raw.cancel(ticket);
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (id) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) {
          if (id !== undefined) raw.release(id);
          return;
        }
        settled = true;
        resolve(id);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        reject(error);
      },
    );
  });
}

/** A permit id (uncontended: one synchronous wasm call) or a Promise of one. */
function acquirePermit(owner, raw, key, cost, signal) {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const id = raw.tryAcquire(key, cost);
  if (id !== MUST_WAIT) return id;
  return waitForPermit(owner, raw, key, cost, signal);
}

/** A release function for `id` (idempotent; also `[Symbol.dispose]`). */
function releaser(raw, id) {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    raw.release(id);
  };
  release[disposeSymbol] = release;
  return release;
}

/** Run `fn` holding permit `id`; on abort reject at once but keep the permit
 * until `fn` settles, so caps hold even for work that ignores the signal. */
function runHolding(raw, id, fn, signal) {
  const release = releaser(raw, id);
  let work;
  try {
    work = Promise.resolve(fn({ signal }));
  } catch (error) {
    release();
    return Promise.reject(error);
  }
  work.then(release, release);
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

// ------------------------------------------------------------------ Limiter

const LIMITER_OPTIONS = ['concurrency', 'perKey', 'rate', 'perKeyRate', 'maxQueue'];
const RUN_OPTIONS = ['key', 'cost', 'signal'];

/**
 * Concurrency caps (global and per key), rate quotas (global and per key)
 * and a bounded queue, enforced together by the Rust core.
 */
export class Limiter {
  #raw;
  #limits;

  constructor(opts) {
    const o = options(opts, 'Limiter', LIMITER_OPTIONS);
    const concurrency = cap(o.concurrency, 'concurrency');
    const perKey = cap(o.perKey, 'perKey');
    const rate = quotas(o.rate, 'rate');
    const perKeyRate = quotas(o.perKeyRate, 'perKeyRate');
    const maxQueue = cap(o.maxQueue, 'maxQueue', 0);
    this.#raw = new RawLimiter(concurrency, perKey, rate, perKeyRate, maxQueue);
    this.#limits = { concurrency, perKey };
  }

  /** Run `fn({signal})` once admitted for `key`; resolves to its result. */
  async run(fn, opts) {
    if (typeof fn !== 'function') throw new TypeError("run: 'fn' must be a function");
    const o = options(opts, 'run', RUN_OPTIONS);
    const key = keyOf(o.key);
    const cost = o.cost === undefined ? 1 : whole(o.cost, 'cost');
    const signal = signalOf(o.signal);
    let id = acquirePermit(this, this.#raw, key, cost, signal);
    if (typeof id !== 'number') id = await id;
    return runHolding(this.#raw, id, fn, signal);
  }

  /** Wait for admission; resolves to a release function (also disposable). */
  async acquire(opts) {
    const o = options(opts, 'acquire', RUN_OPTIONS);
    const key = keyOf(o.key);
    const cost = o.cost === undefined ? 1 : whole(o.cost, 'cost');
    let id = acquirePermit(this, this.#raw, key, cost, signalOf(o.signal));
    if (typeof id !== 'number') id = await id;
    return releaser(this.#raw, id);
  }

  /** Admit now or not at all: a release function, or `null`. */
  tryAcquire(opts) {
    const o = options(opts, 'tryAcquire', ['key', 'cost']);
    const id = this.#raw.tryAcquire(keyOf(o.key), o.cost === undefined ? 1 : whole(o.cost, 'cost'));
    return id === MUST_WAIT ? null : releaser(this.#raw, id);
  }

  /** Map `source` through `mapper` under this limiter; results in completion order. */
  asCompleted(source, mapper, opts) {
    const o = options(opts, 'asCompleted', ['concurrency', 'key', 'cost', 'signal', 'failFast']);
    const window = o.concurrency === undefined ? this.#limits.concurrency : whole(o.concurrency, 'concurrency');
    if (window === undefined) {
      throw new TypeError("asCompleted: option 'concurrency' is required when the limiter has no concurrency cap");
    }
    return pullAsCompleted(this, source, mapper, { ...o, window });
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
    if (typeof ms !== 'number' || !(ms >= 0)) throw new RangeError("pause: 'ms' must be a number >= 0");
    this.#raw.pauseFor(keyOf(key), ms);
  }

  /** `{ inFlight, queued, keys, rateKeys, concurrency, perKey }` now. */
  stats() {
    const s = this.#raw.stats();
    return {
      inFlight: s[0],
      queued: s[1],
      keys: s[2],
      rateKeys: s[3],
      concurrency: this.#limits.concurrency ?? Infinity,
      perKey: this.#limits.perKey ?? Infinity,
    };
  }
}

/** `fetch` under this limiter (key = host:port); see js/fetch.js. */
Limiter.prototype.fetch = function fetch(input, init) {
  return limitedFetch(this, input, init);
};

/** Per-key figures of `fetch`: in flight, queued, sent, retried, 429s, cooldown, p50/p95/p99. */
Limiter.prototype.fetchStats = function fetchStats() {
  return fetchStatsOf(this);
};

// --------------------------------------------------------- limitedAsCompleted

function iteratorOf(source) {
  if (source != null && typeof source[Symbol.asyncIterator] === 'function') {
    return source[Symbol.asyncIterator]();
  }
  if (source != null && typeof source[Symbol.iterator] === 'function') {
    return source[Symbol.iterator]();
  }
  throw new TypeError("'source' must be an iterable or async iterable");
}

/**
 * The pull loop: at most `window` items are out of the source at once
 * (running, waiting for admission, or finished but not yet consumed). Results
 * are yielded in completion order, as `{ status, value | reason }` records
 * (like `Promise.allSettled`: one failure does not end the stream) or, with
 * `failFast`, as bare values with the first error thrown. Leaving early (`break`, `return()`, a
 * thrown error, an abort) stops pulling, closes the source and aborts what is
 * in flight through the signal each mapper received.
 */
function pullAsCompleted(limiter, source, mapper, o) {
  if (mapper !== undefined && mapper !== null && typeof mapper !== 'function') {
    throw new TypeError("'mapper' must be a function (or omitted for a source of thunks)");
  }
  const keyFn = typeof o.key === 'function' ? o.key : () => o.key;
  const cost = o.cost === undefined ? 1 : whole(o.cost, 'cost');
  const outer = signalOf(o.signal);
  const window = o.window;
  const failFast = Boolean(o.failFast);
  const iterator = iteratorOf(source);
  return (async function* completions() {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(abortReason(outer));
    if (outer) {
      if (outer.aborted) throw abortReason(outer);
      outer.addEventListener('abort', onOuterAbort, { once: true });
    }
    const finished = [];
    let wake = null;
    let outstanding = 0; // pulled and not yet yielded
    let sourceDone = false;
    const inner = controller.signal;
    inner.addEventListener('abort', () => {
      if (wake) wake();
    }, { once: true });
    const start = (item) => {
      outstanding += 1;
      const work = ({ signal }) => (mapper ? mapper(item, { signal }) : item({ signal }));
      limiter
        .run(work, { key: keyFn(item), cost, signal: inner })
        .then(
          (value) => finished.push({ status: 'fulfilled', value }),
          (reason) => finished.push({ status: 'rejected', reason }),
        )
        .then(() => {
          if (wake) wake();
        });
    };
    try {
      for (;;) {
        while (!sourceDone && outstanding < window && !inner.aborted) {
          const step = await iterator.next();
          if (step.done) sourceDone = true;
          else start(step.value);
        }
        if (inner.aborted) throw abortReason(inner);
        if (finished.length === 0) {
          if (outstanding === 0) return;
          await new Promise((resolve) => {
            wake = resolve;
          });
          wake = null;
          continue;
        }
        const result = finished.shift();
        outstanding -= 1;
        if (!failFast) yield result;
        else if (result.status === 'fulfilled') yield result.value;
        else throw result.reason;
      }
    } finally {
      if (outer) outer.removeEventListener('abort', onOuterAbort);
      if (outstanding > 0 || !sourceDone) {
        controller.abort(new DOMException('asCompleted was closed early', 'AbortError'));
      }
      if (!sourceDone && typeof iterator.return === 'function') {
        await iterator.return();
      }
    }
  })();
}

/**
 * Map a (sync or async) iterable with at most `concurrency` items in flight,
 * yielding results in completion order; see `Limiter#asCompleted`.
 */
export function limitedAsCompleted(source, mapper, opts) {
  const o = options(opts, 'limitedAsCompleted', [
    'concurrency', 'perKey', 'key', 'rate', 'perKeyRate', 'cost', 'signal', 'failFast',
  ]);
  if (o.concurrency === undefined) {
    throw new TypeError("limitedAsCompleted: option 'concurrency' is required");
  }
  const window = whole(o.concurrency, 'concurrency');
  const limiter = new Limiter({
    concurrency: window,
    perKey: o.perKey,
    rate: o.rate,
    perKeyRate: o.perKeyRate,
  });
  return pullAsCompleted(limiter, source, mapper, { ...o, window });
}

// ----------------------------------------------------------- KeyedSemaphore

/** A global in-flight cap plus a per-key cap; FIFO per key. */
export class KeyedSemaphore {
  #raw;
  #limits;

  constructor(opts) {
    const o = options(opts, 'KeyedSemaphore', ['global', 'perKey']);
    const global = cap(o.global, 'global');
    const perKey = cap(o.perKey, 'perKey');
    this.#raw = new RawSemaphore(global, perKey);
    this.#limits = { global, perKey };
  }

  /** Wait for `n` permits of `key`; resolves to a release function. */
  async acquire(key, n = 1, opts) {
    const o = options(opts, 'acquire', ['signal']);
    let id = acquirePermit(this, this.#raw, keyOf(key), whole(n, 'n'), signalOf(o.signal));
    if (typeof id !== 'number') id = await id;
    return releaser(this.#raw, id);
  }

  /** `n` permits of `key` now, or `null`. */
  tryAcquire(key, n = 1) {
    const id = this.#raw.tryAcquire(keyOf(key), whole(n, 'n'));
    return id === MUST_WAIT ? null : releaser(this.#raw, id);
  }

  /** Change the caps; omitted options keep their value. */
  setLimits(opts) {
    const o = options(opts, 'setLimits', ['global', 'perKey']);
    const next = { ...this.#limits };
    if ('global' in o) next.global = cap(o.global, 'global');
    if ('perKey' in o) next.perKey = cap(o.perKey, 'perKey');
    this.#raw.setLimits(next.global, next.perKey);
    this.#limits = next;
  }

  /** `{ inFlight, waiting, keys, global, perKey }` now. */
  stats() {
    const s = this.#raw.stats();
    return {
      inFlight: s[0],
      waiting: s[1],
      keys: s[2],
      global: this.#limits.global ?? Infinity,
      perKey: this.#limits.perKey ?? Infinity,
    };
  }
}

// -------------------------------------------------------------- RateLimiter

/** GCRA token buckets per key (`limit` per `interval` ms, bursts of `burst`). */
export class RateLimiter {
  #raw;

  constructor(opts) {
    const o = options(opts, 'RateLimiter', ['limit', 'interval', 'burst', 'global']);
    if (o.limit === undefined && o.interval === undefined && o.global === undefined) {
      throw new TypeError("RateLimiter: options 'limit' and 'interval' are required");
    }
    const perKey = new Float64Array(o.limit === undefined && o.interval === undefined ? 0 : 3);
    if (perKey.length) {
      perKey[0] = whole(o.limit, 'limit');
      perKey[1] = positive(o.interval, 'interval');
      perKey[2] = o.burst === undefined ? 0 : whole(o.burst, 'burst');
    } else if (o.burst !== undefined) {
      throw new TypeError("RateLimiter: option 'burst' needs 'limit' and 'interval'");
    }
    this.#raw = new RawRateLimiter(quotas(o.global, 'global'), perKey);
  }

  /** Admit `cost` for `key` now? `{ ok, retryAfterMs }`; a denial consumes nothing. */
  check(key, cost = 1) {
    const retryAfterMs = this.#raw.check(keyOf(key), whole(cost, 'cost'));
    return { ok: retryAfterMs === 0, retryAfterMs };
  }

  /** Wait (FIFO per key) until `cost` is admitted for `key`. */
  async acquire(key, cost = 1, opts) {
    const o = options(opts, 'acquire', ['signal']);
    const signal = signalOf(o.signal);
    const k = keyOf(key);
    const c = whole(cost, 'cost');
    if (signal?.aborted) throw abortReason(signal);
    if (this.#raw.tryAcquire(k, c)) return;
    const done = await waitForPermit(this, this.#raw, k, c, signal);
    if (done === undefined) throw abortReason(signal);
  }

  /** Hold every acquire for `key` for `ms` milliseconds (e.g. `Retry-After`). */
  pause(key, ms) {
    if (typeof ms !== 'number' || !(ms >= 0)) throw new RangeError("pause: 'ms' must be a number >= 0");
    this.#raw.pauseFor(keyOf(key), ms);
  }

  /** `{ keys }`: keys with state now. */
  stats() {
    return { keys: this.#raw.keys() };
  }
}
