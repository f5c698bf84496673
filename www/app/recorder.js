// What a run did, in bounded memory, for the charts, the tables and the
// tests: per-tick samples (time series), events (429s, cooldowns, admits) in
// fixed rings, and per-host counters with latency histograms.
//
// Invariants:
// - memory does not grow with the number of requests: the time series holds at
//   most `maxPoints` rows (when full, neighbouring rows merge pairwise and
//   later ticks are merged `stride` at a time), events live in fixed rings;
// - `inFlight[h]` counts attempts between the call to fetch and the end of
//   their body, so it never exceeds the permits the limiter has handed out;
// - per-tick peaks (`max` columns) are the largest value seen during the tick,
//   not a sample at its end: a cap that was exceeded for 1 ms shows;
// - the caps (`cap`, `perKeyCap`) are sampled from limiter.stats() every
//   tick, never copied from the settings: a limit that changes while it runs
//   (setLimits, or an adaptive limit) is drawn as it changes; so are the
//   adaptive cap's figures (`limit`, `minRtt`, `sampleRtt`, `gradient`, NaN
//   without one), from limiter.stats().adaptive;
// - `capacity` is the hosts' own capacity of the moment (the sum of their
//   knees, each timed from the host's first admit as the host times it),
//   NaN when a host has no knee: what an adaptive limit should find.
import { Histogram } from '../../js/cli/histogram.js';
import { kneeAt } from '../shared/profiles.js';

const MERGE = { max: Math.max, last: (a, b) => b, mean: (a, b) => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : (a + b) / 2) };

/** Time-series columns with pairwise compaction. */
export class Columns {
  /** @param {Record<string, 'max'|'last'|'mean'>} modes */
  constructor(modes, maxPoints) {
    this.names = Object.keys(modes);
    this.modes = this.names.map((k) => MERGE[modes[k]]);
    this.max = maxPoints - (maxPoints % 2);
    this.cols = Object.fromEntries(this.names.map((k) => [k, new Float64Array(this.max)]));
    this.n = 0;
    this.stride = 1;
    this.pending = null;
    this.pendingN = 0;
  }

  /** One tick's values, by column name. */
  add(row) {
    if (this.pending === null) {
      this.pending = this.names.map((k) => row[k]);
    } else {
      for (let i = 0; i < this.names.length; i++) this.pending[i] = this.modes[i](this.pending[i], row[this.names[i]]);
    }
    this.pendingN += 1;
    if (this.pendingN < this.stride) return;
    if (this.n === this.max) this.compact();
    for (let i = 0; i < this.names.length; i++) this.cols[this.names[i]][this.n] = this.pending[i];
    this.n += 1;
    this.pending = null;
    this.pendingN = 0;
  }

  compact() {
    for (let c = 0; c < this.names.length; c++) {
      const col = this.cols[this.names[c]];
      const merge = this.modes[c];
      for (let i = 0; i < this.n / 2; i++) col[i] = merge(col[2 * i], col[2 * i + 1]);
    }
    this.n /= 2;
    this.stride *= 2;
  }
}

/** A fixed ring of records (arrays of numbers). */
class EventRing {
  constructor(size, width) {
    this.size = size;
    this.width = width;
    this.data = new Float64Array(size * width);
    this.count = 0;
  }

  push(...values) {
    const at = (this.count % this.size) * this.width;
    for (let i = 0; i < this.width; i++) this.data[at + i] = values[i];
    this.count += 1;
  }

  /** Kept records, oldest first. */
  toArray() {
    const n = Math.min(this.count, this.size);
    const out = [];
    for (let i = this.count - n; i < this.count; i++) {
      const at = (i % this.size) * this.width;
      out.push(Array.from(this.data.subarray(at, at + this.width)));
    }
    return out;
  }
}

export class Recorder {
  /**
   * @param {string[]} hosts  host names, in display order
   * @param {{ tickMs?: number, maxPoints?: number,
   *   profiles?: (import('../shared/profiles.js').Profile | undefined)[] }} [opts]
   *   profiles[h]: host h's profile, for its capacity line (none: no line)
   */
  constructor(hosts, { tickMs = 100, maxPoints = 1200, profiles = [] } = {}) {
    this.hosts = hosts;
    this.tickMs = tickMs;
    this.profiles = hosts.map((_, h) => profiles[h]);
    const modes = {
      t: 'last', inFlight: 'max', queued: 'max', cap: 'max', perKeyCap: 'max', admitted: 'mean', burst: 'max',
      p50: 'mean', p95: 'mean', p99: 'mean', heap: 'max',
      limit: 'last', minRtt: 'last', sampleRtt: 'mean', gradient: 'mean', capacity: 'last',
    };
    hosts.forEach((_, h) => {
      modes[`inFlight${h}`] = 'max';
      modes[`queued${h}`] = 'max';
    });
    this.series = new Columns(modes, maxPoints);
    this.t0 = performance.now();
    // Live counters.
    this.inFlight = new Int32Array(hosts.length);
    this.peak = new Int32Array(hosts.length);
    this.inFlightAll = 0;
    this.peakAll = 0;
    this.tickAdmits = 0;
    this.secondRing = new Float64Array(Math.max(1, Math.round(1000 / tickMs)));
    this.secondAt = 0;
    this.recent = new Histogram();
    this.recentSince = 0;
    this.lastPct = { p50: NaN, p95: NaN, p99: NaN };
    // Per host and overall.
    this.per = hosts.map(() => ({ admits: 0, ok: 0, status429: 0, status503: 0, errors: 0, peak: 0, latency: new Histogram() }));
    this.firstAdmit = hosts.map(() => NaN);
    // The adaptive limit's time-average (every tick, whatever the compaction).
    this.limitSum = 0;
    this.limitTicks = 0;
    this.latency = new Histogram();
    this.admits = new EventRing(16384, 2); // [t ms, host]
    this.marks429 = new EventRing(2048, 2); // [t ms, host]
    this.marks503 = new EventRing(2048, 2); // [t ms, host]
    this.cooldowns = new EventRing(1024, 3); // [from ms, to ms, host]
    this.openCooldown = hosts.map(() => null);
    this.last429 = hosts.map(() => -Infinity);
    this.totalAdmits = 0;
  }

  /** ms since the run started. */
  now() {
    return performance.now() - this.t0;
  }

  /** An attempt for host `h` was handed to fetch (it holds a permit). */
  admit(h) {
    const at = this.now();
    this.inFlight[h] += 1;
    if (this.inFlight[h] > this.peak[h]) this.peak[h] = this.inFlight[h];
    if (this.inFlight[h] > this.per[h].peak) this.per[h].peak = this.inFlight[h];
    this.inFlightAll += 1;
    if (this.inFlightAll > this.peakAll) this.peakAll = this.inFlightAll;
    this.tickAdmits += 1;
    this.totalAdmits += 1;
    this.per[h].admits += 1;
    if (Number.isNaN(this.firstAdmit[h])) this.firstAdmit[h] = at;
    this.admits.push(at, h);
    return at;
  }

  /** The attempt admitted at `since` ended with `status` (0 = network error). */
  done(h, since, status) {
    const at = this.now();
    this.inFlight[h] -= 1;
    this.inFlightAll -= 1;
    const p = this.per[h];
    if (status === 0) {
      p.errors += 1;
      return;
    }
    const ms = at - since;
    p.latency.record(ms);
    this.latency.record(ms);
    this.recent.record(ms);
    if (status === 429) {
      p.status429 += 1;
      this.marks429.push(at, h);
      this.last429[h] = at;
    } else if (status === 503) {
      p.status503 += 1;
      this.marks503.push(at, h);
    } else if (status >= 200 && status < 300) {
      p.ok += 1;
    }
  }

  /**
   * Sample once a tick: `limiterStats` = limiter.stats(), `hostStats[h]` =
   * the limiter's fetch figures for host h (queued, cooldownUntil in
   * Date.now() ms), or undefined before its first request.
   */
  tick(limiterStats, hostStats) {
    const at = this.now();
    const wall = Date.now();
    const perTick = this.tickAdmits;
    this.tickAdmits = 0;
    this.secondRing[this.secondAt] = perTick;
    this.secondAt = (this.secondAt + 1) % this.secondRing.length;
    let second = 0;
    for (const c of this.secondRing) second += c;
    if (at - this.recentSince >= 1000) {
      const r = this.recent;
      this.lastPct = r.count ? { p50: r.percentile(50), p95: r.percentile(95), p99: r.percentile(99) } : { p50: NaN, p95: NaN, p99: NaN };
      this.recent = new Histogram();
      this.recentSince = at;
    }
    const a = limiterStats.adaptive;
    const row = {
      t: at / 1000,
      inFlight: this.peakAll,
      queued: limiterStats.queued,
      cap: Number.isFinite(limiterStats.concurrency) ? limiterStats.concurrency : NaN,
      perKeyCap: Number.isFinite(limiterStats.perKey) ? limiterStats.perKey : NaN,
      admitted: (second * 1000) / (this.secondRing.length * this.tickMs),
      burst: (perTick * 1000) / this.tickMs,
      p50: this.lastPct.p50,
      p95: this.lastPct.p95,
      p99: this.lastPct.p99,
      heap: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : NaN,
      limit: a ? a.limit : NaN,
      minRtt: a ? a.minRtt : NaN,
      sampleRtt: a ? a.sampleRtt : NaN,
      gradient: a ? a.gradient : NaN,
      capacity: this.capacityAt(at),
    };
    if (a) {
      this.limitSum += a.limit;
      this.limitTicks += 1;
    }
    this.peakAll = this.inFlightAll;
    for (let h = 0; h < this.hosts.length; h++) {
      row[`inFlight${h}`] = this.peak[h];
      this.peak[h] = this.inFlight[h];
      const s = hostStats[h];
      row[`queued${h}`] = s ? s.queued : 0;
      const until = s?.cooldownUntil;
      const open = this.openCooldown[h];
      if (until && until > wall) {
        const end = at + (until - wall);
        if (open) open[1] = end;
        // It began when the 429 that caused it came back (seen by `done`),
        // not at this sample.
        else this.openCooldown[h] = [at - this.last429[h] <= this.tickMs * 2 ? this.last429[h] : at, end];
      } else if (open) {
        this.cooldowns.push(open[0], Math.min(open[1], at), h);
        this.openCooldown[h] = null;
      }
    }
    this.series.add(row);
  }

  /** The hosts' summed capacity `at` ms into the run (NaN if one has no knee). */
  capacityAt(at) {
    let sum = 0;
    for (let h = 0; h < this.hosts.length; h++) {
      const p = this.profiles[h];
      const since = this.firstAdmit[h];
      const knee = p ? kneeAt(p, Number.isNaN(since) ? 0 : at - since) : undefined;
      if (knee === undefined) return NaN;
      sum += knee;
    }
    return sum;
  }

  /** The adaptive limit's mean over the ticks so far (NaN without one). */
  get limitMean() {
    return this.limitTicks > 0 ? this.limitSum / this.limitTicks : NaN;
  }

  /** Cooldown intervals seen so far, open ones included: [from ms, to ms, host]. */
  cooldownList() {
    const list = this.cooldowns.toArray();
    this.openCooldown.forEach((open, h) => {
      if (open) list.push([open[0], open[1], h]);
    });
    return list;
  }
}
