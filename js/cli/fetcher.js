// One URL through `limiter.fetch` (the package's fetch wrapper: per-host caps,
// rate quotas, Retry-After cooldowns, budgeted retries, timeouts). The CLI
// only reads the body (counting or saving it) and reports status, bytes and
// attempts; it makes no limiting decision of its own.

/**
 * @param {object} o
 * @param {import('../api.js').Limiter} o.limiter
 * @param {number} o.retries    retries after the first attempt
 * @param {number} o.timeout    ms until the response headers, queueing and retries included
 * @param {string} o.method
 * @param {[string, string][]} o.headers
 * @returns {{ fetchOne(url: string, signal: AbortSignal, consume: (r: Response) => Promise<number>):
 *   Promise<{ status: number, bytes: number, attempts: number }>, stats(): object }}
 */
export function createFetcher({ limiter, retries, timeout, method, headers }) {
  const retry = { attempts: retries + 1 };
  const base = { method, headers, retry, timeout };

  async function fetchOne(url, signal, consume) {
    const response = await limiter.fetch(url, { ...base, signal });
    const bytes = await consume(response);
    return { status: response.status, bytes, attempts: response.attempts ?? 1 };
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
