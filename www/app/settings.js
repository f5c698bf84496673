// Settings (from a preset or the form) → what a run needs: the Limiter's
// options, the host mix and the counts. Every bad value throws a RangeError
// naming the field; the rate syntax is the `weir` command's (`20/s`,
// `600/min`, `100/5s`), plus an optional `burst N`.
//
// The global concurrency is a whole number, empty (no cap) or `auto`: an
// adaptive cap, `auto [gradient|aimd] [min N] [max N] [initial N]`
// (the Limiter's `concurrency: { adaptive }`; the core's defaults apply to
// what is left out).
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

const ALGORITHMS = ['gradient', 'aimd'];
const BOUNDS = ['min', 'max', 'initial'];

/**
 * "auto aimd max 40" → `{ adaptive: { algorithm: 'aimd', max: 40 } }`; a
 * number or '' → what `whole` makes of it (undefined = no cap).
 */
export function parseConcurrency(value, field = 'global concurrency') {
  const text = String(value ?? '').trim();
  const words = text.toLowerCase().split(/\s+/);
  if (words[0] !== 'auto') return whole(text, field, 1, { optional: true });
  const adaptive = {};
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (ALGORITHMS.includes(w)) {
      if (adaptive.algorithm !== undefined) throw new RangeError(`${field}: two algorithms in '${text}'`);
      adaptive.algorithm = w;
    } else if (BOUNDS.includes(w)) {
      if (adaptive[w] !== undefined) throw new RangeError(`${field}: '${w}' given twice in '${text}'`);
      if (i + 1 >= words.length) throw new RangeError(`${field}: '${w}' needs a number after it in '${text}'`);
      adaptive[w] = whole(words[++i], `${field} ${w}`, 1);
    } else {
      throw new RangeError(`${field}: unknown word '${w}' in '${text}' (expected: auto [gradient|aimd] [min N] [max N] [initial N])`);
    }
  }
  if (adaptive.min !== undefined && adaptive.max !== undefined && adaptive.min > adaptive.max) {
    throw new RangeError(`${field}: min ${adaptive.min} is above max ${adaptive.max}`);
  }
  return { adaptive };
}

/** The adaptive options of a plan's limiter, or undefined for a fixed cap. */
export function adaptiveOf(limiter) {
  const c = limiter.concurrency;
  return c !== null && typeof c === 'object' ? c.adaptive : undefined;
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
  const concurrency = parseConcurrency(s.concurrency);
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
