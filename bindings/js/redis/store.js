// RedisStore: the connection-side half of shared limits — the scripts, the
// per-call timeout, the health counters and release notifications. The
// decisions are the Lua scripts' (integrations/redis/lua/, the one copy the
// native crate embeds too); the admission order is shared.js's.
//
// Invariants:
// - every call settles within `timeoutMs` (then it rejects with a StoreError
//   naming the call and the cause): nothing built on the store hangs;
// - no retries beyond the NOSCRIPT reload; reconnection is the client's;
// - while degraded, one call per `timeoutMs` probes the server, the others
//   fail at once (health.js);
// - every release by any process, every (re)subscription, and the first
//   failure of a healthy store wake this process's lease waiters (they retry
//   at once, and meet the failure policy rather than waiting for a lease to
//   expire);
// - rate decisions are batched (decide): one gcra.lua call in flight at a
//   time; a decision arriving while the store is idle goes out at once, those
//   arriving meanwhile (or while a batch's answers are handed out) wait and
//   go out together as the next call (at most MAX_BATCH), in arrival order,
//   which gcra.lua decides exactly as the same calls one by one; a batch's
//   StoreError rejects every decision in it.

import { readFileSync } from 'node:fs';
import { adapt, script } from './client.js';
import { Health } from './health.js';
import { Keys } from './keys.js';
import { SharedAdmission } from './shared.js';
import { storeGuard } from './guard.js';

const lua = (name) => readFileSync(new URL(`../../../integrations/redis/lua/${name}.lua`, import.meta.url), 'utf8');
export const SCRIPTS = { gcra: script(lua('gcra')), lease: script(lua('lease')), pause: script(lua('pause')) };

/** A store call that failed or timed out; `op` names the call, `cause` why. */
export class StoreError extends Error {
  constructor(op, cause, timeoutMs, degraded = false) {
    super(
      degraded
        ? `weir redis store: ${op} call not sent: the store is degraded (last error: ${cause.message})`
        : timeoutMs === undefined
          ? `weir redis store: ${op} call failed: ${cause?.message ?? cause}`
          : `weir redis store: ${op} call timed out after ${timeoutMs} ms`,
      { cause },
    );
    this.name = 'StoreError';
    this.op = op;
    this.timedOut = degraded ? cause.timedOut : timeoutMs !== undefined;
  }
}

/** Decisions in one gcra.lua call at most (as the native store's batch::MAX_BATCH). */
const MAX_BATCH = 128;

const STORE_OPTIONS = ['prefix', 'leaseMs', 'timeoutMs', 'ttlSlackMs'];

function positiveMs(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`RedisStore: option '${name}' must be a positive number of milliseconds, got ${value}`);
  }
  return value;
}

/**
 * Shared limits on Redis / Valkey, over an ioredis or node-redis client:
 * `new Limiter({ store: new RedisStore(client, { prefix }) , ... })`.
 */
export class RedisStore {
  #client;
  #health = new Health();
  #releases = 0;
  #wakers = new Set();
  #subscription;
  /** Decisions waiting for the next gcra.lua call: { keys, args, resolve, reject }. */
  #batch = [];
  #deciding = false;

  constructor(client, opts = {}) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('RedisStore: options must be an object');
    for (const k of Object.keys(opts)) {
      if (!STORE_OPTIONS.includes(k)) {
        throw new TypeError(`RedisStore: unknown option '${k}' (expected one of: ${STORE_OPTIONS.join(', ')})`);
      }
    }
    if (opts.prefix !== undefined && typeof opts.prefix !== 'string') {
      throw new TypeError(`RedisStore: option 'prefix' must be a string, got ${typeof opts.prefix}`);
    }
    this.#client = adapt(client);
    this.prefix = opts.prefix ?? 'weir:';
    this.leaseMs = positiveMs(opts.leaseMs, 'leaseMs', 30_000);
    this.timeoutMs = positiveMs(opts.timeoutMs, 'timeoutMs', 200);
    this.ttlSlackMs = Math.ceil(positiveMs(opts.ttlSlackMs, 'ttlSlackMs', 1000));
  }

  /** `{ roundTrips, errors, lastError, latencyP99Ms, mode: 'ok' | 'degraded', recoveries }`. */
  stats() {
    return this.#health.snapshot();
  }

  /** One script call, bounded by `timeoutMs`, counted. */
  call(op, name, keys, args) {
    const refused = this.#health.refuse(performance.now(), this.timeoutMs);
    if (refused !== undefined) return Promise.reject(new StoreError(op, refused, undefined, true));
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        const error = new StoreError(op, undefined, this.timeoutMs);
        this.#failed(error);
        reject(error);
      }, this.timeoutMs);
      let sent;
      try {
        sent = this.#client.eval(SCRIPTS[name], keys, args);
      } catch (e) {
        sent = Promise.reject(e);
      }
      sent.then(
        (value) => {
          if (settled) return; // answered after the timeout: already counted
          settled = true;
          clearTimeout(timer);
          this.#health.success(performance.now() - started);
          resolve(value);
        },
        (cause) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const error = new StoreError(op, cause);
          this.#failed(error);
          reject(error);
        },
      );
    });
  }

  /**
   * One gcra.lua decision (a request's keys, cells then pauses, and its
   * template: check, figures, n, m, cost, the cells' numbers — pass the same
   * array for the same template), batched with concurrent callers';
   * resolves to its part of the reply.
   */
  decide(keys, args) {
    return new Promise((resolve, reject) => {
      this.#batch.push({ keys, args, resolve, reject });
      if (!this.#deciding) this.#sendBatch();
    });
  }

  /** Send what waits as one call; when it settles, the next. */
  #sendBatch() {
    const batch = this.#batch.length <= MAX_BATCH ? this.#batch : this.#batch.slice(0, MAX_BATCH);
    this.#batch = batch === this.#batch ? [] : this.#batch.slice(MAX_BATCH);
    this.#deciding = batch.length > 0;
    if (!this.#deciding) return;
    // Each distinct key and template (the same args array) once; each
    // decision as its template's index and its keys' indexes (gcra.lua).
    const keys = [];
    const keyIndex = new Map();
    const templates = [];
    const templateIndex = new Map();
    const requests = [batch.length];
    for (const d of batch) {
      let t = templateIndex.get(d.args);
      if (t === undefined) {
        templates.push(d.args);
        templateIndex.set(d.args, (t = templates.length));
      }
      requests.push(t);
      for (const k of d.keys) {
        let i = keyIndex.get(k);
        if (i === undefined) {
          keys.push(k);
          keyIndex.set(k, (i = keys.length));
        }
        requests.push(i);
      }
    }
    const args = ['', this.ttlSlackMs, templates.length];
    for (const t of templates) for (const a of t) args.push(a);
    for (const r of requests) args.push(r);
    this.call('rate', 'gcra', keys, args).then(
      (reply) => {
        let at = 0;
        for (const d of batch) {
          // 5 integers, or 9 + 3 per cell with the figures.
          const len = d.args[1] === '1' ? 9 + 3 * d.args[2] : 5;
          d.resolve(reply.slice(at, at + len));
          at += len;
        }
        this.#next(batch.length);
      },
      (error) => {
        for (const d of batch) d.reject(error);
        this.#next(batch.length);
      },
    );
  }

  /** After a batch of `answered`: the next call, after the answered callers (who mostly come straight back) have queued. */
  #next(answered) {
    if (answered > 1) setImmediate(() => this.#sendBatch());
    else this.#sendBatch();
  }

  /** A call failed: count it, and wake the lease waiters so that the failure policy reaches them now. */
  #failed(error) {
    const wasOk = this.#health.mode === 'ok';
    this.#health.failure(error, performance.now());
    if (wasOk) this.#wake();
  }

  /** How many releases this process has heard of (a generation counter). */
  get releases() {
    return this.#releases;
  }

  /** Resolves after a release newer than `generation`, or after `ms`, or on abort. */
  waitRelease(generation, ms, signal) {
    if (this.#releases !== generation) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        reject(signal.reason);
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #wake = () => {
    this.#releases++;
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const w of wakers) w();
  };

  /** Subscribe (once) to the release channel of this prefix. */
  subscribe() {
    this.#subscription ??= this.#client
      .subscribe(new Keys(this.prefix, false).releaseChannel(), this.#wake)
      .catch(() => undefined); // waiters still wake at the earliest lease expiry
    return this.#subscription;
  }

  /** The hook a `Limiter` calls with its options (see limiter.js). */
  attach(limits, hooks) {
    return new SharedAdmission(this, limits, hooks);
  }

  /** The hook `guard` calls with its checked options and its response helpers (see guard.js). */
  guard(handler, options, helpers) {
    return storeGuard(handler, { ...options, store: this }, helpers);
  }

  /** Close the subscriber connection (the client passed in stays the caller's). */
  async close() {
    const unsubscribe = await this.#subscription;
    this.#subscription = undefined;
    unsubscribe?.();
  }
}
