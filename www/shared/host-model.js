// One simulated host as a state machine: given an arrival time it decides the
// answer (200 after a latency, or 429 with Retry-After) and counts what it
// saw. The target server drives it with real requests and `performance.now()`,
// the page's simulated mode with a fake fetch; neither adds rules of its own.
//
// Invariants:
// - `current` = arrivals − leaves, `maxConcurrent` = the largest `current` ever;
// - a host with a `limit` accepts at most `limit.rate` requests in any 1000 ms
//   window; the arrival that would exceed it gets 429 and starts a cooldown of
//   `limit.retryAfter` s, during which every arrival gets 429 (with the
//   remaining seconds, rounded up) and is counted with its offset into the
//   cooldown: a client that honours Retry-After only sends into a cooldown
//   what it had sent before the first 429 reached it (small offsets);
// - memory is bounded: arrival stamps, cooldowns and offsets are fixed rings;
// - a request that arrived before a `reset` leaves uncounted (its answer
//   carries the epoch it arrived in);
// - a knee that changes is timed from the first arrival after a reset
//   (`since`), so a run sees the whole cycle from its start; a host with
//   `shed` answers 503 (at once) to an arrival that finds more than
//   `shed` × the knee of the moment in flight, itself included.
import { kneeAt, sampleLatency } from './profiles.js';

const RING = 16384;
const COOLDOWN_RING = 512;

/** A fixed-size ring of numbers; `toArray()` gives the kept ones, oldest first. */
class Ring {
  constructor(size) {
    this.items = new Float64Array(size);
    this.count = 0;
  }

  push(x) {
    this.items[this.count % this.items.length] = x;
    this.count += 1;
  }

  get dropped() {
    return Math.max(0, this.count - this.items.length);
  }

  toArray() {
    const n = Math.min(this.count, this.items.length);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.items[(this.count - n + i) % this.items.length];
    return out;
  }
}

export class HostModel {
  /** @param {import('./profiles.js').Profile} profile */
  constructor(profile, { random = Math.random, ring = RING } = {}) {
    this.profile = profile;
    this.random = random;
    this.ringSize = ring;
    this.reset();
  }

  /** Forget every counter and any cooldown. */
  reset() {
    this.epoch = (this.epoch ?? 0) + 1;
    this.current = 0;
    this.maxConcurrent = 0;
    this.total = 0;
    this.statuses = {};
    this.arrivals = new Ring(this.ringSize);
    this.cooldowns = new Ring(COOLDOWN_RING * 2); // start, end pairs
    this.cooldownArrivals = 0;
    this.maxCooldownOffset = 0;
    this.offsets = new Ring(COOLDOWN_RING);
    this.accepted = this.profile.limit ? new Float64Array(this.profile.limit.rate).fill(-Infinity) : null;
    this.acceptedAt = 0;
    this.coolStart = -Infinity;
    this.coolUntil = -Infinity;
    this.since = undefined;
    this.knee = kneeAt(this.profile, 0);
  }

  /**
   * A request arrives at `now` (ms): `{ status, delayMs, retryAfter, epoch }`
   * (status 200, 429 or 503; `retryAfter` in whole seconds for a 429). Call `leave(status, epoch)`
   * when it has been answered.
   */
  arrive(now) {
    this.current += 1;
    if (this.current > this.maxConcurrent) this.maxConcurrent = this.current;
    this.total += 1;
    this.arrivals.push(now);
    if (this.since === undefined) this.since = now;
    const knee = kneeAt(this.profile, now - this.since);
    this.knee = knee;
    if (this.profile.shed !== undefined && knee !== undefined && this.current > this.profile.shed * knee) {
      return { status: 503, delayMs: 0, retryAfter: 0, epoch: this.epoch };
    }
    const limit = this.profile.limit;
    if (limit) {
      if (now < this.coolUntil) {
        const offset = now - this.coolStart;
        this.cooldownArrivals += 1;
        this.offsets.push(offset);
        if (offset > this.maxCooldownOffset) this.maxCooldownOffset = offset;
        return { status: 429, delayMs: 0, retryAfter: Math.max(1, Math.ceil((this.coolUntil - now) / 1000)), epoch: this.epoch };
      }
      // The oldest of the last `rate` accepted arrivals: within 1 s means this
      // one would be the (rate+1)-th in a second.
      const oldest = this.accepted[this.acceptedAt];
      if (now - oldest < 1000) {
        this.coolStart = now;
        this.coolUntil = now + limit.retryAfter * 1000;
        this.cooldowns.push(now);
        this.cooldowns.push(this.coolUntil);
        return { status: 429, delayMs: 0, retryAfter: limit.retryAfter, epoch: this.epoch };
      }
      this.accepted[this.acceptedAt] = now;
      this.acceptedAt = (this.acceptedAt + 1) % this.accepted.length;
    }
    return { status: 200, delayMs: sampleLatency(this.profile, this.current, this.random, knee), retryAfter: 0, epoch: this.epoch };
  }

  /** The request answered with `status` has left (uncounted if it arrived before a reset). */
  leave(status, epoch = this.epoch) {
    if (epoch !== this.epoch) return;
    this.current -= 1;
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
  }

  /** What this host saw (plain data, JSON-safe). */
  stats() {
    const pairs = this.cooldowns.toArray();
    const cooldowns = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) cooldowns.push([pairs[i], pairs[i + 1]]);
    return {
      name: this.profile.name,
      current: this.current,
      maxConcurrent: this.maxConcurrent,
      total: this.total,
      statuses: { ...this.statuses },
      arrivals: this.arrivals.toArray(),
      arrivalsDropped: this.arrivals.dropped,
      cooldowns,
      cooldownArrivals: this.cooldownArrivals,
      maxCooldownOffset: this.maxCooldownOffset,
      cooldownOffsets: this.offsets.toArray(),
      since: this.since ?? null,
      knee: this.knee ?? null,
    };
  }
}
