// Settings (from a preset or the form) → what a run needs: the Limiter's
// options, the host mix and the counts. Every bad value throws a RangeError
// naming the field; the rate syntax is the `weir` command's (`20/s`,
// `600/min`, `100/5s`), plus an optional `burst N`.
//
// Invariants: a returned plan is complete and valid (the Limiter may still
// refuse a combination, with its own message naming the option).
import { parseRate } from '../../js/cli/values.js';

/** "30/s burst 10, 100/5s" → [{ limit, interval, burst? }]; '' → undefined. */
export function parseQuotas(text, field) {
  const parts = String(text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) return undefined;
  return parts.map((part) => {
    const m = /^(.*?)(?:\s+burst\s+(\S+))?$/.exec(part);
    let quota;
    try {
      quota = parseRate(m[1], field);
    } catch (error) {
      throw new RangeError(error.message);
    }
    if (m[2] !== undefined) {
      const burst = Number(m[2]);
      if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`${field}: burst must be a whole number >= 1, got '${m[2]}'`);
      quota.burst = burst;
    }
    return quota;
  });
}

function whole(value, field, min, { optional = false } = {}) {
  if (optional && (value === '' || value === undefined || value === null)) return undefined;
  const n = typeof value === 'number' ? value : Number(String(value).replace(/[_,\s]/g, ''));
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${field}: expected a whole number >= ${min}, got '${value}'`);
  return n;
}

/**
 * @param {object} s  settings (see presets.js)
 * @param {string[]} known  host names that exist
 */
export function planOf(s, known) {
  const hosts = s.hosts ?? [];
  if (hosts.length === 0) throw new RangeError('hosts: pick at least one host');
  for (const h of hosts) if (!known.includes(h)) throw new RangeError(`hosts: unknown host '${h}'`);
  const weights = hosts.map((h) => whole(s.weights?.[h] ?? 1, `weight of ${h}`, 1));
  const limiter = {};
  const concurrency = whole(s.concurrency, 'global concurrency', 1, { optional: true });
  const perKey = whole(s.perKey, 'per-host cap', 1, { optional: true });
  const rate = parseQuotas(s.rate, 'global quota');
  const perKeyRate = parseQuotas(s.perKeyRate, 'per-host quota');
  if (concurrency !== undefined) limiter.concurrency = concurrency;
  if (perKey !== undefined) limiter.perKey = perKey;
  if (rate) limiter.rate = rate;
  if (perKeyRate) limiter.perKeyRate = perKeyRate;
  return {
    hosts,
    weights,
    limiter,
    requests: whole(s.requests, 'requests', 1),
    window: whole(s.window, 'window', 1),
    attempts: whole(s.retries, 'retries', 0) + 1,
  };
}

/** Long-run rate (per second) of a list of quotas: the smallest. */
export function steadyRate(quotas) {
  if (!quotas) return Infinity;
  return Math.min(...quotas.map((q) => (q.limit * 1000) / q.interval));
}
