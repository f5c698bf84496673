// SharedAdmission: a Limiter's options enforced across every process that
// shares a RedisStore prefix. The JS twin of integrations/redis/src/limiter.rs.
//
// Admission, in the core's order (pause, then permits, then rate tokens):
// 1. the Limiter's own wasm limiter (caps only) orders this process's
//    waiters — FIFO per key, round-robin across keys — and bounds the queue;
// 2. shared caps: a lease (lease.lua); a waiter sleeps until a release is
//    published or the earliest lease expires, whichever is first — never on
//    a fixed interval; a holder renews at a third of leaseMs;
// 3. shared quotas and pauses: one gcra.lua decision; a denial names the
//    exact wait, cached ("denied until T") so the key's other callers in this
//    process cost no round trip until T; while anyone of this process waits
//    on the key, callers queue FIFO and one at a time talks to the store.
//    Decisions arriving while a call is in flight go out as one script call
//    (RedisStore.decide), decided in arrival order.
// On a StoreError the onStoreError policy decides: 'closed' rejects with it,
// 'open' admits, 'local' admits through an in-memory Limiter with the same
// options divided by localShare, until the store answers again.

import { Keys, intervalNs } from './keys.js';
import { figuresOf } from './figures.js';

const POLICIES = ['closed', 'open', 'local'];
const E9 = 1_000_000_000n;
const MAX_SECS = 1n << 52n;

/** A scaled value (ns × limit) as [seconds, ns, fraction] (gcra.lua's radix). */
function radix(scaled, limit) {
  const l = BigInt(limit);
  const ns = scaled / l;
  const secs = ns / E9 < MAX_SECS ? ns / E9 : MAX_SECS;
  return [String(secs), String(ns % E9), String(scaled % l)];
}
const disposeSymbol = Symbol.dispose ?? Symbol.for('Symbol.dispose');

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Quota triples [limit, intervalMs, burst (0 = limit)] divided by `share`. */
export function divide(triples, share) {
  const out = [];
  for (let i = 0; i < triples.length; i += 3) {
    const burst = triples[i + 2] === 0 ? triples[i] : triples[i + 2];
    out.push({
      limit: Math.max(1, Math.floor(triples[i] / share)),
      interval: triples[i + 1],
      burst: Math.max(1, Math.floor(burst / share)),
    });
  }
  return out;
}

export class SharedAdmission {
  #store;
  #keys;
  #caps;
  #rate;
  #perKeyRate;
  #policy;
  #share;
  #hooks;
  #maxCost;
  #fallback;
  #lanes = new Map();
  #args = new Map();
  /** [limit, intervalMs, burst] per cell, globals first (for the figures). */
  #quotaList = [];
  #denied = new Map();
  #ids = 0;
  #process = `${process.pid}:${Date.now()}:${Math.random().toString(36).slice(2, 8)}`;

  /**
   * @param store the RedisStore
   * @param limits { concurrency, perKey, rate, perKeyRate (quota triples), onStoreError, localShare }
   * @param hooks { acquireLocal(key, cost, signal) -> Promise<release>, makeLocal(opts) -> Limiter }
   */
  constructor(store, limits, hooks) {
    const policy = limits.onStoreError ?? 'closed';
    if (!POLICIES.includes(policy)) {
      throw new RangeError(`option 'onStoreError' must be one of ${POLICIES.map((p) => `'${p}'`).join(', ')}, got ${String(policy)}`);
    }
    const share = limits.localShare ?? 1;
    if (!Number.isInteger(share) || share < 1) {
      throw new RangeError(`option 'localShare' must be a whole number >= 1, got ${share}`);
    }
    this.#store = store;
    this.#policy = policy;
    this.#share = share;
    this.#hooks = hooks;
    this.#caps = { concurrency: limits.concurrency, perKey: limits.perKey };
    this.#rate = limits.rate;
    this.#perKeyRate = limits.perKeyRate;
    this.#keys = new Keys(store.prefix, limits.concurrency !== undefined || limits.rate.length > 0);
    let maxCost = Infinity;
    for (const t of [limits.rate, limits.perKeyRate]) {
      for (let i = 0; i < t.length; i += 3) maxCost = Math.min(maxCost, t[i + 2] === 0 ? t[i] : t[i + 2]);
    }
    this.#maxCost = maxCost;
    for (const t of [limits.rate, limits.perKeyRate]) {
      for (let i = 0; i < t.length; i += 3) this.#quotaList.push([t[i], t[i + 1], t[i + 2] === 0 ? t[i] : t[i + 2]]);
    }
    if (this.#hasCaps()) store.subscribe();
  }

  #hasCaps() {
    return this.#caps.concurrency !== undefined || this.#caps.perKey !== undefined;
  }

  /** `fn({signal})` once admitted; resolves to its result. */
  async run(fn, key, cost, signal) {
    const release = await this.acquire(key, cost, signal);
    try {
      return await fn(signal === undefined ? { signal: undefined } : { signal });
    } finally {
      release();
    }
  }

  /** Wait for admission everywhere; resolves to a release function. */
  async acquire(key, cost, signal) {
    if (cost > this.#maxCost) {
      throw new RangeError(`cost ${cost} exceeds a quota's burst (${this.#maxCost}): it can never be admitted`);
    }
    const releaseLocal = await this.#hooks.acquireLocal(key, cost, signal);
    let lease;
    let fallback;
    try {
      try {
        if (this.#hasCaps()) lease = await this.#takeLease(key, cost, signal);
        await this.#takeRate(key, cost, signal);
      } catch (error) {
        if (error?.name !== 'StoreError') throw error;
        fallback = await this.#onFailure(error, key, cost, signal);
      }
    } catch (error) {
      releaseLocal();
      if (lease) this.#release(lease);
      throw error;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      releaseLocal();
      fallback?.();
      if (lease) this.#release(lease);
    };
    release[disposeSymbol] = release;
    return release;
  }

  async #onFailure(error, key, cost, signal) {
    if (this.#policy === 'closed') throw error;
    if (this.#policy === 'open') return undefined;
    this.#fallback ??= this.#hooks.makeLocal({
      concurrency: this.#caps.concurrency === undefined ? undefined : Math.max(1, Math.floor(this.#caps.concurrency / this.#share)),
      perKey: this.#caps.perKey === undefined ? undefined : Math.max(1, Math.floor(this.#caps.perKey / this.#share)),
      rate: divide(this.#rate, this.#share),
      perKeyRate: divide(this.#perKeyRate, this.#share),
    });
    return await this.#fallback.acquire({ key, cost, signal });
  }

  #leaseSets(key) {
    const sets = [];
    const caps = [];
    if (this.#caps.concurrency !== undefined) {
      sets.push(this.#keys.globalLeases());
      caps.push(this.#caps.concurrency);
    }
    if (this.#caps.perKey !== undefined) {
      sets.push(this.#keys.keyLeases(key));
      caps.push(this.#caps.perKey);
    }
    return { sets, caps };
  }

  async #takeLease(key, cost, signal) {
    const { sets, caps } = this.#leaseSets(key);
    const id = `${this.#process}:${this.#ids++}`;
    const store = this.#store;
    for (;;) {
      const generation = store.releases; // read before the attempt: no release is missed
      const r = await store.call('lease', 'lease', sets, ['', 'acquire', id, cost, Math.ceil(store.leaseMs), '', ...caps]);
      if (Number(r[0]) === 1) {
        const lease = { sets, id, cost, timer: undefined };
        lease.timer = setInterval(() => this.#renew(lease), store.leaseMs / 3);
        lease.timer.unref?.();
        return lease;
      }
      const earliest = Number(r[2]);
      if (earliest < 0) {
        throw new RangeError(`cost ${cost} exceeds the cap ${caps[Number(r[1]) - 1]}: it can never be admitted`);
      }
      await store.waitRelease(generation, Math.max(0, earliest - Number(r[3])) + 1, signal);
    }
  }

  #renew(lease) {
    this.#store
      .call('renew', 'lease', lease.sets, ['', 'renew', lease.id, lease.cost, Math.ceil(this.#store.leaseMs), ''])
      .then((r) => {
        if (Number(r[0]) !== 1) clearInterval(lease.timer); // lost: it had expired
      })
      .catch(() => {}); // counted in stats; the lease may expire
  }

  #release(lease) {
    clearInterval(lease.timer);
    this.#store
      .call('release', 'lease', lease.sets, ['', 'release', lease.id, lease.cost, 0, this.#keys.releaseChannel()])
      .catch(() => {}); // counted in stats; the lease expires by itself
  }

  /**
   * The script's arguments for `cost`: per cell its limit, span(cost) and
   * tolerance in the script's radix (seconds, ns, fraction of 1/limit ns),
   * computed exactly with BigInt (see gcra.lua); cached per cost.
   */
  #argsFor(cost, figures = false) {
    const slot = figures ? -cost - 1 : cost;
    let args = this.#args.get(slot);
    if (args !== undefined) return args;
    // gcra.lua's template: a check (consumed when admitted), with or without
    // the figures; n cells; one pause key; the cost (the ramp's spacing
    // after a pause counts it); the cells' numbers.
    args = ['1', figures ? '1' : '0', 0, 1, cost];
    for (const t of [this.#rate, this.#perKeyRate]) {
      for (let i = 0; i < t.length; i += 3) {
        const limit = t[i];
        const burst = t[i + 2] === 0 ? limit : t[i + 2];
        const iv = intervalNs(t[i + 1]);
        args.push(limit, ...radix(BigInt(cost) * iv, limit), ...radix(BigInt(burst) * iv, limit));
        args[2]++;
      }
    }
    if (this.#args.size < 64) this.#args.set(slot, args);
    return args;
  }

  /** The keys of `key`'s cells (globals first) and its pause. */
  #cellKeys(key) {
    const keys = [];
    const t = this.#rate;
    for (let i = 0; i < t.length; i += 3) keys.push(this.#keys.globalRate(t[i], t[i + 1], t[i + 2]));
    const k = this.#perKeyRate;
    for (let i = 0; i < k.length; i += 3) keys.push(this.#keys.keyRate(key, k[i], k[i + 1], k[i + 2]));
    keys.push(this.#keys.pause(key));
    return keys;
  }

  /** One gcra.lua call: true when admitted; else the denial is cached. */
  async #tryRate(key, cost) {
    const r = await this.#store.decide(this.#cellKeys(key), this.#argsFor(cost));
    if (Number(r[0]) === 1) return true;
    const now = performance.now();
    // The wait as (seconds, ns), exact integers.
    const until = now + Number(r[1]) * 1e3 + Number(r[2]) / 1e6;
    this.#denied.set(key, Math.max(until, this.#denied.get(key) ?? 0));
    if (this.#denied.size > 4096) {
      for (const [k, t] of this.#denied) if (t <= now) this.#denied.delete(k);
    }
    return false;
  }

  async #takeRate(key, cost, signal) {
    // Nobody of this process waits on the key and it is not known denied:
    // straight to the store (concurrent callers' decisions are batched into
    // one call, decided in the order they arrived).
    if (!this.#lanes.has(key) && !((this.#denied.get(key) ?? 0) > performance.now())) {
      if (await this.#tryRate(key, cost)) return;
    }
    // Otherwise queue: FIFO per key within the process, one caller at a time
    // talking to the store, and none before the cached "denied until".
    const previous = this.#lanes.get(key);
    let done;
    const mine = new Promise((resolve) => (done = resolve));
    this.#lanes.set(key, mine);
    try {
      if (previous !== undefined) await previous;
      for (;;) {
        const until = this.#denied.get(key);
        if (until !== undefined) {
          const left = until - performance.now();
          if (left > 0) await sleep(left, signal);
          if (this.#denied.get(key) === until) this.#denied.delete(key);
        }
        if (await this.#tryRate(key, cost)) return;
      }
    } finally {
      done();
      if (this.#lanes.get(key) === mine) this.#lanes.delete(key);
    }
  }

  /**
   * One decision now, never waiting (the guard's): `{ busy: true }` when a
   * shared cap is full; else the rate decision with its figures
   * ([limit, remaining, resetNs, retryNs, intervalMs], or null without
   * quotas): `{ release, figures }` when admitted (call `release` when the
   * work ends), `{ waitNs, figures }` when not. Rejects with a StoreError.
   */
  async tryAdmit(key, cost) {
    let lease;
    if (this.#hasCaps()) {
      lease = await this.#tryLease(key, cost);
      if (lease === undefined) return { busy: true };
    }
    try {
      const r = await this.#store.decide(this.#cellKeys(key), this.#argsFor(cost, true));
      const figures = this.#quotaList.length === 0 ? null : figuresOf(this.#quotaList, r);
      if (Number(r[0]) === 1) {
        let held = true;
        const release = () => {
          if (!held) return;
          held = false;
          if (lease) this.#release(lease);
        };
        return { release, figures };
      }
      if (lease) this.#release(lease);
      return { waitNs: Number(r[1]) * 1e9 + Number(r[2]), figures };
    } catch (error) {
      if (lease) this.#release(lease);
      throw error;
    }
  }

  /** One lease attempt: the lease, or undefined when a cap is full. */
  async #tryLease(key, cost) {
    const { sets, caps } = this.#leaseSets(key);
    const id = `${this.#process}:${this.#ids++}`;
    const store = this.#store;
    const r = await store.call('lease', 'lease', sets, ['', 'acquire', id, cost, Math.ceil(store.leaseMs), '', ...caps]);
    if (Number(r[0]) !== 1) return undefined;
    const lease = { sets, id, cost, timer: undefined };
    lease.timer = setInterval(() => this.#renew(lease), store.leaseMs / 3);
    lease.timer.unref?.();
    return lease;
  }

  /**
   * Hold every process's acquires of `key` for `ms` (a shared cooldown); then
   * the key eases back in, as the core's pauses do (pause.lua).
   */
  pause(key, ms) {
    const store = this.#store;
    const ns = String(BigInt(Math.round(ms * 1e6)));
    return store.call('pause', 'pause', [this.#keys.pause(key)], ['', ns, '1', store.ttlSlackMs]).then(() => undefined);
  }

  /** The store's counters. */
  stats() {
    return this.#store.stats();
  }
}
