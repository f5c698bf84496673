// A tiny, host-neutral test harness: `test(name, fn)` registers a case,
// `runAll(weir)` runs them in order. Cases use only what every host has
// (Promise, setTimeout, AbortController, performance.now).

/** @typedef {{ name: string, fn: (ctx: object) => Promise<void> | void }} Case */

/** @type {Case[]} */
export const cases = [];

/** Register a conformance case. Names must be unique. */
export function test(name, fn) {
  if (cases.some((c) => c.name === name)) throw new Error(`duplicate case name: ${name}`);
  cases.push({ name, fn });
}

class AssertionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AssertionError';
  }
}

const show = (v) => {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

export const assert = {
  ok(value, message = 'expected a truthy value') {
    if (!value) throw new AssertionError(message);
  },
  equal(actual, expected, message = '') {
    if (!Object.is(actual, expected)) {
      throw new AssertionError(`${message} expected ${show(expected)}, got ${show(actual)}`.trim());
    }
  },
  deepEqual(actual, expected, message = '') {
    if (show(actual) !== show(expected)) {
      throw new AssertionError(`${message} expected ${show(expected)}, got ${show(actual)}`.trim());
    }
  },
  atMost(actual, bound, message = '') {
    if (!(actual <= bound)) throw new AssertionError(`${message} expected <= ${bound}, got ${actual}`.trim());
  },
  /** `fn()` throws an instance of `type` whose message matches `pattern`. */
  throws(fn, type, pattern, message = '') {
    let threw = false;
    try {
      fn();
    } catch (error) {
      threw = true;
      assert.matchesError(error, type, pattern, message);
    }
    if (!threw) throw new AssertionError(`${message} expected ${type.name} matching ${pattern}, nothing thrown`.trim());
  },
  async rejects(promise, check, message = '') {
    let rejected = false;
    try {
      await promise;
    } catch (error) {
      rejected = true;
      if (typeof check === 'function') check(error);
    }
    if (!rejected) throw new AssertionError(`${message} expected a rejection`.trim());
  },
  matchesError(error, type, pattern, message = '') {
    if (!(error instanceof type)) {
      throw new AssertionError(`${message} expected ${type.name}, got ${error?.name}: ${error?.message}`.trim());
    }
    if (pattern && !pattern.test(error.message)) {
      throw new AssertionError(`${message} expected message matching ${pattern}, got "${error.message}"`.trim());
    }
  },
};

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve/reject outside. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let queued microtasks and zero-delay timers run. */
export async function settle(turns = 3) {
  for (let i = 0; i < turns; i++) await sleep(0);
}

/** A hang detector, not a timing assertion: fails a case that never ends. */
export const CASE_TIMEOUT_MS = 15000;

/**
 * Run one case; resolves to `{ name, ok, error?, ms }`, never rejects.
 */
export async function runCase(c, weir) {
  const started = performance.now();
  let timer;
  const hang = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`case did not finish within ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.resolve().then(() => c.fn({ weir, assert, sleep, deferred, settle })), hang]);
    return { name: c.name, ok: true, ms: performance.now() - started };
  } catch (error) {
    return {
      name: c.name,
      ok: false,
      error: `${error?.name ?? 'Error'}: ${error?.message ?? error}\n${error?.stack ?? ''}`,
      ms: performance.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Run every case in order; resolves to the results. */
export async function runAll(weir, registered = cases) {
  const results = [];
  for (const c of registered) results.push(await runCase(c, weir));
  return results;
}

/** The closing line every host prints: "N passed, N failed". */
export function summary(results) {
  const passed = results.filter((r) => r.ok).length;
  return `${passed} passed, ${results.length - passed} failed`;
}
