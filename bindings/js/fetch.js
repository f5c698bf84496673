// `limiter.fetch(input, init)`: `fetch` under a Limiter.
//
// Guarantees:
// - Every decision is the core's: admission by the Limiter (key =
//   host:port), retries, back-off, budgets, Retry-After cooldowns and the
//   per-key figures by `weir::retry` (through RawRetry). This file links
//   signals and timers, holds the permit, and sleeps or pauses the key as
//   it is told.
// - The permit is held until the response body is fully read, cancelled or
//   errored (held-body.js), or released at the headers (`releaseOn`); a body
//   nobody reads for `bodyTimeout` is cancelled and its permit released.
// - `timeout`, `queueTimeout` and the caller's signal reject with their own
//   error and free whatever the request held; every promise settles.
import { RawRetry, RawRetryPolicy, RETRY, MUST_WAIT, fetchSnapshot, inFlightNowOf, reportTo } from './boundary.js';
import { abortControllerFor, acceptsLiteSignals, LiteAbortController } from './lite-abort.js';
import { abortReason } from './abort-reason.js';
import { TimeoutError, QueueTimeoutError, BodyTimeoutError } from './errors.js';
import { clearTimer, setTimer } from './timers.js';
import { releasingBody } from './held-body.js';
import { optionChecks } from './options.js';
import { outcomeOfError, outcomeOfStatus } from './adaptive.js';

const { duration, whole } = optionChecks('');

// ------------------------------------------------------------------ options

/** Is `init` carrying any weir option (own or inherited: they are read with `init.name`)? */
function hasWeirOption(init) {
  // One `in` per name, not a loop over a list: each check keeps its own
  // monomorphic inline cache.
  return 'retry' in init || 'timeout' in init || 'queueTimeout' in init || 'bodyTimeout' in init ||
    'releaseOn' in init || 'keyOf' in init || 'fetch' in init;
}

/** Is `name` a weir option (stripped from what `fetch` sees)? */
function isWeirOption(name) {
  switch (name) {
    case 'retry':
    case 'timeout':
    case 'queueTimeout':
    case 'bodyTimeout':
    case 'releaseOn':
    case 'keyOf':
    case 'fetch':
      return true;
    default:
      return false;
  }
}
const RETRY_OPTIONS = ['attempts', 'statuses', 'methods', 'baseDelay', 'maxDelay', 'budget'];
const BUDGET_OPTIONS = ['ratio', 'min', 'window'];
const DEFAULT_BODY_TIMEOUT = 60_000;

function known(value, where, allowed) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`option '${where}' must be an object`);
  }
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) {
      throw new TypeError(`option '${where}': unknown option '${name}' (expected one of: ${allowed.join(', ')})`);
    }
  }
  return value;
}

/** A duration option (options.js's check); `Infinity` too where it means "never". */
function millis(value, name, allowInfinity = false) {
  return allowInfinity && value === Infinity ? Infinity : duration(value, name);
}

/** A RawRetryPolicy for the `retry` option (cached per options object). */
const policies = new WeakMap();
let defaultPolicy;
let noRetryPolicy;

function policyOf(retry) {
  if (retry === undefined || retry === null || retry === true) {
    return (defaultPolicy ??= compilePolicy({}));
  }
  if (retry === false) return (noRetryPolicy ??= compilePolicy({ attempts: 1 }));
  let policy = policies.get(retry);
  if (!policy) {
    policy = compilePolicy(known(retry, 'retry', RETRY_OPTIONS));
    policies.set(retry, policy);
  }
  return policy;
}

function compilePolicy(r) {
  // Options left out stay `undefined`: the core fills them with its own
  // defaults (`weir::RetryPolicy::default()`), never retyped here.
  const attempts = r.attempts === undefined ? undefined : whole(r.attempts, 'retry.attempts', 1);
  const statuses = r.statuses;
  if (statuses !== undefined && (!Array.isArray(statuses) || !statuses.every((s) => Number.isInteger(s)))) {
    throw new TypeError("option 'retry.statuses' must be an array of HTTP statuses");
  }
  const methods = r.methods;
  if (methods !== undefined && (!Array.isArray(methods) || !methods.every((m) => typeof m === 'string' && /^[A-Za-z-]+$/.test(m)))) {
    throw new TypeError("option 'retry.methods' must be an array of method names");
  }
  const b = r.budget === undefined ? {} : known(r.budget, 'retry.budget', BUDGET_OPTIONS);
  if (b.ratio !== undefined && typeof b.ratio !== 'number') throw new TypeError("option 'retry.budget.ratio' must be a number");
  const policy = new RawRetryPolicy(
    attempts,
    statuses === undefined ? undefined : Uint16Array.from(statuses.map((s) => (s >= 100 && s <= 599 ? s : 0))),
    methods === undefined ? undefined : methods.join(','),
    r.baseDelay === undefined ? undefined : millis(r.baseDelay, 'retry.baseDelay'),
    r.maxDelay === undefined ? undefined : millis(r.maxDelay, 'retry.maxDelay'),
    b.ratio,
    b.min === undefined ? undefined : whole(b.min, 'retry.budget.min', 0),
    b.window === undefined ? undefined : millis(b.window, 'retry.budget.window'),
  );
  // Statuses the policy may retry: `Retry-After` is read only for these (the
  // core uses it only when it answers "retry").
  return { raw: policy, hasBudget: r.budget !== undefined, statuses: new Set(policy.statuses()) };
}

// ------------------------------------------------------------ per limiter

/** Per-limiter retry state (budgets, cooldowns, figures per key). */
const states = new WeakMap();
/** Hosts whose platform caps simultaneous connections (workerd: 6). */
let hostConnectionLimit = typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers' ? 6 : undefined;

/**
 * Set (or clear, with `undefined`) the global in-flight cap that
 * `limiter.fetch` applies to limiters created without `concurrency`. The
 * workerd build defaults it to 6, the platform's simultaneous-connection
 * limit; loaders and tests may override it.
 */
export function setHostConnectionLimit(n) {
  hostConnectionLimit = n === undefined ? undefined : whole(n, 'hostConnectionLimit', 1);
}

function stateOf(limiter, rawLimiter) {
  let state = states.get(limiter);
  if (!state) {
    if (hostConnectionLimit !== undefined && limiter.stats().concurrency === Infinity) {
      limiter.setLimits({ concurrency: hostConnectionLimit });
    }
    // (Each Flight points here for its limiter, raw limiter and retry state:
    // one field per request instead of three.)
    // `adaptive`: the limiter's cap follows the answers (every attempt is reported).
    const adaptive = rawLimiter.isAdaptive?.() ?? false;
    state = { raw: new RawRetry(policyOf(undefined).raw, Math.random() * 2 ** 52), budget: undefined, limiter, rawLimiter, adaptive };
    states.set(limiter, state);
  }
  return state;
}

// ------------------------------------------------------------------ helpers

const DEFAULT_PORTS = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

function urlOf(input) {
  const text = typeof input === 'string' ? input : input instanceof URL ? input.href : input?.url ?? String(input);
  return new URL(text, globalThis.location?.href);
}

/** `host:port`, the default port filled in. */
function defaultKey(url) {
  return `${url.hostname}:${url.port || DEFAULT_PORTS[url.protocol] || ''}`;
}

// Plain absolute http(s) URLs (lower-case scheme and host, no userinfo, no
// escapes): their key is read without building a URL object.
const SIMPLE_URL = /^(https?):\/\/([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?(?=[/?#]|$)/;

/** The origin prefix (`m[0]`) and key of the last URL `quickKey` parsed. */
let lastPrefix = '';
let lastKey = '';

/** The default key of `input`, or undefined when a URL object is needed. */
function quickKey(input) {
  if (typeof input !== 'string') return undefined;
  // Requests mostly repeat an origin: same prefix, ended where the regex's
  // lookahead would end it, gives the same key without the regex.
  if (lastPrefix !== '' && input.startsWith(lastPrefix)) {
    const next = input.charCodeAt(lastPrefix.length);
    // NaN (end), '/', '?', '#'
    if (next !== next || next === 47 || next === 63 || next === 35) return lastKey;
  }
  const m = SIMPLE_URL.exec(input);
  if (m === null) return undefined;
  const host = m[2];
  if (host.startsWith('.') || host.endsWith('.') || host.includes('..')) return undefined;
  let key;
  if (m[3] === undefined) key = `${host}:${m[1] === 'http' ? '80' : '443'}`;
  else {
    const port = Number(m[3]);
    if (port > 65535) return undefined;
    key = `${host}:${port}`;
  }
  lastPrefix = m[0];
  lastKey = key;
  return key;
}

/**
 * The key `limiter.fetch` uses for `input` by default: `host:port` of its URL,
 * the default port filled in (`"example.com:443"`).
 */
export function fetchKeyOf(input) {
  return quickKey(input) ?? defaultKey(urlOf(input));
}

/** Can the body be sent again? Streams (and `Request` bodies) cannot. */
function replayable(input, init) {
  const body = init?.body;
  if (body === undefined || body === null) {
    return !(typeof Request !== 'undefined' && input instanceof Request && input.body !== null);
  }
  if (typeof body === 'string' || body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  if (typeof Blob !== 'undefined' && body instanceof Blob) return true;
  if (typeof FormData !== 'undefined' && body instanceof FormData) return true;
  if (body instanceof URLSearchParams) return true;
  return false;
}

/** Resolve after `ms`, or reject when `signal` aborts. */
function sleep(ms, signal) {
  if (ms <= 0) return Promise.resolve();
  if (!signal) return new Promise((resolve) => setTimer(resolve, ms));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimer(timer);
      reject(abortReason(signal));
    };
    const timer = setTimer(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A permit for `key` when one is free now: its id (a number) on the raw
 * limiter, else `MUST_WAIT` (then `waitForPermit`).
 */
function permitNow(rawLimiter, key) {
  // Cost 1 always fits a cap, so -1 (never admissible) cannot come back.
  return key === '' ? rawLimiter.tryAcquireUnkeyed(1) : rawLimiter.tryAcquire(key, 1);
}

/** Wait for a permit for `key` (a release function), bounded by `queueTimeout`. */
async function waitForPermit(limiter, raw, key, signal, queueTimeout) {
  raw.queued(key);
  try {
    if (queueTimeout === undefined) return await limiter.acquire({ key, signal });
    const wait = new AbortController();
    const onAbort = () => wait.abort(abortReason(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimer(() => wait.abort(new QueueTimeoutError(queueTimeout)), queueTimeout);
    try {
      return await limiter.acquire({ key, signal: wait.signal });
    } finally {
      clearTimer(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    raw.unqueued(key);
  }
}

const HOLD = Symbol('weir.hold');
/** The getter of `name` on `proto`'s chain (hosts differ in where it lives). */
function getterOf(proto, name) {
  for (let p = proto; p !== null; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d) return d.get;
  }
  return undefined;
}
// Built on first use, not at import: touching `Response` makes Node load its
// whole fetch implementation (~70 ms), which users who never call
// `limiter.fetch` should not pay for.
let protoBody;
let HeldResponse;

/**
 * What holds one response's permit: `flight.end()` runs exactly once when the body
 * is fully read, cancelled or errored — or when nobody has touched it for
 * `bodyTimeout` ms (reads then fail with a BodyTimeoutError).
 */
class Hold {
  constructor(response, flight, bodyTimeout, attempts) {
    this.response = response;
    this.flight = flight;
    this.bodyTimeout = bodyTimeout;
    this.attempts = attempts;
    this.done = false;
    this.timedOut = undefined;
    this.stream = undefined;
    this.controller = undefined;
    this.reading = false;
    this.lastPull = 0;
    this.consumed = false; // a body reader (text(), json(), …) has been called
    this.timer = undefined;
    this.source = undefined; // set when `body` is an own property of the response
    if (bodyTimeout !== Infinity) armAfterThisTurn(this);
  }

  /** The platform's body stream. */
  nativeBody() {
    return this.source ? this.source() : protoBody.call(this.response);
  }

  end() {
    if (this.done) return;
    this.done = true;
    clearTimer(this.timer);
    this.flight.end();
  }
}

/**
 * Holds handed out during this turn of the event loop. Their idle timers are
 * armed when the turn ends, and only for bodies nobody has started to read
 * with text()/json()/…: most callers read at once, and a timer set and
 * cleared per response costs more than the rest of the hold. `bodyTimeout`
 * therefore counts from the end of the turn the response was handed over in
 * (or from the ARM_BATCH-th hold of a turn, so a turn of microtasks alone
 * does not keep every response it handed over).
 */
const unarmed = [];
const nextTurn = typeof setImmediate === 'function' ? setImmediate : (fn) => setTimeout(fn, 0);

/** A turn that hands out this many holds (microtask-only work) arms them early. */
const ARM_BATCH = 64;

function armAfterThisTurn(hold) {
  const waiting = unarmed.push(hold);
  if (waiting === 1) nextTurn(armUnconsumed);
  else if (waiting >= ARM_BATCH) armUnconsumed();
}

function armUnconsumed() {
  for (let i = 0; i < unarmed.length; i++) {
    const hold = unarmed[i];
    if (!hold.done && !hold.consumed) hold.timer = setTimer(onIdle, hold.bodyTimeout, hold);
  }
  unarmed.length = 0; // the same array every turn: no regrowth
}

function onIdle(hold) {
  if (hold.done) return;
  if (hold.stream) {
    const idle = performance.now() - hold.lastPull;
    if (hold.reading || idle < hold.bodyTimeout) {
      hold.timer = setTimer(onIdle, hold.reading ? hold.bodyTimeout : hold.bodyTimeout - idle, hold);
      return;
    }
  }
  const error = (hold.timedOut = new BodyTimeoutError(hold.bodyTimeout));
  hold.end();
  if (hold.stream) hold.controller.error(error);
  hold.nativeBody()?.cancel(error).catch(noop);
}

/**
 * The platform's own Response, re-based on this prototype (no copy, no
 * stream in between for `text()`/`json()`/…): the body readers end the hold
 * when they settle; `body` is a pass-through stream that ends it on close,
 * cancel or error; `attempts` tells how many attempts were made.
 */
function heldBody() {
  const hold = this[HOLD];
  if (hold.stream) return hold.stream;
  const source = hold.nativeBody();
  if (source === null || hold.timedOut || this.bodyUsed) return source;
  hold.stream = releasingBody(source, hold);
  return hold.stream;
}

/** The prototype of held responses: Response's, with the body accessors wrapped. */
function heldResponsePrototype() {
  if (HeldResponse !== undefined) return HeldResponse;
  protoBody = getterOf(Response.prototype, 'body');
  const proto = Object.create(Response.prototype, {
    body: { configurable: true, get: heldBody },
    attempts: {
      configurable: true,
      get() {
        return this[HOLD].attempts;
      },
    },
  });
  const methods = ['text', 'json', 'arrayBuffer', 'blob', 'formData', 'bytes'];
  for (const name of methods) {
    if (typeof Response.prototype[name] === 'function') wrapBodyMethod(proto, name);
  }
  HeldResponse = proto;
  return proto;
}

/** `proto[name]`: Response's body reader `name`, ending the hold when it settles. */
function wrapBodyMethod(proto, name) {
  const read = Response.prototype[name];
  Object.defineProperty(proto, name, {
    configurable: true,
    writable: true,
    value: {
      [name]() {
        const hold = this[HOLD];
        if (hold.timedOut) return Promise.reject(hold.timedOut);
        if (!hold.stream) {
          hold.consumed = true; // being read: no longer idle
          clearTimer(hold.timer);
        }
        const result = read.call(this);
        const end = () => hold.end();
        result.then(end, end);
        return result;
      },
    }[name],
  });
}

/** Hold `response`'s permit (`finish`) until its body is done; see HeldResponse. */
function holdUntilBodyDone(response, flight, bodyTimeout, attempts) {
  const hold = new Hold(response, flight, bodyTimeout, attempts);
  response[HOLD] = hold;
  Object.setPrototypeOf(response, heldResponsePrototype());
  // (`hasOwn` first: no descriptor object for the usual prototype getter.)
  const own = Object.hasOwn(response, 'body') ? Object.getOwnPropertyDescriptor(response, 'body') : undefined;
  if (own !== undefined && own.configurable) {
    // A host keeping `body` on the instance (rather than the prototype).
    hold.source = own.get ? () => own.get.call(response) : () => own.value;
    Object.defineProperty(response, 'body', { configurable: true, get: heldBody });
  }
  return response;
}

function noop() {}

/**
 * Requests following each caller signal. One listener per signal, however
 * many requests share it (limitedAsCompleted hands one signal to all): an
 * EventTarget's add/removeEventListener cost grows with its listener count.
 */
const followers = new WeakMap();

/** Abort `controller` when `signal` aborts; returns the unlink function. */
function link(signal, controller) {
  let set = followers.get(signal);
  if (set === undefined) {
    const group = new Set();
    set = group;
    followers.set(signal, group);
    signal.addEventListener(
      'abort',
      () => {
        const reason = abortReason(signal);
        for (const c of group) c.abort(reason);
        group.clear();
      },
      { once: true },
    );
  }
  set.add(controller);
  return () => set.delete(controller);
}

/**
 * Requests with no abort source but the caller's signal share a follower
 * controller of it, at most FOLLOWER_GROUP at a time (undici copies a
 * signal's listener list on every request given it, so a group stays small).
 */
const FOLLOWER_GROUP = 16;
const sharedFollowers = new WeakMap();

function joinFollowers(userSignal, fetchImpl) {
  let group = sharedFollowers.get(userSignal);
  const lite = acceptsLiteSignals(fetchImpl);
  if (group !== undefined && group.lite !== lite && group.joined < FOLLOWER_GROUP) {
    // A group of the other kind (another fetch): closed to newcomers, it
    // unlinks when its last request leaves.
    group.joined = FOLLOWER_GROUP;
    if (group.users === 0) group.unlink();
  }
  if (group === undefined || group.joined === FOLLOWER_GROUP) {
    const controller = lite ? new LiteAbortController() : new AbortController();
    group = { controller, lite, users: 0, joined: 0, unlink: link(userSignal, controller) };
    sharedFollowers.set(userSignal, group);
  }
  group.users += 1;
  group.joined += 1;
  return group;
}

function leaveFollowers(group) {
  group.users -= 1;
  // A full group no request uses any more is done with.
  if (group.users === 0 && group.joined === FOLLOWER_GROUP) group.unlink();
}

// -------------------------------------------------------------- the fetch

/**
 * One limiter.fetch call: what its attempts need (set up once, before the
 * first), the current attempt's permit and the request's abort wiring
 * (follower group, timeout timer, link to the caller's signal). One object
 * per request instead of a closure and a context per attempt, and the
 * attempts' async frame (`send`) keeps only its own few registers: requests
 * in flight live long enough to be promoted, so every byte here is
 * old-space bytes.
 */
class Flight {
  constructor(state, key, spec) {
    this.state = state; // the limiter's: `limiter`, `rawLimiter`, `raw` (RawRetry)
    this.key = key;
    this.spec = spec; // the request's options (a Spec, shared by requests with the same)
    // The current attempt's permit while it holds one (a permit id, or the
    // limiter's release function after a wait), else 0.
    this.permit = 0;
    this.group = null;
    this.timer = undefined;
    this.unlink = noop;
    // Set by `startFlight`:
    this.fetchImpl = undefined;
    this.init = undefined; // what `fetch` is given (weir options stripped, our signal in)
    this.signal = undefined; // the request's own signal, if any
    this.sample = undefined; // with an adaptive cap: { at: sent at (ms), started: in flight then, in total and of the key }
  }

  /** The current attempt holds `permit` (never 0) and has been sent. */
  hold(permit) {
    this.permit = permit;
  }

  /** The current attempt is over: its permit back, the key's figures told (once). */
  finish() {
    const permit = this.permit;
    if (permit === 0) return;
    this.permit = 0;
    const state = this.state;
    if (typeof permit === 'number') state.rawLimiter.release(permit);
    else permit();
    state.raw.done(this.key);
  }

  /** The request is over: out of its follower group, timer stopped, caller's signal unlinked (once). */
  detach() {
    if (this.group !== null) {
      leaveFollowers(this.group);
      this.group = null;
    }
    clearTimer(this.timer);
    this.unlink();
    this.unlink = noop;
  }

  /**
   * The request is over: its body is done, or it ends without a response
   * handed over (an error, an abort, a throw while deciding). The permit
   * back if the attempt still holds it, and the links undone.
   */
  end() {
    this.finish();
    this.detach();
  }

  /** Attempt `retry` has been given `permit` and is being sent: its start time for the key's latencies. */
  sent(permit, retry) {
    const state = this.state;
    const started = state.raw.sent(this.key, retry);
    this.hold(permit);
    if (state.adaptive) this.sample = { at: performance.now(), started: inFlightNowOf(state.rawLimiter, this.key) };
    return started;
  }

  /** With an adaptive cap: report the attempt sent last (outcome codes as `RawLimiter.report`'s). */
  report(code) {
    const sample = this.sample;
    if (sample === undefined) return;
    this.sample = undefined;
    reportTo(this.state.rawLimiter, this.key, performance.now() - sample.at, sample.started, code);
  }

  /** Attempt `retry` failed with `error` (no response): the ms to wait before the next, or throw. */
  failed(error, retry, started) {
    // A timeout or the caller's abort says nothing about the server's load
    // beyond the time it took: `timeout` is overload, an abort is ignored.
    this.report(outcomeOfError(error, 'dropped'));
    this.finish();
    const signal = this.signal;
    if (signal?.aborted) throw abortReason(signal);
    const spec = this.spec;
    const raw = this.state.raw;
    if (raw.decide(spec.policy.raw, this.key, spec.method, 0, retry, undefined, spec.canReplay, started) !== RETRY.retry) throw error;
    return raw.retryAfterMs();
  }

  /**
   * Attempt `retry` got `response`: HAND_OVER (the response is the answer:
   * held until its body is done, or released now with `releaseOn: 'headers'`),
   * RETRY_NOW, or the ms to wait before the next attempt; or throw when the
   * request was aborted meanwhile.
   */
  answered(response, retry, started) {
    const status = response.status;
    this.report(outcomeOfStatus(status));
    const spec = this.spec;
    const policy = spec.policy;
    const raw = this.state.raw;
    const retryAfter = policy.statuses.has(status) ? response.headers.get('retry-after') ?? undefined : undefined;
    const code = raw.decide(policy.raw, this.key, spec.method, status, retry, retryAfter, spec.canReplay, started);
    // Read at once: `decide` for another request may run while we wait.
    const pauseMs = raw.pauseMs();
    // Retried or not, a `Retry-After` holds the whole host (before this
    // permit goes back, so no queued request slips out in between).
    if (pauseMs > 0) this.state.limiter.pause(this.key, pauseMs);
    if (code === RETRY.retry) {
      const afterMs = raw.retryAfterMs();
      response.body?.cancel().catch(noop);
      this.finish();
      return pauseMs > 0 ? RETRY_NOW : afterMs; // with a pause, the next acquire waits it out
    }
    const signal = this.signal;
    if (signal?.aborted) {
      response.body?.cancel().catch(noop);
      this.finish();
      throw abortReason(signal);
    }
    clearTimer(this.timer); // `timeout` covers the request up to its response
    this.timer = undefined;
    // Handed over: what only the attempts needed is let go (the response may
    // be kept long after, and it keeps this Flight).
    this.init = undefined;
    this.fetchImpl = undefined;
    this.signal = undefined;
    if (spec.atHeaders || response.body === null) {
      this.end();
      // (The descriptor is the same object for every response with as many attempts.)
      Object.defineProperty(response, 'attempts', (attemptsDescriptors[retry] ??= { value: retry + 1, enumerable: false }));
    } else {
      holdUntilBodyDone(response, this, spec.bodyTimeout, retry + 1);
    }
    return HAND_OVER;
  }
}

/** `init` without weir options: nothing of ours to read. */
const NO_OPTIONS = Object.freeze({});

/** `Object.defineProperty` descriptors for `attempts` on unheld responses, by count. */
const attemptsDescriptors = [];

/**
 * `fetch(input, init)` under `limiter` (installed as `Limiter#fetch`).
 * Extra `init` options (all optional, stripped before `fetch` sees `init`):
 * `retry`, `timeout`, `queueTimeout`, `bodyTimeout`, `releaseOn`, `keyOf`,
 * `fetch`. See index.d.ts for their meaning.
 *
 * The options are read and the signals wired synchronously (as an async
 * function's body up to its first `await` would be); a throw there is a
 * rejection, never a synchronous exception.
 */
export function limitedFetch(limiter, rawLimiter, input, init) {
  let flight;
  try {
    flight = startFlight(limiter, rawLimiter, input, init);
  } catch (error) {
    return Promise.reject(error);
  }
  const permit = permitNow(rawLimiter, flight.key);
  if (permit === MUST_WAIT) return send(flight, input, 0, QUEUE);
  // A permit free now (the usual case): the first attempt is a promise chain,
  // not a suspended async frame. What a request in flight keeps is then its
  // Flight, two closures and one promise reaction, where `send`'s frame kept
  // a generator, its registers, the await's closures and two promises; they
  // live long enough to be promoted, so every byte counts in old space.
  // Retries and waits continue in `send`.
  let sent;
  try {
    const started = flight.sent(permit, 0);
    try {
      // Called as a plain function: hosts (workerd) reject another `this`.
      const fetchImpl = flight.fetchImpl;
      sent = Promise.resolve(fetchImpl(input, flight.init));
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(
      (response) => firstAnswered(flight, input, response, started),
      (error) => firstFailed(flight, input, error, started),
    );
  } catch (error) {
    flight.end();
    return Promise.reject(error);
  }
}

/** The first attempt got `response`: hand it over, or go on with the next attempts in `send`. */
function firstAnswered(flight, input, response, started) {
  let next;
  try {
    next = flight.answered(response, 0, started);
  } catch (error) {
    flight.end();
    throw error;
  }
  return next === HAND_OVER ? response : send(flight, input, 1, next);
}

/** The first attempt failed with no response: throw, or wait and go on in `send`. */
function firstFailed(flight, input, error, started) {
  let wait;
  try {
    wait = flight.failed(error, 0, started);
  } catch (thrown) {
    flight.end();
    throw thrown;
  }
  return send(flight, input, 1, wait);
}

/** Read the options, find the key, wire the signals: the request's Flight. */
function startFlight(limiter, rawLimiter, input, init) {
  let fetchInit = init;
  let o = NO_OPTIONS;
  if (init !== undefined && init !== null) {
    if (typeof init !== 'object') throw new TypeError('fetch: init must be an object');
    if (hasWeirOption(init)) {
      // A copy without the weir options (built, not spread-then-deleted: a
      // `delete` turns the copy into a slow dictionary object), or undefined
      // when there is nothing but weir options: `fetch` is then called with
      // no init, and no empty object is kept per request.
      fetchInit = undefined;
      const names = Object.keys(init);
      for (let i = 0; i < names.length; i++) {
        const name = names[i];
        if (!isWeirOption(name)) (fetchInit ??= {})[name] = init[name];
      }
      o = init;
    }
  }
  const policy = policyOf(o.retry);
  const timeout = o.timeout === undefined ? undefined : millis(o.timeout, 'timeout');
  const queueTimeout = o.queueTimeout === undefined ? undefined : millis(o.queueTimeout, 'queueTimeout');
  const bodyTimeout = o.bodyTimeout === undefined ? DEFAULT_BODY_TIMEOUT : millis(o.bodyTimeout, 'bodyTimeout', true);
  if (o.releaseOn !== undefined && o.releaseOn !== 'body' && o.releaseOn !== 'headers') {
    throw new RangeError(`option 'releaseOn' must be 'body' or 'headers', got ${o.releaseOn}`);
  }
  if (o.keyOf !== undefined && typeof o.keyOf !== 'function') throw new TypeError("option 'keyOf' must be a function");
  if (o.fetch !== undefined && typeof o.fetch !== 'function') throw new TypeError("option 'fetch' must be a function");
  const fetchImpl = o.fetch ?? globalThis.fetch;
  const givenMethod = fetchInit?.method ?? input?.method;
  const method = givenMethod === undefined || givenMethod === null ? 'GET' : String(givenMethod).toUpperCase();
  let key = o.keyOf ? undefined : quickKey(input);
  if (key === undefined) {
    const url = urlOf(input);
    // (`keyOf` is shown an empty init rather than none when only weir options were given.)
    key = o.keyOf ? String(o.keyOf({ url, method, input, init: o === NO_OPTIONS ? fetchInit : (fetchInit ?? {}) })) : defaultKey(url);
  }
  const canReplay = replayable(input, fetchInit);
  const state = stateOf(limiter, rawLimiter);
  const raw = state.raw;
  if (policy.hasBudget && state.budget !== policy) {
    raw.useBudget(policy.raw);
    state.budget = policy;
  }

  // One signal for the whole request, of its own: the caller's abort and
  // `timeout` feed it. (Never the caller's signal itself: `fetch` may keep a
  // listener on the signal it is given until garbage collection, and a signal
  // shared by many requests — limitedAsCompleted's — would pile them up.)
  const userSignal = fetchInit?.signal ?? (typeof Request !== 'undefined' && input instanceof Request ? input.signal : undefined);
  if (userSignal?.aborted) throw abortReason(userSignal);
  const flight = new Flight(state, key, specOf(policy, method, canReplay, queueTimeout, bodyTimeout, o.releaseOn === 'headers'));
  let signal;
  let attemptInit = fetchInit;
  if (timeout === undefined && userSignal) {
    // Nothing but the caller's signal aborts this request: share a follower
    // of it with other requests (an AbortController per request costs
    // ~15 µs in Node 20; Node's own fetch gets a LiteAbortController).
    flight.group = joinFollowers(userSignal, fetchImpl);
    signal = flight.group.controller.signal;
    attemptInit = { ...fetchInit, signal };
  } else if (timeout !== undefined || userSignal) {
    const request = abortControllerFor(fetchImpl);
    signal = request.signal;
    if (userSignal) flight.unlink = link(userSignal, request);
    if (timeout !== undefined) flight.timer = setTimer(() => request.abort(new TimeoutError(timeout)), timeout);
    attemptInit = { ...fetchInit, signal };
  }
  flight.fetchImpl = fetchImpl;
  flight.init = attemptInit;
  flight.signal = signal;
  return flight;
}

/**
 * A request's options as limiter.fetch reads them (immutable). Requests with
 * the same options share one: most callers repeat theirs, so the last one
 * made is reused when it matches.
 */
class Spec {
  constructor(policy, method, canReplay, queueTimeout, bodyTimeout, atHeaders) {
    this.policy = policy;
    this.method = method;
    this.canReplay = canReplay;
    this.queueTimeout = queueTimeout;
    this.bodyTimeout = bodyTimeout;
    this.atHeaders = atHeaders; // releaseOn: 'headers'
  }
}

let lastSpec = null;

function specOf(policy, method, canReplay, queueTimeout, bodyTimeout, atHeaders) {
  const s = lastSpec;
  if (
    s !== null &&
    s.policy === policy &&
    s.method === method &&
    s.canReplay === canReplay &&
    s.queueTimeout === queueTimeout &&
    s.bodyTimeout === bodyTimeout &&
    s.atHeaders === atHeaders
  ) {
    return s;
  }
  return (lastSpec = new Spec(policy, method, canReplay, queueTimeout, bodyTimeout, atHeaders));
}

/** `Flight#answered`: hand the response over. */
const HAND_OVER = -1;
/** `Flight#answered`: retry at once (the key was paused: the next acquire waits it out). */
const RETRY_NOW = -2;
/** `send`: no permit is free now for the first attempt, wait for one. */
const QUEUE = -3;

/**
 * The attempts of `flight`: its response (held until its body is done) or the
 * error. Only the awaits live here; each step is a plain method of the
 * Flight, so this frame (kept while the request is in flight) stays small.
 */
async function send(flight, input, first, wait) {
  let handedOver = false;
  try {
    // QUEUE (no permit was free for the first attempt), or after a first
    // attempt: RETRY_NOW, or the ms to wait before this one.
    let queue = wait === QUEUE;
    if (wait !== QUEUE && wait !== RETRY_NOW) await sleep(wait, flight.signal);
    for (let retry = first; ; retry++) {
      // A permit id when free now (no Promise, no release closure), else
      // the limiter's release function once the wait is over.
      let permit = queue ? MUST_WAIT : permitNow(flight.state.rawLimiter, flight.key);
      queue = false;
      if (permit === MUST_WAIT) {
        const state = flight.state;
        permit = await waitForPermit(state.limiter, state.raw, flight.key, flight.signal, flight.spec.queueTimeout);
      }
      const started = flight.sent(permit, retry);
      let response;
      try {
        // Called as a plain function, not a method of the Flight: hosts
        // (workerd) reject a `fetch` called with another `this`.
        const fetchImpl = flight.fetchImpl;
        response = await fetchImpl(input, flight.init);
      } catch (error) {
        await sleep(flight.failed(error, retry, started), flight.signal);
        continue;
      }
      const next = flight.answered(response, retry, started);
      if (next === HAND_OVER) {
        handedOver = true;
        return response;
      }
      if (next !== RETRY_NOW) await sleep(next, flight.signal);
    }
  } finally {
    if (!handedOver) flight.end();
  }
}

/** Reason names for give-up codes (for diagnostics). */

/**
 * Per-key fetch figures of `limiter`: `{ [key]: { inFlight, queued, sent,
 * retried, status429, networkErrors, cooldownUntil, p50, p95, p99 } }`
 * (latencies in ms to response headers, `null` before any sample;
 * `cooldownUntil` in `Date.now()` ms, or `null`).
 */
export function fetchStatsOf(limiter) {
  const state = states.get(limiter);
  const out = {};
  if (!state) return out;
  const wallNow = Date.now();
  const nullIfNaN = (ms) => (Number.isNaN(ms) ? null : ms);
  for (const [key, r] of Object.entries(fetchSnapshot(state.raw))) {
    out[key] = {
      inFlight: r.inFlight,
      queued: r.queued,
      sent: r.sent,
      retried: r.retried,
      status429: r.status429,
      networkErrors: r.networkErrors,
      cooldownUntil: r.cooldownMs > 0 ? wallNow + r.cooldownMs : null,
      p50: nullIfNaN(r.p50),
      p95: nullIfNaN(r.p95),
      p99: nullIfNaN(r.p99),
    };
  }
  return out;
}
