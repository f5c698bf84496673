// The rate figures of a key from the TATs gcra.lua returns: the core's
// `RateLimiter::status` formulas (the twin of `figures` in
// integrations/redis/src/rate.rs, which the differential test checks against
// the core), in BigInt scaled units (ns × limit).
//
// Output: the guard's figures, laid out as the core lays them out
// (`GUARD.figures`, read from Rust by boundary.js).
import { GUARD } from '../boundary.js';

const E9 = 1_000_000_000n;

/** ceil(scaled / limit) ns. */
const atOrAfter = (scaled, limit) => scaled / limit + (scaled % limit === 0n ? 0n : 1n);

/**
 * @param quotas [[limit, intervalMs, burst], ...] in the order of the cells
 * @param reply gcra.lua's integer reply with figures
 */
export function figuresOf(quotas, reply) {
  const ns = (i) => BigInt(reply[i]) * E9 + BigInt(reply[i + 1]);
  const now = ns(3);
  const pausedUntil = ns(5);
  const rampNext = ns(7);
  const paused = pausedUntil > now;
  let notUntil = 0n;
  for (const t of [pausedUntil, rampNext]) if (t > now && t > notUntil) notUntil = t;
  let best = null;
  quotas.forEach(([limit, intervalMs, burst], i) => {
    const l = BigInt(limit);
    const iv = BigInt(Math.max(1, Math.round(intervalMs * 1e6)));
    const at = 9 + 3 * i;
    const tat = (BigInt(reply[at]) * E9 + BigInt(reply[at + 1])) * l + BigInt(reply[at + 2]);
    const nowS = now * l;
    const tol = BigInt(burst) * iv;
    const backlog = tat > nowS ? tat - nowS : 0n;
    const units = tol > backlog ? (tol - backlog) / iv : 0n;
    const full = atOrAfter(tat, l);
    const reset = full > now ? full - now : 0n;
    if (best === null || units < best.units || (units === best.units && reset > best.reset)) {
      best = { units, reset, limit, intervalMs };
    }
    const newTat = (tat > nowS ? tat : nowS) + iv;
    const earliest = newTat > tol ? newTat - tol : 0n;
    if (earliest > nowS) {
      const t = atOrAfter(earliest, l);
      if (t > notUntil) notUntil = t;
    }
  });
  const remaining = best === null ? 0n : paused ? 0n : best.units;
  let reset = best === null ? 0n : best.reset;
  if (paused && pausedUntil - now > reset) reset = pausedUntil - now;
  const retry = remaining >= 1n && !paused ? 0n : notUntil > now ? notUntil - now : 0n;
  const F = GUARD.figures;
  const figures = new Float64Array(F.length);
  figures[F.limit] = best?.limit ?? 0;
  figures[F.remaining] = Number(remaining);
  figures[F.resetNs] = Number(reset);
  figures[F.retryNs] = Number(retry);
  figures[F.intervalMs] = best?.intervalMs ?? 0;
  return figures;
}
