// The simulated hosts of the live view: who they are and how long they take.
// Shared by the target server (www/server/) and the page's simulated mode, so
// both answer alike. Pure data plus a latency sampler; no I/O, no clock.
//
// Invariants:
// - every profile has a unique `name` (used in URLs, stats and the page);
// - a sampled latency is finite, >= 0 and within [median/5, median*10];
// - `limit.rate` and every knee are whole numbers >= 1 when present;
// - a knee that changes (`{ every, steps }`) is a pure function of the time
//   since the host's first request (`kneeAt`): the server, the simulated
//   hosts and the page's capacity line compute it alike.

/** @typedef {{ name: string, about: string, median: number, sigma: number,
 *   limit?: { rate: number, retryAfter: number },
 *   knee?: number | { every: number, steps: number[] }, shed?: number }} Profile
 * `knee`: capacity (in flight) past which latency grows; `{ every, steps }`
 * cycles through `steps`, `every` ms each. `shed`: an arrival that finds
 * more than `shed` × knee in flight gets 503 at once. */

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
  {
    name: 'shifting',
    about: '~40 ms; capacity 5, then 2 after 6 s, and so on; 503 past 2× it',
    median: 40,
    sigma: 0.2,
    knee: { every: 6000, steps: [5, 2] },
    shed: 2,
  },
];

/**
 * The capacity knee of `profile` `ms` after its first request (undefined
 * when it has none): a fixed knee, or the step of its cycle.
 */
export function kneeAt(profile, ms) {
  const knee = profile.knee;
  if (knee === undefined || typeof knee === 'number') return knee;
  const step = Math.floor(Math.max(0, ms) / knee.every);
  return knee.steps[step % knee.steps.length];
}

/** The profile called `name`, or a RangeError naming it. */
export function profileOf(name) {
  const p = PROFILES.find((x) => x.name === name);
  if (!p) throw new RangeError(`unknown host '${name}' (expected one of: ${PROFILES.map((x) => x.name).join(', ')})`);
  return p;
}

/**
 * One latency in ms for `profile` with `inFlight` requests at the host (this
 * one included): log-normal around the median, clamped to [median/5,
 * median*10]; past a capacity knee of N (`knee`, default the profile's
 * first) it grows by (inFlight/N)^1.5, so the host's throughput falls as
 * more is sent at once.
 */
export function sampleLatency(profile, inFlight, random = Math.random, knee = kneeAt(profile, 0)) {
  // Box–Muller: one standard normal from two uniforms in (0, 1].
  const u = 1 - random();
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  let ms = profile.median * Math.exp(profile.sigma * z);
  ms = Math.min(profile.median * 10, Math.max(profile.median / 5, ms));
  if (knee !== undefined && inFlight > knee) ms *= (inFlight / knee) ** 1.5;
  return ms;
}
