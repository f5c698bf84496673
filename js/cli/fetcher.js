// One URL through `limiter.fetch` (the package's fetch wrapper: per-host caps,
// rate quotas, Retry-After cooldowns, budgeted retries). The CLI only reads
// the body (counting or saving it) and reports status, bytes and attempts; it
// makes no limiting decision of its own.
//
// `--timeout` bounds each attempt once it has its permit (headers and body),
// not the time spent queueing: with `--per-host 2` a long list for one host
// queues for minutes, legitimately. It is applied through limiter.fetch's
// `fetch` option, which runs only after admission; a timed-out attempt is a
// network error to limiter.fetch, so it is retried like one.
//
// Attempts share AbortControllers (a real one costs ~15 µs in Node 20; on
// Node's own fetch they are the cheap LiteAbortControllers of
// js/lite-abort.js, which undici follows as it does any AbortSignal polyfill's,
// so it skips most of its per-request abort machinery): the attempts started
// within one short epoch (≤ 50 ms, ≤ timeout/20) form a group with one
// controller (at most GROUP_SIZE attempts). Every attempt has the same
// timeout, so groups in creation order are in deadline order, and one timer
// for the oldest live group serves them all: at `last start in the group +
// timeout` its controller aborts what is still running, so an attempt times
// out between `timeout` and `timeout + epoch` after it started. A group whose
// attempts have all ended is dropped without aborting. The run's abort
// signal reaches the live groups through one listener. limiter.fetch gets the
// abort signal only when it may
// make a request wait (a permit, a rate, a retry back-off); otherwise it would
// build an AbortController of its own per request for nothing.
//
// `--timeout none` (timeout = Infinity): attempts get no signal at all, so
// undici skips its per-request abort machinery entirely. A second Ctrl-C
// then settles the attempts still waiting for their response as aborted at
// once (a response arriving later has its body cancelled), and `weir fetch`
// closes the connections under them at the end.

import { abortControllerFor } from '../../bindings/js/lite-abort.js';
import { abortReason } from '../../bindings/js/abort-reason.js';

/**
 * Attempts per shared controller at most. undici's Request copies a real
 * AbortSignal's listener list on every request it is given (a max-listeners
 * check), so a large group costs more than it saves.
 */
const GROUP_SIZE = 16;

// A request's state lives on its limiter.fetch init, under symbols:
// limiter.fetch copies only string keys into what `fetch` is given, and one
// object per request in flight is less to keep (and promote) than two.
const SIGNAL = Symbol('weir.cli.signal');
const GROUP = Symbol('weir.cli.group');
const ATTEMPTS = Symbol('weir.cli.attempts');

/** A TimeoutError like AbortSignal.timeout's, naming the option. */
function timeoutError(ms) {
  return new DOMException(`no complete response within ${ms} ms (--timeout)`, 'TimeoutError');
}

/** The longest delay Node's setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Loads the platform's `fetch` (undici, in Node) before the run's first
 * admission. Loading it delays the first request on the wire, and the
 * requests admitted behind it then arrive together: a server counting a
 * burst exactly would see more than the limiter let go.
 */
export async function warmUp() {
  try {
    await (await fetch('data:,')).arrayBuffer();
  } catch {
    // A host without data: URLs has nothing to warm.
  }
}

/**
 * @param {object} o
 * @param {import('../../bindings/js/api.js').Limiter} o.limiter
 * @param {number} o.retries    retries after the first attempt
 * @param {number} o.timeout    ms per attempt, from admission to the end of the body
 * @param {string} o.method
 * @param {[string, string][]} o.headers
 * @param {boolean} [o.mayWait=true]  can limiter.fetch make a request wait (per-host caps,
 *   rates, retries)? When false it gets no signal (attempts are still aborted by it), and it
 *   releases its permit at the headers (`releaseOn: 'headers'`): the caller's window holds the
 *   slot through the body
 * @returns {{ begin(signal: AbortSignal): object, attemptsOf(init: object): number, end(init: object): void,
 *   active: number, releasesAtHeaders: boolean, stats(): object }}
 */
export function createFetcher({ limiter, retries, timeout, method, headers, mayWait = true }) {
  const retry = { attempts: retries + 1 };
  const upperMethod = String(method ?? 'GET').toUpperCase();
  const sendMethod = upperMethod === 'GET' ? undefined : method;
  const sendHeaders = headers?.length ? headers : undefined;
  // The options every request's limiter.fetch init has (none left undefined).
  // The body is always read at once here: no idle timer per response.
  const common = { retry, bodyTimeout: Infinity };
  if (sendMethod !== undefined) common.method = sendMethod;
  if (sendHeaders !== undefined) common.headers = sendHeaders;
  const waitingInit = { ...common };
  // When nothing can make a request wait in limiter.fetch (`mayWait` false),
  // the caller's window (limitedAsCompleted's concurrency, equal to the
  // limiter's) holds each URL's slot until its body is read, so limiter.fetch
  // need not hold its permit through the body as well: it hands back the
  // platform Response itself (no held-body wrapper) and the body is read
  // from undici's own stream.
  const unheldInit = { ...common, releaseOn: 'headers' };
  // GET without headers: the inits are literals below (no spread per request).
  const plain = sendMethod === undefined && sendHeaders === undefined;
  let active = 0; // requests begun and not ended

  /** Live groups in creation (= deadline) order: `{ controller, started, deadline, running }`. */
  const live = new Set();
  const epoch = Math.max(1, Math.min(50, timeout / 20));
  let current = null;
  let timer = null;
  const linked = new WeakSet();

  function arm() {
    if (timer !== null || live.size === 0) return;
    const first = live.values().next().value;
    // Node's timers fire at once beyond 2^31 - 1 ms: a longer wait is taken
    // in pieces (sweep re-arms until the deadline has come).
    timer = setTimeout(sweep, Math.min(MAX_TIMER_MS, Math.max(0, first.deadline - performance.now())));
    timer.unref?.();
  }

  function sweep() {
    timer = null;
    const now = performance.now();
    for (const group of live) {
      if (group.deadline > now) break;
      live.delete(group);
      if (group === current) current = null;
      group.controller.abort(timeoutError(timeout));
    }
    arm();
  }

  /** Abort every live attempt when `signal` aborts (one listener per signal). */
  function link(signal) {
    if (linked.has(signal)) return;
    linked.add(signal);
    signal.addEventListener(
      'abort',
      () => {
        const reason = abortReason(signal);
        for (const group of live) group.controller.abort(reason);
        live.clear();
        current = null;
        for (const attempt of bare) attempt.reject(reason);
        bare.clear();
      },
      { once: true },
    );
  }

  /** The attempt of `state` has ended (or is being replaced by a retry). */
  function leave(state) {
    const group = state[GROUP];
    if (group === null) return;
    state[GROUP] = null;
    group.running -= 1;
    if (group.running === 0 && group !== current) live.delete(group);
  }

  /** One attempt of the request `state`: a fetch under its group's deadline. */
  function attemptFetch(state, input, init) {
    const stateSignal = state[SIGNAL];
    if (stateSignal.aborted) return Promise.reject(abortReason(stateSignal));
    if (timeout === Infinity) return bareFetch(state, input, init);
    leave(state);
    const now = performance.now();
    let group = current;
    if (group === null || group.joined === GROUP_SIZE || now - group.started >= epoch) {
      if (group !== null && group.running === 0) live.delete(group);
      group = current = { controller: abortControllerFor(fetch), started: now, deadline: 0, running: 0, joined: 0 };
      live.add(group);
    }
    group.deadline = now + timeout;
    group.running += 1;
    group.joined += 1;
    state[GROUP] = group;
    state[ATTEMPTS] += 1;
    arm();
    // `init.signal` (limiter.fetch's own, when it was given ours) aborts
    // only when ours does, and ours reaches the group through `link`.
    const signal = group.controller.signal;
    // For a plain GET, what limiter.fetch hands us holds at most its own
    // signal (our init has no other fetch option), which ours replaces.
    const attemptInit = plain || !init ? { signal } : { ...init, signal };
    return fetch(input, attemptInit);
  }

  /** Attempts without a signal (`--timeout none`) whose answer is still awaited. */
  const bare = new Set();

  /**
   * An attempt with no signal: only method and headers reach `fetch`. It
   * settles as aborted at once if the run is aborted before its response;
   * a response that arrives after that has its body cancelled.
   */
  function bareFetch(state, input, init) {
    state[ATTEMPTS] += 1;
    const sent = init?.method !== undefined || init?.headers !== undefined
      ? fetch(input, { method: init.method, headers: init.headers })
      : fetch(input);
    return new Promise((resolve, reject) => {
      const attempt = { reject };
      bare.add(attempt);
      sent.then(
        (response) => {
          if (bare.delete(attempt)) resolve(response);
          else response.body?.cancel().catch(() => {});
        },
        (error) => {
          if (bare.delete(attempt)) reject(error);
        },
      );
    });
  }

  /**
   * A request's `limiter.fetch` init, which also carries its state (under
   * symbols: made here so the caller's per-URL async function is the only
   * frame). Call `end(init)` when its body is done or it failed. `init` has
   * only the options in use (no `method`, `headers` or `signal` key left
   * undefined): limiter.fetch copies its non-weir keys into what it hands
   * `fetch`.
   */
  function begin(signal) {
    link(signal);
    let init;
    const fetch = (input, fetchInit) => attemptFetch(init, input, fetchInit);
    if (!plain) {
      init = { ...(mayWait ? waitingInit : unheldInit), fetch, [SIGNAL]: signal, [GROUP]: null, [ATTEMPTS]: 0 };
      if (mayWait) init.signal = signal;
    } else if (mayWait) {
      init = { signal, retry, bodyTimeout: Infinity, fetch, [SIGNAL]: signal, [GROUP]: null, [ATTEMPTS]: 0 };
    } else {
      init = { retry, bodyTimeout: Infinity, releaseOn: 'headers', fetch, [SIGNAL]: signal, [GROUP]: null, [ATTEMPTS]: 0 };
    }
    active += 1;
    return init;
  }

  function end(init) {
    active -= 1;
    leave(init);
  }

  return {
    begin,
    end,
    /** Attempts sent so far for the request of `init` (from `begin`). */
    attemptsOf: (init) => init[ATTEMPTS],
    /** Requests begun and not yet ended (queued, sending or reading a body). */
    get active() {
      return active;
    },
    /** limiter.fetch releases its permit at the headers (see `mayWait`). */
    releasesAtHeaders: !mayWait,
    stats: () => normaliseFetchStats(limiter.fetchStats()),
  };
}

/**
 * `{ retries, status429, hosts: [{ key, queued, inFlight }] }` summed over
 * the per-key figures of `limiter.fetchStats()`.
 */
export function normaliseFetchStats(raw) {
  const out = { retries: 0, status429: 0, hosts: [] };
  for (const [key, s] of Object.entries(raw ?? {})) {
    out.retries += s.retried;
    out.status429 += s.status429;
    out.hosts.push({ key, queued: s.queued, inFlight: s.inFlight });
  }
  return out;
}
