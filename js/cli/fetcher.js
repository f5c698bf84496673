// One URL through the limiter: `limiter.fetch` (the package's fetch wrapper:
// per-host caps, rate quotas, Retry-After cooldowns, budgeted retries) does
// all the limiting. The CLI only reads the body (counting or saving it) and
// reports status, bytes and attempts.
//
// Until `limiter.fetch` is present (it lands from the `fetch` branch), a
// stand-in with the same contract is used (./fetch-standin.js): it takes its
// permits from the same core Limiter and only adds the retry loop.
import { standInFetch, StandInStats } from './fetch-standin.js';

/**
 * @param {object} o
 * @param {import('../api.js').Limiter} o.limiter
 * @param {number} o.retries    retries after the first attempt
 * @param {number} o.timeout    ms for a whole request
 * @param {string} o.method
 * @param {[string, string][]} o.headers
 * @returns {{ fetchOne(url: string, signal: AbortSignal, consume: (r: Response) => Promise<number>):
 *   Promise<{ status: number, bytes: number, attempts: number }>, stats(): object }}
 */
export function createFetcher({ limiter, retries, timeout, method, headers }) {
  const native = typeof limiter.fetch === 'function';
  const standInStats = native ? null : new StandInStats();
  const retry = { attempts: retries + 1 };
  const baseInit = { method, headers };

  async function fetchOne(url, signal, consume) {
    const init = { ...baseInit, signal, retry, timeout };
    if (native) {
      const response = await limiter.fetch(url, init);
      const bytes = await consume(response);
      return { status: response.status, bytes, attempts: attemptsOf(response) };
    }
    return standInFetch(limiter, standInStats, url, init, consume);
  }

  function stats() {
    if (!native) return standInStats.snapshot(limiter);
    return normaliseFetchStats(typeof limiter.fetchStats === 'function' ? limiter.fetchStats() : undefined);
  }

  return { fetchOne, stats, native };
}

function attemptsOf(response) {
  const n = response.attempts ?? response.weir?.attempts;
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/**
 * `{ retries, status429, hosts: [{ key, queued, inFlight }] }` from whatever
 * per-key stats `limiter.fetchStats()` returns (an object or Map by key, or an
 * array of rows with `key`).
 */
export function normaliseFetchStats(raw) {
  const out = { retries: 0, status429: 0, hosts: [] };
  if (!raw) return out;
  let rows;
  if (raw instanceof Map) rows = [...raw].map(([key, s]) => ({ key, ...s }));
  else if (Array.isArray(raw)) rows = raw;
  else if (raw.keys && typeof raw.keys === 'object') rows = normaliseFetchStats(raw.keys).rows;
  else rows = Object.entries(raw).filter(([, s]) => s && typeof s === 'object').map(([key, s]) => ({ key, ...s }));
  for (const s of rows ?? []) {
    const retried = s.retried ?? s.retries ?? 0;
    const seen429 = s.status429 ?? s.seen429 ?? s.tooMany ?? s['429s'] ?? 0;
    out.retries += Number(retried) || 0;
    out.status429 += Number(seen429) || 0;
    out.hosts.push({ key: s.key, queued: Number(s.queued) || 0, inFlight: Number(s.inFlight) || 0 });
  }
  out.rows = rows;
  return out;
}
