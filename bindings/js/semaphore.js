// `KeyedSemaphore`: a global in-flight cap plus a per-key cap, FIFO per key,
// no head-of-line blocking across keys (the core's semaphore).
//
// Guarantees: asking for more than a cap is a RangeError, not a hang; an
// aborted wait leaves the queue at once; release functions are idempotent.
import { RawLimiter, MUST_WAIT, FAILED, lastError, statsOf } from './boundary.js';
import { options, keyOf, signalOf, optionChecks } from './options.js';
import { parkingFor, limiterPermit } from './parking.js';
import { releaser } from './permit.js';

const { whole, cap } = optionChecks('');
/** No rate quotas (RawLimiter's `rate`/`perKeyRate` arguments). */
const NO_QUOTAS = new Float64Array(0);

/** A global in-flight cap plus a per-key cap; FIFO per key. */
export class KeyedSemaphore {
  #raw;
  #parking;
  #limits;

  constructor(opts) {
    const o = options(opts, 'KeyedSemaphore', ['global', 'perKey']);
    const global = cap(o.global, 'global');
    const perKey = cap(o.perKey, 'perKey');
    this.#raw = new RawLimiter(global, perKey, NO_QUOTAS, NO_QUOTAS, undefined);
    this.#parking = parkingFor(this.#raw);
    this.#limits = { global, perKey };
  }

  /** Wait for `n` permits of `key`; resolves to a release function. */
  async acquire(key, n = 1, opts) {
    const o = options(opts, 'acquire', ['signal']);
    const signal = signalOf(o.signal);
    const k = keyOf(key);
    const c = whole(n, 'n');
    return releaser(this.#raw, await limiterPermit(this.#parking, k, c, signal));
  }

  /** `n` permits of `key` now, or `null`. */
  tryAcquire(key, n = 1) {
    const raw = this.#raw;
    const id = raw.tryAcquire(keyOf(key), whole(n, 'n'));
    if (id === FAILED) throw lastError(raw);
    return id === MUST_WAIT ? null : releaser(raw, id);
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
    const s = statsOf(this.#raw);
    return {
      inFlight: s.inFlight,
      waiting: s.queued,
      keys: s.keys,
      global: this.#limits.global ?? Infinity,
      perKey: this.#limits.perKey ?? Infinity,
    };
  }
}
