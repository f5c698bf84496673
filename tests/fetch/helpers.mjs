// Shared helpers of the fetch tests: local target servers and small waits.
import { startTarget } from '../../bindings/js/server/target.js';

/** Start `n` target servers (each port is its own limiter key). */
export async function targets(n, options = {}) {
  const list = [];
  for (let i = 0; i < n; i++) list.push(await startTarget({ delayMs: 0, ...options }));
  return list;
}

/** The server-side figures of `target` for its own Host header. */
export function hostStats(target) {
  const host = new URL(target.url).host;
  return target.stats().hosts[host] ?? { total: 0, maxConcurrent: 0, current: 0, timestamps: [], statuses: {} };
}

/** Wait (polling every few ms) until `predicate()` holds, or fail after `ms`. */
export async function until(predicate, ms = 5_000, what = 'condition') {
  const deadline = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The limiter is back to rest: nothing held, nothing queued. */
export function atRest(limiter) {
  const s = limiter.stats();
  const f = Object.values(limiter.fetchStats());
  return s.inFlight === 0 && s.queued === 0 && f.every((k) => k.inFlight === 0 && k.queued === 0);
}
