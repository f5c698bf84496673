// The simulated hosts of the live view: who they are and how long they take.
// Shared by the target server (www/server/) and the page's simulated mode, so
// both answer alike. Pure data plus a latency sampler; no I/O, no clock.
//
// Invariants:
// - every profile has a unique `name` (used in URLs, stats and the page);
// - a sampled latency is finite, >= 0 and within [median/5, median*10];
// - `limit.rate` and `knee` are whole numbers >= 1 when present.

/** @typedef {{ name: string, about: string, median: number, sigma: number,
 *   limit?: { rate: number, retryAfter: number }, knee?: number }} Profile */

/** @type {Profile[]} */
export const PROFILES = [
  { name: 'cdn', about: 'fast: ~3 ms', median: 3, sigma: 0.5 },
  { name: 'api', about: 'steady: ~30 ms', median: 30, sigma: 0.5 },
  { name: 'slow', about: 'slow: ~700 ms', median: 700, sigma: 0.35 },
  {
    name: 'limited',
    about: '429 + Retry-After: 1 above 25 req/s',
    median: 15,
    sigma: 0.4,
    limit: { rate: 25, retryAfter: 1 },
  },
  { name: 'knee', about: '~20 ms up to 3 in flight, slower past that', median: 20, sigma: 0.3, knee: 3 },
];

/** The profile called `name`, or a RangeError naming it. */
export function profileOf(name) {
  const p = PROFILES.find((x) => x.name === name);
  if (!p) throw new RangeError(`unknown host '${name}' (expected one of: ${PROFILES.map((x) => x.name).join(', ')})`);
  return p;
}

/**
 * One latency in ms for `profile` with `inFlight` requests at the host (this
 * one included): log-normal around the median, clamped to [median/5,
 * median*10]; past a capacity knee of N it grows by (inFlight/N)^1.5, so
 * the host's throughput falls as more is sent at once.
 */
export function sampleLatency(profile, inFlight, random = Math.random) {
  // Box–Muller: one standard normal from two uniforms in (0, 1].
  const u = 1 - random();
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  let ms = profile.median * Math.exp(profile.sigma * z);
  ms = Math.min(profile.median * 10, Math.max(profile.median / 5, ms));
  if (profile.knee !== undefined && inFlight > profile.knee) ms *= (inFlight / profile.knee) ** 1.5;
  return ms;
}
