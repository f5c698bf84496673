// Values of the `weir` command line that need nothing from Node: the
// UsageError every bad argument throws, and the rate form (`20/s,burst=5`).
// Pure, so the browser page (www/) parses quotas with the very same rules.

/** A bad command line: the message names the argument; exit code 2. */
export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
    this.exitCode = 2;
  }
}

export const UNIT_MS = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, hr: 3_600_000 };

export const MAX_U32 = 0xffffffff;

/** The longest rate interval and duration: 365 days (ms). */
export const MAX_MS = 365 * 24 * 3_600_000;

/**
 * `20/s`, `600/min`, `5/h`, `1/ms`, `10/2s`, each optionally followed by
 * `,burst=N` → `{ limit, interval }` (interval in ms) plus `burst` when
 * given. The default burst is the count (`20/s` admits 20 at once).
 */
export function parseRate(text, name) {
  const m = /^\s*(\d+)\s*\/\s*(\d*(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr)\s*(?:,\s*burst\s*=\s*(\S*?)\s*)?$/.exec(String(text));
  if (!m) {
    throw new UsageError(`${name}: expected a rate like 20/s, 600/min, 5/h or 1/ms, optionally ',burst=N', got '${text}'`);
  }
  const limit = Number(m[1]);
  const times = m[2] === '' ? 1 : Number(m[2]);
  const interval = times * UNIT_MS[m[3]];
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_U32) {
    throw new UsageError(`${name}: the count must be from 1 to ${MAX_U32}, got '${text}'`);
  }
  if (!(interval > 0) || interval > MAX_MS) {
    throw new UsageError(`${name}: the interval must be positive and at most 365 days, got '${text}'`);
  }
  if (m[4] === undefined) return { limit, interval };
  const burst = /^\d[\d_]*$/.test(m[4]) ? Number(m[4].replace(/_/g, '')) : NaN;
  if (!(burst >= 1 && burst <= MAX_U32)) {
    throw new UsageError(`${name}: burst: must be from 1 to ${MAX_U32}, got '${text}'`);
  }
  return { limit, interval, burst };
}
