// The pull loop of `limitedAsCompleted` and `limiter.asCompleted`: map a
// sync or async iterable with at most `concurrency` items out at once,
// results in completion order (or input order), over a given limiter.
//
// Guarantees: the source is pulled only when the consumer asks and the
// pull rule has room; every outcome is delivered (or, with `failFast`, the
// first error ends the iteration); leaving early (`break`, `return()`, an
// error, an abort) stops pulling, closes the source and aborts in-flight
// work; every permit comes back. The pull rules are the core's state
// machines (core/src/as_completed: `Window`, `Reorder`, `Lookahead`),
// driven through `RawAsCompleted`:
// - completion order: at most `window` items out of the source (running,
//   waiting for admission, or finished and not yet consumed);
// - `ordered`: the same bound is the reorder window — an item that finished
//   early keeps its place until every earlier one is yielded; when all
//   places are taken the pull stops until the oldest finishes;
// - keyed look-ahead (a `key` function with `perKey`): at most `window`
//   items started and not yet yielded, at most `perKey` of them per key,
//   and up to `lookahead` items whose key is at its cap wait in a buffer
//   (not in the limiter's queue) while items of other keys start; when the
//   buffer is full the pull stops. Nothing is ever dropped.
import { MUST_WAIT, FAILED, NONE, RawAsCompleted, lastError } from './boundary.js';
import { keyOf, signalOf, optionChecks } from './options.js';
import { abortReason } from './abort-reason.js';

const { whole } = optionChecks('');

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
export function pullAsCompleted(limiter, raw, source, mapper, o) {
  if (mapper !== undefined && mapper !== null && typeof mapper !== 'function') {
    throw new TypeError("'mapper' must be a function (or omitted for a source of thunks)");
  }
  const cost = o.cost === undefined ? 1 : whole(o.cost, 'cost');
  const outer = signalOf(o.signal);
  if (o.ordered !== undefined && typeof o.ordered !== 'boolean') {
    throw new TypeError(`option 'ordered' must be a boolean, got ${typeof o.ordered}`);
  }
  // `perKey` and `lookahead` are set only by `limitedAsCompleted` (checked there).
  const perKey = o.ordered !== true && typeof o.key === 'function' && o.perKey !== undefined ? o.perKey : 0;
  const mode = o.ordered === true ? ORDERED : perKey !== 0 ? KEYED : WINDOW;
  const rule = mode !== WINDOW || CORE_WINDOW
    ? new RawAsCompleted(o.window, mode === ORDERED, perKey, o.lookahead ?? o.window)
    : null;
  const lease = o.lease === true && typeof o.key !== 'function';
  return new Completions(limiter, raw, source, mapper || null, o.key, cost, outer, o.window, !o.failFast, lease, mode, rule);
}

/** The pull rules (`RawAsCompleted`'s): completion order, input order, keyed look-ahead. */
const WINDOW = 0;
const ORDERED = 1;
const KEYED = 2;
/**
 * The one JS fast path: in completion order the window (the core's
 * `Window`: at most `window` items out) is counted here, by `#outstanding`,
 * instead of through `RawAsCompleted` (a `pull` and a `pop` per item).
 * Measured with `node bench/js/tasks.mjs --only 'p-map,weir limitedAsCompleted'
 * --big 0 --runs 5 --cpu` (Node 20, shared 2-core machine): through the core
 * 4.10–4.13 M tasks/CPU-s, here 4.48–4.68 M — the core-driven window costs
 * 10–12 % (more than the 5 % allowed). `true` drives it through the core
 * (the same rule, for re-measuring); ordered and keyed always are.
 */
const CORE_WINDOW = false;

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
  /** WINDOW, ORDERED or KEYED, and the core rule deciding for it (null: the JS window). */
  #mode;
  #rule;
  /** ORDERED: each place's outcome, flat pairs (ok, value) indexed by place. */
  #placed = null;
  /** KEYED: items waiting in the core's look-ahead buffer, by number. */
  #waiting = null;
  #number = 0;
  /**
   * KEYED: keys cross to the core as numbers: `#keyIds` (key → number) and
   * `#keyNames` (number → key); a number is reused (`#freeIds`) once the
   * core says its key is forgotten (nothing of it runs or waits).
   */
  #keyIds = null;
  #keyNames = null;
  #freeIds = null;
  /** KEYED: the key number of each result in `#finished` (null: never started). */
  #finishedKeys = null;
  #lease = 0; // the permit id holding the leased units (0: none yet)
  #spare = 0; // leased units no item holds
  #parked = 0; // items waiting in the core's queue

  constructor(limiter, raw, source, mapper, key, cost, outer, window, settle, leasing, mode, rule) {
    this.#isAsync = source != null && typeof source[Symbol.asyncIterator] === 'function';
    this.#iterator = iteratorOf(source);
    this.#limiter = limiter;
    this.#raw = raw;
    this.#mapper = mapper;
    this.#keyFn = typeof key === 'function' ? key : null;
    this.#key = typeof key === 'function' ? '' : keyOf(key);
    this.#cost = cost;
    this.#outer = outer;
    this.#window = window;
    this.#settle = settle;
    this.#leasing = leasing;
    this.#mode = mode;
    this.#rule = rule;
    if (mode === ORDERED) this.#placed = new Array(2 * window);
    if (mode === KEYED) {
      this.#waiting = new Map();
      this.#keyIds = new Map();
      this.#keyNames = [];
      this.#freeIds = [];
      this.#finishedKeys = [];
    }
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
    while (!this.#sourceDone && !this.#pulling && !this.#closed && !this.#aborted
      && this.#error === NO_ERROR
      && (this.#rule === null ? this.#outstanding < this.#window : this.#room())) {
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

  /**
   * Whether the pull rule lets one more item out of the source now (with
   * the core's `Window`, this counts it: call it last).
   */
  #room() {
    const rule = this.#rule;
    if (rule === null) return this.#outstanding < this.#window;
    if (this.#mode === WINDOW) return rule.pull() !== NONE;
    return rule.canPull();
  }

  /** A pull that brought no item (the source ended or threw). */
  #pulledNothing() {
    this.#outstanding -= 1;
    if (this.#mode === WINDOW && this.#rule !== null) this.#rule.pop();
  }

  /**
   * A result leaves (is yielded to the consumer): its place in the window,
   * and with the keyed rule its key's place, are free again (`key` null: an
   * item that never started).
   */
  #yielded(key) {
    this.#outstanding -= 1;
    const rule = this.#rule;
    if (rule === null) return;
    if (this.#mode === WINDOW) {
      rule.pop();
    } else if (this.#mode === KEYED && key !== null) {
      if (rule.done(key)) {
        this.#keyIds.delete(this.#keyNames[key]);
        this.#keyNames[key] = undefined;
        this.#freeIds.push(key);
      }
      // Items that waited for this key (or any slot) start now (an item
      // failing at once may end the iteration: then the rule is gone).
      for (let n = rule.nextStart(); n !== NONE; n = this.#rule === null ? NONE : rule.nextStart()) {
        const item = this.#waiting.get(n);
        this.#waiting.delete(n);
        this.#start(item.item, item.id);
      }
    }
  }

  #sourceFailed(error) {
    this.#sourceDone = true; // a throwing iterator is finished
    this.#pulledNothing();
    this.#error = error;
    this.#giveBackSpare();
  }

  #took(step) {
    if (step.done) {
      this.#sourceDone = true;
      this.#pulledNothing();
      this.#giveBackSpare(); // no item will start again
    } else if (this.#rule === null || this.#mode === WINDOW) {
      this.#start(step.value, undefined);
    } else if (this.#mode === ORDERED) {
      this.#start(step.value, this.#rule.pull());
    } else {
      this.#offer(step.value);
    }
  }

  /** KEYED: the core starts the item now, or it waits in the look-ahead buffer. */
  #offer(item) {
    let key;
    try {
      key = keyOf(this.#keyFn(item));
    } catch (error) {
      this.#done(false, error, null);
      return;
    }
    if (this.#closed) return; // the key function ended the iteration
    let id = this.#keyIds.get(key);
    if (id === undefined) {
      id = this.#freeIds.length !== 0 ? this.#freeIds.pop() : this.#keyNames.length;
      this.#keyIds.set(key, id);
      this.#keyNames[id] = key;
    }
    const n = this.#number;
    this.#number = n === NONE - 1 ? 0 : n + 1;
    if (this.#rule.offer(id, n) === NONE) this.#waiting.set(n, { item, id });
    else this.#start(item, id);
  }

  /**
   * Admit and run one item: uncontended, one wasm call in and one out.
   * `tag` goes with its outcome: the place (ORDERED), the key's number (KEYED).
   */
  #start(item, tag) {
    const raw = this.#raw;
    let key = this.#key;
    let id;
    try {
      if (this.#keyFn !== null) key = this.#mode === KEYED ? this.#keyNames[tag] : keyOf(this.#keyFn(item));
      if (this.#spare !== 0) {
        this.#spare -= 1;
        id = LEASED;
      } else if (this.#leasing && this.#lease === 0) {
        id = this.#takeLease(key);
      } else {
        id = key === '' ? raw.tryAcquireUnkeyed(this.#cost) : raw.tryAcquire(key, this.#cost);
      }
      if (id === FAILED) throw lastError(raw);
    } catch (error) {
      this.#settled(tag, false, error);
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
          this.#settled(tag, true, value);
        },
        (reason) => {
          this.#parked -= 1;
          this.#settled(tag, false, reason);
        },
      );
      return;
    }
    let out;
    try {
      out = this.#call(item, this.#mapperOpts);
    } catch (error) {
      this.#releaseUnit(id);
      this.#settled(tag, false, error);
      return;
    }
    if (id === LEASED && tag === undefined) { // completion order: no tag to carry
      // A leased unit: every such item settles through the same two
      // callbacks (nothing per item, nor per window slot, kept while it runs).
      if (out instanceof Promise) out.then(this.#leasedOk, this.#leasedFailed);
      else Promise.resolve(out).then(this.#leasedOk, this.#leasedFailed);
      return;
    }
    const slot = this.#slots.pop() ?? this.#newSlot();
    slot.id = id;
    slot.tag = tag;
    if (out instanceof Promise) out.then(slot.ok, slot.failed);
    else Promise.resolve(out).then(slot.ok, slot.failed);
  }

  /** How an item holding a leased unit settles. */
  #leasedOk = (value) => {
    this.#releaseUnit(LEASED);
    this.#done(true, value, null);
  };

  #leasedFailed = (reason) => {
    this.#releaseUnit(LEASED);
    this.#done(false, reason, null);
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
    const slot = { id: 0, tag: undefined, ok: null, failed: null };
    slot.ok = (value) => {
      const tag = slot.tag;
      this.#releaseUnit(slot.id);
      this.#slots.push(slot);
      this.#settled(tag, true, value);
    };
    slot.failed = (reason) => {
      const tag = slot.tag;
      this.#releaseUnit(slot.id);
      this.#slots.push(slot);
      this.#settled(tag, false, reason);
    };
    return slot;
  }

  #call(item, opts) {
    return this.#mapper !== null ? this.#mapper(item, opts) : item(opts);
  }

  /** An item started with `tag` settled: to its place (ORDERED), or on to `#done`. */
  #settled(tag, ok, value) {
    if (this.#closed) return;
    if (this.#mode !== ORDERED) {
      this.#done(ok, value, this.#mode === KEYED ? tag : null);
      return;
    }
    this.#rule.finish(tag);
    this.#placed[2 * tag] = ok;
    this.#placed[2 * tag + 1] = value;
    if (!this.#filling) this.#serve();
  }

  /** A task finished: answer a waiting `next()` with it, or keep it. */
  #done(ok, value, key) {
    if (this.#closed) return;
    const requests = this.#requests;
    if (requests.length === 2 && (ok || this.#settle) && this.#head === this.#finished.length
      && !this.#filling && !this.#aborted && this.#error === NO_ERROR) {
      // The common case: one consumer waiting, nothing else buffered.
      const resolve = requests[0];
      requests.length = 0;
      if (this.#rule === null) this.#outstanding -= 1;
      else this.#yielded(key);
      // The next pull waits for the consumer's next `next()`: laziness.
      resolve({ value: this.#record(ok, value), done: false });
      return;
    }
    this.#finished.push(ok, value);
    if (this.#finishedKeys !== null) this.#finishedKeys.push(key);
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
    // ORDERED never keeps results in `#finished` (they wait in their places).
    if (this.#head < this.#finished.length) return this.#deliver();
    if (this.#mode === ORDERED) {
      const place = this.#rule.pop();
      if (place !== NONE) return this.#deliverPlace(place);
    }
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
    if (this.#rule === null) this.#outstanding -= 1;
    else this.#yielded(this.#finishedKeys === null ? null : this.#finishedKeys.shift());
    if (ok || this.#settle) return Promise.resolve({ value: this.#record(ok, value), done: false });
    return this.#end(value, true);
  }

  /** ORDERED: the outcome at `place` (the oldest, just popped) as a `next()` answer. */
  #deliverPlace(place) {
    const placed = this.#placed;
    const ok = placed[2 * place];
    const value = placed[2 * place + 1];
    placed[2 * place + 1] = undefined;
    this.#yielded(null);
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
    // Buffered items never started: nothing to release.
    this.#waiting = null;
    this.#placed = null;
    if (this.#rule !== null) {
      this.#rule.free();
      this.#rule = null;
    }
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
