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

/** A TimeoutError like AbortSignal.timeout's, naming the option. */
function timeoutError(ms) {
  return new DOMException(`no complete response within ${ms} ms (--timeout)`, 'TimeoutError');
}

/**
 * @param {object} o
 * @param {import('../api.js').Limiter} o.limiter
 * @param {number} o.retries    retries after the first attempt
 * @param {number} o.timeout    ms per attempt, from admission to the end of the body
 * @param {string} o.method
 * @param {[string, string][]} o.headers
 * @returns {{ fetchOne(url: string, signal: AbortSignal, consume: (r: Response) => Promise<number>):
 *   Promise<{ status: number, bytes: number, attempts: number }>, stats(): object }}
 */
export function createFetcher({ limiter, retries, timeout, method, headers }) {
  const retry = { attempts: retries + 1 };

  async function fetchOne(url, signal, consume) {
    const cleanups = [];
    // Each attempt gets its own deadline, linked to limiter.fetch's signal.
    const timedFetch = (input, init) => {
      const attempt = new AbortController();
      const outer = init.signal;
      const onOuterAbort = () => attempt.abort(outer.reason);
      if (outer.aborted) attempt.abort(outer.reason);
      else outer.addEventListener('abort', onOuterAbort, { once: true });
      const timer = setTimeout(() => attempt.abort(timeoutError(timeout)), timeout);
      cleanups.push(() => {
        clearTimeout(timer);
        outer.removeEventListener('abort', onOuterAbort);
      });
      return fetch(input, { ...init, signal: attempt.signal });
    };
    try {
      const response = await limiter.fetch(url, { method, headers, signal, retry, fetch: timedFetch });
      const bytes = await consume(response);
      return { status: response.status, bytes, attempts: response.attempts ?? cleanups.length };
    } catch (error) {
      // Attempts actually sent (0 when aborted while queued).
      throw Object.assign(Object(error), { attempts: cleanups.length });
    } finally {
      for (const cleanup of cleanups) cleanup();
    }
  }

  return { fetchOne, stats: () => normaliseFetchStats(limiter.fetchStats()) };
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
