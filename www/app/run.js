// One run: a Limiter from the plan, `limitedAsCompleted` pulling URLs lazily
// from a generator, each one `limiter.fetch`ed. The requests are real `fetch`
// calls (or the simulated fetch, in simulated mode); the fetch handed to the
// limiter is wrapped only to time each attempt for the recorder.
//
// Invariants:
// - nothing is kept per request: URLs are made on demand, outcomes are counted;
// - the wrapper reads the body before it hands the response on, so the
//   recorder's in-flight count ends before the limiter releases the permit;
// - every pulled request ends in exactly one outcome (ok, a final non-2xx
//   status, or an error), counted in `outcomes`.
import { Limiter, limitedAsCompleted, fetchKeyOf } from 'weir-limiter';
import { adaptiveOf, steadyRate } from './settings.js';

/** Host indices in a smooth weighted round-robin order (one cycle). */
function cycleOf(weights) {
  const total = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  const order = [];
  for (let i = 0; i < total; i++) {
    let best = 0;
    for (let h = 0; h < weights.length; h++) {
      current[h] += weights[h];
      if (current[h] > current[best]) best = h;
    }
    current[best] -= total;
    order.push(best);
  }
  return order;
}

function* urlsOf(origins, weights, count) {
  const cycle = cycleOf(weights);
  for (let i = 0; i < count; i++) yield `${origins[cycle[i % cycle.length]]}/r/${i}`;
}

export class Run {
  /**
   * @param {ReturnType<import('./settings.js').planOf>} plan
   * @param {{ origins: string[], fetch: typeof fetch }} env
   *   origins[i] serves plan.hosts[i]
   * @param {import('./recorder.js').Recorder} recorder
   */
  constructor(plan, env, recorder) {
    this.plan = plan;
    this.env = env;
    this.rec = recorder;
    this.limiter = new Limiter(plan.limiter);
    this.keys = env.origins.map((o) => fetchKeyOf(o));
    this.outcomes = { ok: 0, status: {}, errors: {}, done: 0 };
    this.controller = new AbortController();
    this.state = 'running';
    this.started = performance.now();
    this.ended = null;
    // With an adaptive cap (`concurrency: { adaptive }`) limiter.fetch
    // reports every attempt to it; the limit is what stats() says.
    this.adaptive = adaptiveOf(plan.limiter);
    // The widest caps of the run (they may change while it runs): the
    // Little's-law bound must hold for all of it. An adaptive cap's is its
    // time-averaged limit (the recorder's), not a setting.
    this.widest = { concurrency: this.adaptive ? NaN : plan.limiter.concurrency ?? Infinity, perKey: plan.limiter.perKey ?? Infinity };
  }

  /** The limiter's per-host fetch figures, in host order. */
  hostStats() {
    const all = this.limiter.fetchStats();
    return this.keys.map((k) => all[k]);
  }

  /** Sample the limiter for the recorder (called once a tick). */
  sample() {
    this.rec.tick(this.limiter.stats(), this.hostStats());
  }

  /**
   * Change the caps while it runs (limiter.setLimits); '' or undefined = no
   * cap. The charts sample limiter.stats() every tick, so the cap lines move
   * with it (as an adaptive limit does). An adaptive cap is chosen when the
   * run starts and keeps adapting: when the run has one or `concurrency`
   * asks for one, only `perKey` changes. True when the caps are as asked.
   */
  setLimits({ concurrency, perKey }) {
    const auto = adaptiveOf({ concurrency }) !== undefined;
    const fixed = !this.adaptive && !auto;
    this.limiter.setLimits(fixed ? { concurrency, perKey } : { perKey });
    this.plan = { ...this.plan, limiter: { ...this.plan.limiter, ...(fixed ? { concurrency } : {}), perKey } };
    if (fixed) this.widest.concurrency = Math.max(this.widest.concurrency, concurrency ?? Infinity);
    this.widest.perKey = Math.max(this.widest.perKey, perKey ?? Infinity);
    return fixed || (this.adaptive !== undefined && auto);
  }

  stop() {
    if (this.state === 'running') this.controller.abort(new DOMException('stopped', 'AbortError'));
  }

  /** Run to the end (or stop); resolves to the final summary. */
  async start() {
    const { plan, env, rec } = this;
    const origins = env.origins;
    const inner = env.fetch;
    const hostOf = (url) => {
      for (let h = 0; h < origins.length; h++) if (url.startsWith(origins[h])) return h;
      throw new Error(`no host for ${url}`);
    };
    const timed = (input, init) => {
      const h = hostOf(String(input));
      const since = rec.admit(h);
      const failed = (error) => {
        rec.done(h, since, 0);
        throw error;
      };
      return inner(input, init).then(
        (res) =>
          res.arrayBuffer().then((body) => {
            rec.done(h, since, res.status);
            return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
          }, failed),
        failed,
      );
    };
    const retry = { attempts: plan.attempts };
    const timer = setInterval(() => this.sample(), rec.tickMs);
    try {
      const results = limitedAsCompleted(
        urlsOf(origins, plan.weights, plan.requests),
        (url, { signal }) =>
          this.limiter.fetch(url, { signal, retry, fetch: timed }).then((res) => res.arrayBuffer().then(() => res.status)),
        { concurrency: plan.window, signal: this.controller.signal },
      );
      for await (const r of results) {
        const o = this.outcomes;
        o.done += 1;
        if (r.status === 'fulfilled') {
          if (r.value >= 200 && r.value < 300) o.ok += 1;
          else o.status[r.value] = (o.status[r.value] ?? 0) + 1;
        } else {
          const name = r.reason?.name ?? 'Error';
          o.errors[name] = (o.errors[name] ?? 0) + 1;
        }
      }
      this.state = this.controller.signal.aborted ? 'stopped' : 'done';
    } catch (error) {
      this.state = this.controller.signal.aborted ? 'stopped' : 'failed';
      if (this.state === 'failed') this.error = String(error?.stack ?? error);
    } finally {
      clearInterval(timer);
      this.ended = performance.now();
      this.sample();
    }
    return this.summary();
  }

  /** Figures so far (final once the run ended). */
  summary() {
    const { plan, rec, outcomes } = this;
    const seconds = ((this.ended ?? performance.now()) - this.started) / 1000;
    const stats = this.hostStats();
    let retries = 0;
    let status429 = 0;
    for (const s of stats) {
      if (!s) continue;
      retries += s.retried;
      status429 += s.status429;
    }
    const attempts = rec.totalAdmits;
    const mean = rec.latency.mean;
    // Little's law: throughput = mean in flight / mean time held. In flight is
    // at most the global cap (an adaptive one's mean limit), the per-host
    // caps summed, and the pull window. The time held runs from the call to
    // fetch, so a request waiting inside the browser for one of its
    // connections per host is in flight too: they bound nothing here.
    const globalCap = this.adaptive ? rec.limitMean : this.widest.concurrency;
    const inFlightCap = Math.min(Number.isNaN(globalCap) ? Infinity : globalCap, this.widest.perKey * plan.hosts.length, plan.window);
    const littleBound = mean > 0 ? inFlightCap / (mean / 1000) : Infinity;
    // Quotas: at most burst + rate·T admitted in T seconds, for each quota.
    const within = (quotas) =>
      quotas ? Math.min(...quotas.map((q) => ((q.burst ?? q.limit) + (q.limit / q.interval) * 1000 * seconds) / seconds)) : Infinity;
    const quotaBound = Math.min(within(plan.limiter.rate), within(plan.limiter.perKeyRate) * plan.hosts.length);
    const bound = Math.min(littleBound, quotaBound);
    const attemptsPerSec = seconds > 0 ? attempts / seconds : 0;
    return {
      state: this.state,
      seconds,
      requests: plan.requests,
      done: outcomes.done,
      ok: outcomes.ok,
      finalStatuses: { ...outcomes.status },
      errors: { ...outcomes.errors },
      attempts,
      retries,
      status429,
      reqPerSec: seconds > 0 ? outcomes.done / seconds : 0,
      attemptsPerSec,
      meanLatencyMs: mean,
      p50: rec.latency.percentile(50),
      p95: rec.latency.percentile(95),
      p99: rec.latency.percentile(99),
      inFlightCap,
      littleBound,
      quotaBound,
      steadyQuota: Math.min(steadyRate(plan.limiter.rate), steadyRate(plan.limiter.perKeyRate) * plan.hosts.length),
      bound,
      ofBound: Number.isFinite(bound) && bound > 0 ? attemptsPerSec / bound : null,
      bindingBound: quotaBound < littleBound ? 'quota' : 'concurrency',
      adaptive: this.adaptive ? { ...this.adaptive, meanLimit: rec.limitMean } : null,
      error: this.error,
    };
  }
}
