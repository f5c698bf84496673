// A minimal AbortController for requests sent through Node's built-in fetch.
//
// Guarantees:
// - Used only where the fetch implementation is known to accept a
//   "third-party" signal (any object with a boolean `aborted` and an
//   `addEventListener`, as undici's Request checks; see
//   `acceptsLiteSignals`); everywhere else the platform's AbortController is.
// - Aborting runs each listener once with the same reason, as the platform's
//   signal does, and a listener added after the abort is not run.
// It exists because a platform AbortSignal costs Node's fetch more CPU per
// request than this one (bench/README.md, `bench:fetch`).

import { abortError } from './abort-reason.js';

const NO_LISTENERS = Object.freeze([]);

/** The signal half: what `fetch` and weir's own waits look at. */
class LiteAbortSignal {
  constructor() {
    this.aborted = false;
    this.reason = undefined;
    this.onabort = null;
    // Node's `events.getMaxListeners` reads this and undici then leaves the
    // signal alone (it raises the limit only on signals still at the default).
    this._maxListeners = 1500;
    this.listeners_ = new Set();
  }

  addEventListener(type, listener) {
    if (type === 'abort' && typeof listener === 'function' && !this.aborted) this.listeners_.add(listener);
  }

  removeEventListener(type, listener) {
    if (type === 'abort') this.listeners_.delete(listener);
  }

  /** For `events.getMaxListeners` (undici asks it of every signal). */
  getMaxListeners() {
    return this._maxListeners;
  }

  /** For `events.getEventListeners`: the count is all undici reads. */
  listeners() {
    return NO_LISTENERS;
  }

  throwIfAborted() {
    if (this.aborted) throw this.reason;
  }

  /** Abort once: set `reason`, then call each listener once with `this` = the signal. */
  abort_(reason) {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason === undefined ? abortError() : reason;
    const listeners = [...this.listeners_];
    this.listeners_.clear();
    const event = { type: 'abort', target: this };
    for (const listener of listeners) callListener(this, listener, event);
    if (typeof this.onabort === 'function') callListener(this, this.onabort, event);
  }
}

/** A listener that throws does not stop the others; its error is thrown on later, as EventTarget does. */
function callListener(signal, listener, event) {
  try {
    listener.call(signal, event);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** `{ signal, abort(reason) }`, like AbortController. */
export class LiteAbortController {
  constructor() {
    this.signal = new LiteAbortSignal();
  }

  abort(reason) {
    this.signal.abort_(reason);
  }
}

const isNode =
  typeof process === 'object' &&
  process !== null &&
  process.release?.name === 'node' &&
  typeof globalThis.Deno === 'undefined' &&
  typeof process.versions?.bun === 'undefined';

/** The fetch found to be Node's own (at most one), and the functions found not to be. */
let nodeFetch = null;
const notNodeFetch = new WeakSet();

/**
 * Whether `fetchImpl` is Node's own fetch (undici) and so takes a
 * LiteAbortController's signal. When first asked, it must be the current
 * `globalThis.fetch`, be Node's (its source loads undici), and undici's
 * `Request` must accept the signal and follow its abort. Answers are
 * remembered per function, so callers alternating between fetches do not
 * probe again.
 */
export function acceptsLiteSignals(fetchImpl) {
  if (fetchImpl === nodeFetch) return true;
  if (typeof fetchImpl !== 'function' || notNodeFetch.has(fetchImpl)) return false;
  let yes = false;
  if (isNode && nodeFetch === null && fetchImpl === globalThis.fetch && typeof Request === 'function') {
    try {
      if (/undici/.test(Function.prototype.toString.call(fetchImpl))) {
        const probe = new LiteAbortController();
        const request = new Request('http://127.0.0.1/', { signal: probe.signal });
        probe.abort();
        yes = request.signal.aborted === true;
      }
    } catch {
      yes = false;
    }
  }
  if (yes) nodeFetch = fetchImpl;
  else notNodeFetch.add(fetchImpl);
  return yes;
}

/** A LiteAbortController when `fetchImpl` takes its signal, else a real AbortController. */
export function abortControllerFor(fetchImpl) {
  return acceptsLiteSignals(fetchImpl) ? new LiteAbortController() : new AbortController();
}
