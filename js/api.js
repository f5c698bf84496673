// The public JS API of weir: thin glue over the wasm classes. Every limiting
// decision is made in Rust (crate `weir`); this file validates options, turns
// permit ids into release functions, links AbortSignals to tickets and runs
// the asCompleted pull loop. It imports no host API and is shared by every
// loader (index.js, node.js, workerd.js), which initialise the
// wasm before any of this is called.
import { RawLimiter } from './wasm/weir_wasm.js';
import { limitedFetch, fetchStatsOf } from './fetch.js';
import { optionChecks } from './options.js';
import { abortReason } from './abort-reason.js';
import { onAbort } from './on-abort.js';
import { MAX_DURATION_MS } from './timers.js';

import { fromCore } from './errors.js';

export { QueueFullError, TimeoutError, QueueTimeoutError, BodyTimeoutError } from './errors.js';
export { fetchKeyOf } from './fetch.js';

const MUST_WAIT = 0;
/** What `drain` reports for a parked wait that failed (see `takeError`). */
const FAILED = -1;
const disposeSymbol = Symbol.dispose ?? Symbol.for('Symbol.dispose');
/** What `fn` of a `run` without a signal receives (one object for all). */
const NO_SIGNAL = Object.freeze({ signal: undefined });
/** No rate quotas (RawLimiter's `rate`/`perKeyRate` arguments). */
const NO_QUOTAS = new Float64Array(0);
/** The wasm limiter behind a `Limiter` (set in its static block). */
let rawOf;

// ---------------------------------------------------------------- validation

const { whole, cap, duration, quotas } = optionChecks('');

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

/** `pause`'s `ms`: a number from 0 to `MAX_DURATION_MS`. */
function pauseMs(ms) {
  if (typeof ms !== 'number') throw new TypeError(`pause: 'ms' must be a number, got ${typeof ms}`);
  if (!(ms >= 0 && ms <= MAX_DURATION_MS)) {
    throw new RangeError(`pause: 'ms' must be a number from 0 to ${MAX_DURATION_MS}, got ${ms}`);
  }
  return ms;
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

// ------------------------------------------------------------- the two paths

/**
 * The contended path (Limiter, KeyedSemaphore, RateLimiter), without a
 * Promise from Rust: the wait is
 * parked in wasm under a ticket, and what settles it waits here, under the
 * same ticket, until a drain (scheduled by the wasm side through `notify`)
 * reports it. Resolves to a permit id; an abort cancels the parked wait at once.
 */
function parkForPermit(parking, key, cost, signal) {
  const id = admitOrPark(parking, key, cost);
  if (id !== MUST_WAIT) return id;
  const ticket = parking.parkingTicket;
  return new Promise((resolve, reject) => {
    let remove;
    const settle = (granted, error) => {
      remove?.();
      if (granted === FAILED) reject(error);
      else resolve(granted);
    };
    parking.runs[ticket] = null;
    parking.settles[ticket] = settle;
    if (signal) {
      remove = onAbort(signal, () => {
        if (parking.settles[ticket] !== settle) return; // settled meanwhile
        parking.forget(ticket);
        parking.raw.cancel(ticket);
        reject(abortReason(signal));
      });
    }
  });
}

/**
 * `limiter.run(fn)` without a signal on the contended path. Consecutive
 * waiting calls share a Cohort (up to COHORT of them): each gets
 * `cohort.gate.then(cohort.step)`, one derived Promise and one reaction on
 * the shared gate, instead of a Promise with resolving functions of its
 * own. `fn` waits in `runs` under the ticket, the cohort and the call's
 * place in it in `settles` and `places`.
 */
function parkToRun(parking, key, cost, fn) {
  const id = admitOrPark(parking, key, cost);
  if (id !== MUST_WAIT) return runHolding(parking.raw, id, fn, undefined);
  const ticket = parking.parkingTicket;
  let cohort = parking.cohort;
  if (cohort === null || cohort.size === COHORT) cohort = parking.cohort = new Cohort(parking);
  parking.runs[ticket] = fn;
  parking.settles[ticket] = cohort;
  parking.places[ticket] = cohort.size;
  cohort.size += 1;
  return cohort.gate.then(cohort.step);
}

/** How many waiting `run` calls share one gate. */
const COHORT = 256;

/** What a parked `run` that failed in the core settles with (made into a rejection only when taken). */
class Failure {
  constructor(error) {
    this.error = error;
  }
}

/**
 * Waiting `run` calls sharing one gate Promise. The gate opens when the
 * first of them is admitted; its reactions then call `step` once per call,
 * in the order the calls were made (reactions of one Promise run in order),
 * and each step returns that call's result: the run's Promise when it was
 * admitted already, else a Promise whose resolve waits in `resolves` for
 * its admission. Until the gate opens a call holds no resolving functions.
 */
class Cohort {
  constructor(parking) {
    this.parking = parking;
    /** Calls that joined. */
    this.size = 0;
    /** Steps taken (calls whose Promise has asked for its result). */
    this.taken = 0;
    this.open = null;
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
    /** By place: the result of a call admitted before its step. */
    this.results = [];
    /** By place: the resolve of a step that came before its call was admitted. */
    this.resolves = [];
    this.step = () => this.take();
  }

  take() {
    const place = this.taken;
    this.taken += 1;
    const result = this.results[place];
    if (result !== undefined) {
      this.results[place] = undefined;
      return result instanceof Failure ? Promise.reject(result.error) : result;
    }
    return new Promise((resolve) => {
      this.resolves[place] = resolve;
    });
  }

  /** The call at `place` is admitted (its run's Promise) or failed (a Failure). */
  settle(place, result) {
    if (place < this.taken) {
      const resolve = this.resolves[place];
      this.resolves[place] = undefined;
      resolve(result instanceof Failure ? Promise.reject(result.error) : result);
      return;
    }
    this.results[place] = result;
    if (this.open !== null) {
      this.open();
      this.open = null;
      // Opened: later calls start a cohort of their own.
      if (this.parking.cohort === this) this.parking.cohort = null;
    }
  }
}

/**
 * Admit now (a permit id) or park in wasm under a fresh ticket (`MUST_WAIT`;
 * the ticket is then `parking.parkingTicket`, for the caller to file its
 * settler under before anything else can park).
 */
function admitOrPark(parking, key, cost) {
  const ticket = parking.take();
  let id;
  try {
    id = parking.raw.acquireOrPark(key, cost, ticket, parking.notify);
  } catch (error) {
    parking.give(ticket);
    throw fromCore(error);
  }
  if (id !== MUST_WAIT) {
    parking.give(ticket);
    return id;
  }
  parking.parkingTicket = ticket;
  return MUST_WAIT;
}

/**
 * Run a parked `run`'s `fn` holding permit `id`: the Promise of its result
 * (the permit goes back when it settles), or a Failure when `fn` throws.
 */
function startParked(raw, id, fn) {
  let work;
  try {
    work = fn(NO_SIGNAL);
  } catch (error) {
    raw.release(id);
    return new Failure(error);
  }
  const done = Promise.resolve(work);
  const release = () => {
    raw.release(id);
  };
  done.then(release, release);
  return done;
}

/** Ticket tables up to this many entries stay allocated while idle. */
const KEEP_TICKETS = 1024;

/**
 * The wasm side's parking state for one RawLimiter (of a Limiter,
 * KeyedSemaphore or RateLimiter), and its drain. Tickets are
 * small integers, reused; a ticket freed while a drain runs (user code runs
 * inside it) is reused only after the drain, so a report still in the
 * drain's batch can never settle the ticket's next owner.
 */
function parkingFor(raw) {
  const parking = {
    raw,
    /** By ticket: the `fn` of a parked `run`, or `null` for a bare permit wait. */
    runs: [],
    /** By ticket: the Cohort of a parked `run`, or `settle(id, error)` of a permit wait. */
    settles: [],
    free: [],
    freedInDrain: [],
    /** Tickets ever made (the next new one is `made + 1`). */
    made: 0,
    draining: false,
    notify: null,
    /** The ticket of the wait parked last (for its caller to file its settler under). */
    parkingTicket: 0,
    /** By ticket: a parked `run`'s place in its Cohort. */
    places: [],
    /** The Cohort that waiting `run` calls join, until it is full or opens. */
    cohort: null,
    take() {
      return parking.free.length !== 0 ? parking.free.pop() : (parking.made += 1);
    },
    give(ticket) {
      if (parking.draining) {
        parking.freedInDrain.push(ticket);
      } else {
        parking.free.push(ticket);
        parking.shrinkIfIdle();
      }
    },
    /** Every ticket free again after a crowd: let go of its tables. */
    shrinkIfIdle() {
      if (parking.made > KEEP_TICKETS && parking.free.length === parking.made) {
        parking.runs = [];
        parking.settles = [];
        parking.places = [];
        parking.free = [];
        parking.made = 0;
      }
    },
    forget(ticket) {
      parking.runs[ticket] = undefined;
      parking.settles[ticket] = undefined;
      parking.places[ticket] = undefined;
      parking.give(ticket);
    },
  };
  const drain = () => {
    const done = raw.drain();
    const { runs, settles } = parking;
    parking.draining = true;
    try {
      for (let i = 0; i < done.length; i += 2) {
        const ticket = done[i];
        const id = done[i + 1];
        const settle = settles[ticket];
        if (settle === undefined) {
          // Given up on in the same turn: never leak the permit.
          if (id === FAILED) raw.takeError(ticket);
          else raw.release(id);
          continue;
        }
        const fn = runs[ticket];
        const place = parking.places[ticket];
        parking.forget(ticket);
        if (fn !== null) {
          // A parked `run`: `settle` is its Cohort.
          settle.settle(place, id === FAILED ? new Failure(fromCore(raw.takeError(ticket))) : startParked(raw, id, fn));
        } else if (id === FAILED) {
          settle(FAILED, fromCore(raw.takeError(ticket)));
        } else {
          settle(id, undefined);
        }
      }
    } finally {
      parking.draining = false;
      const later = parking.freedInDrain;
      for (let i = 0; i < later.length; i += 1) parking.free.push(later[i]);
      later.length = 0;
      parking.shrinkIfIdle();
    }
  };
  parking.notify = () => queueMicrotask(drain);
  return parking;
}

/** A Limiter permit id (uncontended: one synchronous wasm call) or a Promise of one. */
function limiterPermit(parking, key, cost, signal) {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const id = parking.raw.tryAcquire(key, cost);
  if (id === FAILED) throw fromCore(parking.raw.lastError());
  if (id !== MUST_WAIT) return id;
  return parkForPermit(parking, key, cost, signal);
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
  let work;
  try {
    work = Promise.resolve(fn(signal === undefined ? NO_SIGNAL : { signal }));
  } catch (error) {
    raw.release(id);
    return Promise.reject(error);
  }
  const release = () => {
    raw.release(id);
  };
  work.then(release, release);
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const remove = onAbort(signal, () => reject(abortReason(signal)));
    work.then(
      (value) => {
        remove();
        resolve(value);
      },
      (error) => {
        remove();
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
  #parking;

  static {
    rawOf = (limiter) => limiter.#raw;
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
      if (signal === undefined) {
        const raw = this.#raw;
        id = key === '' ? raw.tryAcquireUnkeyed(cost) : raw.tryAcquire(key, cost);
        if (id === FAILED) throw fromCore(raw.lastError());
        if (id !== MUST_WAIT) return runHolding(raw, id, fn, undefined);
        return parkToRun(this.#parking, key, cost, fn);
      }
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
    if (id === FAILED) throw fromCore(this.#raw.lastError());
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
    this.#raw.pauseFor(keyOf(key), pauseMs(ms));
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
  return limitedFetch(this, rawOf(this), input, init);
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
 * (being pulled, running, waiting for admission, or finished but not yet
 * consumed), and the source is pulled only when the consumer asks for the
 * next result. Results are yielded in completion order, as
 * `{ status, value | reason }` records (like `Promise.allSettled`: one failure
 * does not end the stream) or, with `failFast`, as bare values with the first
 * error thrown. Leaving early
 * (`break`, `return()`, a thrown error, an abort) stops pulling, closes the
 * source and aborts what is in flight through the signal each mapper got.
 *
 * A hand-written async iterator rather than an async generator: the hot path
 * per item is one synchronous pull (for a sync source), one wasm call to
 * admit, the mapper, one `then` on its result, one wasm call to release.
 */
function pullAsCompleted(limiter, source, mapper, o) {
  if (mapper !== undefined && mapper !== null && typeof mapper !== 'function') {
    throw new TypeError("'mapper' must be a function (or omitted for a source of thunks)");
  }
  const cost = o.cost === undefined ? 1 : whole(o.cost, 'cost');
  const outer = signalOf(o.signal);
  const lease = o.lease === true && typeof o.key !== 'function';
  return new Completions(limiter, source, mapper || null, o.key, cost, outer, o.window, !o.failFast, lease);
}

/** A run slot's id while it holds one unit of the iteration's lease. */
const LEASED = -2;

const DONE = Object.freeze({ value: undefined, done: true });
const NO_ERROR = Symbol('weir.noError');

class Completions {
  #limiter;
  #raw;
  #iterator;
  #isAsync;
  #mapper;
  #keyFn;
  #key;
  #cost;
  #outer;
  #onOuterAbort;
  #window;
  #settle;
  #controller = new AbortController();
  #inner = this.#controller.signal;
  /** What every mapper gets as its second argument (one object for all items). */
  #mapperOpts = Object.freeze({ signal: this.#inner });
  /** `#inner.aborted`, kept by the first abort listener (a field read, not a getter call, per pull). */
  #aborted = false;
  /** Finished results not yet consumed: flat pairs (ok, value) from #head. */
  #finished = [];
  #head = 0;
  /** Waiting `next()` calls: flat pairs (resolve, reject). */
  #requests = [];
  /** Free run slots: each holds a permit id and its two settle callbacks,
   * made once, so an item costs no closures of its own. */
  #slots = [];
  #outstanding = 0; // pulled (or being pulled) and not yet yielded
  #pulling = false;
  #filling = false;
  #sourceDone = false;
  #error = NO_ERROR; // the source threw; ends the iteration at the next answer
  #closed = false;
  #started = false;
  /**
   * Leasing (only for the limiter `limitedAsCompleted` makes for itself, with
   * one key and no rate quota, so nobody else queues on it): units are taken
   * from the core `window` at a time under one permit id, and a finished
   * item's unit goes to the next item without a call. They go back to the
   * core when an item of ours has to queue there, and when the iteration ends.
   */
  #leasing;
  #lease = 0; // the permit id holding the leased units (0: none yet)
  #spare = 0; // leased units no item holds
  #parked = 0; // items waiting in the core's queue

  constructor(limiter, source, mapper, key, cost, outer, window, settle, leasing) {
    this.#isAsync = source != null && typeof source[Symbol.asyncIterator] === 'function';
    this.#iterator = iteratorOf(source);
    this.#limiter = limiter;
    this.#raw = rawOf(limiter);
    this.#mapper = mapper;
    this.#keyFn = typeof key === 'function' ? key : null;
    this.#key = typeof key === 'function' ? '' : keyOf(key);
    this.#cost = cost;
    this.#outer = outer;
    this.#window = window;
    this.#settle = settle;
    this.#leasing = leasing;
    this.#onOuterAbort = () => this.#controller.abort(abortReason(outer));
    this.#inner.addEventListener('abort', () => {
      this.#aborted = true;
      this.#serve();
    }, { once: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next() {
    if (this.#closed) return Promise.resolve(DONE);
    if (!this.#started) {
      this.#started = true;
      const outer = this.#outer;
      if (outer) {
        if (outer.aborted) {
          this.#closed = true;
          return Promise.reject(abortReason(outer));
        }
        outer.addEventListener('abort', this.#onOuterAbort, { once: true });
      }
    }
    if (this.#requests.length === 0) {
      this.#fill();
      const answer = this.#answer();
      if (answer !== null) return answer;
    }
    return new Promise((resolve, reject) => {
      this.#requests.push(resolve, reject);
    });
  }

  return(value) {
    if (this.#closed) return Promise.resolve({ value, done: true });
    return this.#close().then(() => ({ value, done: true }));
  }

  throw(error) {
    if (this.#closed) return Promise.reject(error);
    return this.#close().then(() => Promise.reject(error));
  }

  /**
   * Pull while the window has room: synchronously for a sync source, one
   * step at a time for an async one (its continuation pulls again only while
   * a `next()` is waiting, so the source never runs ahead of the consumer).
   */
  #fill() {
    const iterator = this.#iterator;
    this.#filling = true;
    while (!this.#sourceDone && !this.#pulling && this.#outstanding < this.#window
      && !this.#closed && !this.#aborted && this.#error === NO_ERROR) {
      this.#outstanding += 1;
      let step;
      try {
        step = iterator.next();
      } catch (error) {
        this.#sourceFailed(error);
        break;
      }
      if (!this.#isAsync) {
        this.#took(step);
        continue;
      }
      this.#pulling = true;
      Promise.resolve(step).then(
        (s) => {
          this.#pulling = false;
          if (this.#closed) return;
          this.#took(s);
          this.#serve();
        },
        (error) => {
          this.#pulling = false;
          if (this.#closed) return;
          this.#sourceFailed(error);
          this.#serve();
        },
      );
    }
    this.#filling = false;
  }

  #sourceFailed(error) {
    this.#sourceDone = true; // a throwing iterator is finished
    this.#outstanding -= 1;
    this.#error = error;
    this.#giveBackSpare();
  }

  #took(step) {
    if (step.done) {
      this.#sourceDone = true;
      this.#outstanding -= 1;
      this.#giveBackSpare(); // no item will start again
    } else {
      this.#start(step.value);
    }
  }

  /** Admit and run one item: uncontended, one wasm call in and one out. */
  #start(item) {
    const raw = this.#raw;
    let key = this.#key;
    let id;
    try {
      if (this.#keyFn !== null) key = keyOf(this.#keyFn(item));
      if (this.#spare !== 0) {
        this.#spare -= 1;
        id = LEASED;
      } else if (this.#leasing && this.#lease === 0) {
        id = this.#takeLease(key);
      } else {
        id = key === '' ? raw.tryAcquireUnkeyed(this.#cost) : raw.tryAcquire(key, this.#cost);
      }
      if (id === FAILED) throw fromCore(raw.lastError());
    } catch (error) {
      this.#done(false, error);
      return;
    }
    if (id === MUST_WAIT) {
      // Contended: the general path, which also cancels the wait on abort.
      // Spare leased units go back first: this item may be waiting for them.
      this.#giveBackSpare();
      this.#parked += 1;
      const work = (opts) => this.#call(item, opts);
      this.#limiter.run(work, { key, cost: this.#cost, signal: this.#inner }).then(
        (value) => {
          this.#parked -= 1;
          this.#done(true, value);
        },
        (reason) => {
          this.#parked -= 1;
          this.#done(false, reason);
        },
      );
      return;
    }
    let out;
    try {
      out = this.#call(item, this.#mapperOpts);
    } catch (error) {
      this.#releaseUnit(id);
      this.#done(false, error);
      return;
    }
    if (id === LEASED) {
      // A leased unit: every such item settles through the same two
      // callbacks (nothing per item, nor per window slot, kept while it runs).
      if (out instanceof Promise) out.then(this.#leasedOk, this.#leasedFailed);
      else Promise.resolve(out).then(this.#leasedOk, this.#leasedFailed);
      return;
    }
    const slot = this.#slots.pop() ?? this.#newSlot();
    slot.id = id;
    if (out instanceof Promise) out.then(slot.ok, slot.failed);
    else Promise.resolve(out).then(slot.ok, slot.failed);
  }

  /** How an item holding a leased unit settles. */
  #leasedOk = (value) => {
    this.#releaseUnit(LEASED);
    this.#done(true, value);
  };

  #leasedFailed = (reason) => {
    this.#releaseUnit(LEASED);
    this.#done(false, reason);
  };

  /**
   * Lease up to `window` units of `key` in one core call; this item takes one
   * of them. Returns `LEASED`, or what `tryAcquire` returns when none fits.
   */
  #takeLease(key) {
    const raw = this.#raw;
    const id = raw.tryAcquireMany(key, this.#cost, this.#window);
    if (id === MUST_WAIT || id === FAILED) return id;
    this.#lease = id;
    this.#spare = raw.permitsOf(id) / this.#cost - 1;
    return LEASED;
  }

  /** Return a finished item's permit: a leased unit stays for the next item
   * unless somebody of ours waits in the core queue or the iteration ended. */
  #releaseUnit(id) {
    if (id !== LEASED) {
      this.#raw.release(id);
    } else if (this.#parked !== 0 || this.#closed || this.#sourceDone) {
      this.#raw.releasePart(this.#lease, this.#cost);
    } else {
      this.#spare += 1;
    }
  }

  #giveBackSpare() {
    if (this.#spare === 0) return;
    this.#raw.releasePart(this.#lease, this.#spare * this.#cost);
    this.#spare = 0;
  }

  /** A run slot: the permit it holds and the callbacks that release it. */
  #newSlot() {
    const slot = { id: 0, ok: null, failed: null };
    slot.ok = (value) => {
      this.#releaseUnit(slot.id);
      this.#slots.push(slot);
      this.#done(true, value);
    };
    slot.failed = (reason) => {
      this.#releaseUnit(slot.id);
      this.#slots.push(slot);
      this.#done(false, reason);
    };
    return slot;
  }

  #call(item, opts) {
    return this.#mapper !== null ? this.#mapper(item, opts) : item(opts);
  }

  /** A task finished: answer a waiting `next()` with it, or keep it. */
  #done(ok, value) {
    if (this.#closed) return;
    const requests = this.#requests;
    if (requests.length === 2 && (ok || this.#settle) && this.#head === this.#finished.length
      && !this.#filling && !this.#aborted && this.#error === NO_ERROR) {
      // The common case: one consumer waiting, nothing else buffered.
      const resolve = requests[0];
      requests.length = 0;
      this.#outstanding -= 1;
      // The next pull waits for the consumer's next `next()`: laziness.
      resolve({ value: this.#record(ok, value), done: false });
      return;
    }
    this.#finished.push(ok, value);
    if (!this.#filling) this.#serve();
  }

  /** What the consumer sees for a result: a settled record, or the bare value. */
  #record(ok, value) {
    if (!this.#settle) return value;
    return ok ? { status: 'fulfilled', value } : { status: 'rejected', reason: value };
  }

  /** Answer waiting `next()` calls while there is something to answer. */
  #serve() {
    while (this.#requests.length !== 0 && !this.#closed) {
      this.#fill();
      // Take the request first: an answer that ends the iteration settles
      // the requests still waiting with `DONE`.
      const resolve = this.#requests.shift();
      const reject = this.#requests.shift();
      const answer = this.#answer();
      if (answer === null) {
        this.#requests.unshift(resolve, reject);
        return;
      }
      answer.then(resolve, reject);
    }
  }

  /** The answer to a `next()` now, or `null` when it has to wait. */
  #answer() {
    if (this.#error !== NO_ERROR) {
      const error = this.#error;
      this.#error = NO_ERROR;
      return this.#end(error, true);
    }
    if (this.#aborted) return this.#end(abortReason(this.#inner), true);
    if (this.#head < this.#finished.length) return this.#deliver();
    if (this.#outstanding === 0 && this.#sourceDone) return this.#end(DONE, false);
    return null;
  }

  /** The oldest finished result as a `next()` answer. */
  #deliver() {
    const finished = this.#finished;
    const head = this.#head;
    const ok = finished[head];
    const value = finished[head + 1];
    finished[head + 1] = undefined;
    this.#head = head + 2;
    if (this.#head === finished.length) {
      finished.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024) {
      finished.splice(0, this.#head);
      this.#head = 0;
    }
    this.#outstanding -= 1;
    if (ok || this.#settle) return Promise.resolve({ value: this.#record(ok, value), done: false });
    return this.#end(value, true);
  }

  /** Close, then answer with `DONE` or reject with `error`. */
  #end(outcome, isError) {
    return this.#close().then(() => (isError ? Promise.reject(outcome) : outcome));
  }

  /**
   * Stop pulling, abort what is in flight, close the source (awaiting its
   * `return()`, unless a read-ahead pull of an async source is still
   * pending: an async generator queues `return()` behind that pull, which
   * may never settle, so it is called but not awaited); other waiting
   * `next()` calls then get `DONE`.
   */
  #close() {
    this.#closed = true;
    this.#giveBackSpare();
    if (this.#outer) this.#outer.removeEventListener('abort', this.#onOuterAbort);
    const requests = this.#requests;
    this.#requests = [];
    this.#finished = [];
    this.#head = 0;
    if (this.#outstanding > 0 || !this.#sourceDone) {
      this.#controller.abort(new DOMException('asCompleted was closed early', 'AbortError'));
    }
    let closing;
    if (!this.#sourceDone && typeof this.#iterator.return === 'function') {
      this.#sourceDone = true;
      try {
        closing = Promise.resolve(this.#iterator.return());
      } catch (error) {
        closing = Promise.reject(error);
      }
      if (this.#pulling) {
        closing.catch(() => {});
        closing = Promise.resolve();
      }
    } else {
      closing = Promise.resolve();
    }
    return closing.then(() => {
      for (let i = 0; i < requests.length; i += 2) requests[i](DONE);
    });
  }
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
  // The limiter is this iteration's alone: with one key and no rate quota,
  // permits can be leased in bulk and passed from item to item.
  const lease = o.rate === undefined && o.perKeyRate === undefined;
  return pullAsCompleted(limiter, source, mapper, { ...o, window, lease });
}

// ----------------------------------------------------------- KeyedSemaphore

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
    if (id === FAILED) throw fromCore(raw.lastError());
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
    const s = this.#raw.stats(); // [inFlight, queued, keys, …]
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
    if (retryAfterMs === FAILED) throw fromCore(this.#raw.lastError());
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
    if (wait === FAILED) throw fromCore(raw.lastError());
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
    return { keys: this.#raw.stats()[3] }; // [inFlight, queued, keys, rateKeys, …]
  }
}

// -------------------------------------------------------------------- guard

export { guard, toNodeHandler } from './guard.js';
