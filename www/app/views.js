// The live views: five time charts (two more with an adaptive cap: its
// limit against in flight and the hosts' capacity, and the RTTs it steers
// by), the summary cards and the per-host table, drawn from a Run's
// Recorder (and the hosts' own counters when known).
//
// Invariants: drawing reads the run and never changes it; every view has
// axes and labels before the first request (no blank states); the adaptive
// charts are shown exactly when the run has an adaptive cap.
import { TimeChart } from './chart.js';
import { adaptiveOf } from './settings.js';

const COLORS = { cdn: '#2b6cb0', api: '#2f855a', slow: '#b7791f', limited: '#c53030', knee: '#6b46c1', shifting: '#d53f8c' };
const SPARE = ['#319795', '#718096', '#975a16'];
/** The adaptive limit's line (tests look for it on the canvas). */
export const LIMIT_COLOR = '#1c4e80';
const SHED_COLOR = '#742a2a';
const INK = '#1a202c';
const GREY = '#a0aec0';

const colorOf = (name, i) => COLORS[name] ?? SPARE[i % SPARE.length];
const alpha = (hex, a) => {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
};

function fmt(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return '∞';
  if (digits > 0 && Math.abs(x) >= 100) digits = 0;
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function rateLabel(q) {
  const per = q.interval === 1000 ? 's' : q.interval % 1000 === 0 ? `${q.interval / 1000}s` : `${q.interval}ms`;
  return `${q.limit}/${per}${q.burst !== undefined ? ` burst ${q.burst}` : ''}`;
}

export class Views {
  constructor(el) {
    this.el = el;
    this.charts = {
      inflight: new TimeChart(el.inflight),
      rate: new TimeChart(el.rate),
      queue: new TimeChart(el.queue),
      latency: new TimeChart(el.latency, { log: true }),
      heap: el.heap ? new TimeChart(el.heap, { height: 110 }) : null,
      limit: el.limit ? new TimeChart(el.limit) : null,
      rtt: el.rtt ? new TimeChart(el.rtt, { log: true }) : null,
    };
    this.plan = null;
  }

  reset(plan) {
    this.plan = plan;
    this.colors = plan.hosts.map(colorOf);
    const adaptive = adaptiveOf(plan.limiter) !== undefined;
    for (const f of this.el.adaptiveFigures ?? []) f.hidden = !adaptive;
  }

  /** Axes, legends and an empty table before the first run. */
  empty(profiles) {
    const none = { t: [], n: 0, lines: [] };
    for (const c of Object.values(this.charts)) c?.draw(none);
    this.el.cards.innerHTML = '<div class="card wide"><b>Ready</b><span>pick a preset (or set your own limits) and press Start</span></div>';
    this.el.table.innerHTML =
      '<thead><tr><th>host</th><th>behaviour</th></tr></thead><tbody>' +
      profiles.map((p, i) => `<tr><td><i class="dot" style="background:${colorOf(p.name, i)}"></i>${p.name}</td><td>${p.about}</td></tr>`).join('') +
      '</tbody>';
  }

  /** Redraw everything; returns the per-host figures (also for weirView). */
  draw(run, summary, server) {
    const { plan, colors } = this;
    const rec = run.rec;
    const s = rec.series;
    const col = s.cols;
    const n = s.n;
    const t = col.t;
    const tMax = (summary.seconds ?? 0) * 1.02;
    const cooldowns = rec.cooldownList();
    const bands = cooldowns.map(([from, to, h]) => ({ from: from / 1000, to: to / 1000, color: alpha(colors[h], 0.16) }));
    const marks = rec.marks429.toArray().map(([at, h]) => ({ t: at / 1000, color: alpha(colors[h], 0.9) }));

    const hostLines = (prefix) => plan.hosts.map((name, h) => ({ label: name, color: colors[h], values: col[`${prefix}${h}`], step: true }));
    this.charts.inflight.draw({
      t, n, tMax, bands,
      lines: [
        { label: 'all hosts', color: GREY, values: col.inFlight, step: true, fill: true, width: 1 },
        { label: run.adaptive ? 'global cap (adaptive)' : 'global cap', color: GREY, values: col.cap, dash: [6, 4], step: true, width: 1 },
        { label: 'per-host cap', color: INK, values: col.perKeyCap, dash: [4, 3], step: true, width: 1.2 },
        ...hostLines('inFlight'),
      ],
    });

    const quotaLines = [];
    for (const q of plan.limiter.rate ?? []) {
      const v = (q.limit * 1000) / q.interval;
      quotaLines.push({ label: `quota ${rateLabel(q)}`, color: '#dd6b20', values: new Float64Array(n).fill(v), dash: [6, 4], width: 1.2 });
    }
    for (const q of plan.limiter.perKeyRate ?? []) {
      const v = ((q.limit * 1000) / q.interval) * plan.hosts.length;
      quotaLines.push({ label: `per-host ${rateLabel(q)} × ${plan.hosts.length}`, color: '#805ad5', values: new Float64Array(n).fill(v), dash: [3, 3], width: 1.2 });
    }
    this.charts.rate.draw({
      t, n, tMax, bands, marks,
      lines: [
        { label: 'per 100 ms', color: '#cbd5e0', values: col.burst, step: true, width: 1 },
        { label: 'admitted/s', color: INK, values: col.admitted, width: 2 },
        ...quotaLines,
      ],
    });
    this.charts.queue.draw({
      t, n, tMax, bands,
      lines: [{ label: 'all hosts', color: GREY, values: col.queued, fill: true, step: true, width: 1 }, ...hostLines('queued')],
    });
    this.charts.latency.draw({
      t, n, tMax,
      lines: [
        { label: 'p50', color: '#3182ce', values: col.p50, width: 1.8 },
        { label: 'p95', color: '#dd6b20', values: col.p95, width: 1.5 },
        { label: 'p99', color: '#c53030', values: col.p99, width: 1.2 },
      ],
    });
    this.charts.heap?.draw({ t, n, tMax, lines: [{ label: 'used JS heap', color: '#2c7a7b', values: col.heap, fill: true }] });
    if (run.adaptive) {
      const algorithm = run.adaptive.algorithm ?? 'gradient';
      const shed = rec.marks503.toArray().map(([at]) => ({ t: at / 1000, color: SHED_COLOR }));
      this.charts.limit?.draw({
        t, n, tMax, bands, marks: [...marks, ...shed],
        lines: [
          { label: 'in flight (all hosts)', color: GREY, values: col.inFlight, step: true, fill: true, width: 1 },
          // Only when every host has a capacity knee (otherwise there is none to find).
          ...(Number.isNaN(rec.capacityAt(0)) ? [] : [{ label: 'host capacity', color: '#dd6b20', values: col.capacity, dash: [6, 4], step: true, width: 1.5 }]),
          { label: `adaptive limit (${algorithm})`, color: LIMIT_COLOR, values: col.limit, step: true, width: 2 },
        ],
      });
      this.charts.rtt?.draw({
        t, n, tMax,
        lines: [
          { label: 'sampleRTT (window mean)', color: '#805ad5', values: col.sampleRtt, width: 1.5 },
          { label: 'minRTT (base)', color: INK, values: col.minRtt, dash: [5, 3], step: true, width: 1.5 },
        ],
      });
    }

    const stats = run.hostStats();
    const perHost = plan.hosts.map((name, h) => {
      const p = rec.per[h];
      const at = server?.hosts?.[name];
      return {
        name,
        key: run.keys[h],
        admits: p.admits,
        ok: p.ok,
        status429: p.status429,
        status503: p.status503,
        errors: p.errors,
        inFlight: rec.inFlight[h],
        peak: p.peak,
        queued: stats[h]?.queued ?? 0,
        retried: stats[h]?.retried ?? 0,
        serverPeak: at?.maxConcurrent ?? null,
        serverTotal: at?.total ?? null,
        cooldownArrivals: at?.cooldownArrivals ?? null,
        maxCooldownOffset: at?.maxCooldownOffset ?? null,
        p50: p.latency.percentile(50),
        p95: p.latency.percentile(95),
        p99: p.latency.percentile(99),
      };
    });
    this.cards(summary, rec, run);
    this.table(perHost, plan);
    return perHost;
  }

  cards(s, rec, run) {
    const heap = performance.memory ? `${fmt(performance.memory.usedJSHeapSize / 1e6, 1)} MB` : null;
    const state = { running: 'running', done: 'done', stopped: 'stopped', failed: 'failed' }[s.state] ?? s.state;
    const finals = Object.entries(s.finalStatuses).map(([k, v]) => `${fmt(v)} × ${k}`);
    const errors = Object.entries(s.errors).map(([k, v]) => `${fmt(v)} × ${k}`);
    const card = (title, value, note = '', cls = '') => `<div class="card ${cls}"><b>${title}</b><strong>${value}</strong><span>${note}</span></div>`;
    this.el.cards.innerHTML = [
      card(state, `${fmt(s.done)} / ${fmt(s.requests)}`, `${fmt(s.seconds, 1)} s · ${fmt(s.ok)} ok${finals.length ? ` · ${finals.join(', ')}` : ''}${errors.length ? ` · ${errors.join(', ')}` : ''}`, `state-${s.state} two`),
      card('requests/s', fmt(s.reqPerSec), `${fmt(s.attemptsPerSec)} attempts/s`),
      card("Little's-law bound", `${fmt(s.bound)}/s`, s.bindingBound === 'quota' ? `quotas (burst + rate·T)/T; in flight ≤ ${fmt(s.inFlightCap)} → ${fmt(s.littleBound)}/s` : `≤ ${fmt(s.inFlightCap, 1)} in flight${s.adaptive ? ' (mean limit)' : ''} ÷ ${fmt(s.meanLatencyMs, 1)} ms mean`),
      card('achieved / bound', s.ofBound === null ? '—' : `${fmt(s.ofBound * 100)} %`, 'attempts/s ÷ bound'),
      card('429s · retries', `${fmt(s.status429)} · ${fmt(s.retries)}`, `${fmt(rec.cooldownList().length)} cooldowns`),
      card('p50 / p95 / p99', `${fmt(s.p50, 1)} / ${fmt(s.p95, 1)} / ${fmt(s.p99, 1)}`, 'ms per attempt', 'long two'),
      heap ? card('JS heap', heap, 'used, performance.memory') : '',
      adaptiveCard(run, card),
    ].join('');
  }

  table(rows, plan) {
    const cap = plan.limiter.perKey ?? '∞';
    const head =
      '<thead><tr><th>host</th><th>attempts</th><th>ok</th><th>429</th><th title="shed by the host: over its capacity">503</th><th>errors</th><th>retried</th>' +
      '<th title="now / per-host cap">in flight</th><th title="largest in flight the page saw">peak</th>' +
      '<th title="largest number of requests the host itself had at once">peak at host</th>' +
      '<th title="requests the host received during its own cooldowns (max ms after the 429 that started it)">in cooldown</th>' +
      '<th>queued</th><th>p50</th><th>p95</th><th>p99</th></tr></thead>';
    const body = rows
      .map((r, h) => {
        const cooldown = r.cooldownArrivals === null ? '—' : r.cooldownArrivals === 0 ? '0' : `${fmt(r.cooldownArrivals)} (≤ ${fmt(r.maxCooldownOffset)} ms)`;
        return (
          `<tr><td><i class="dot" style="background:${this.colors[h]}"></i>${r.name}</td>` +
          `<td>${fmt(r.admits)}</td><td>${fmt(r.ok)}</td><td>${fmt(r.status429)}</td><td>${fmt(r.status503)}</td><td>${fmt(r.errors)}</td><td>${fmt(r.retried)}</td>` +
          `<td>${fmt(r.inFlight)} / ${cap}</td><td>${fmt(r.peak)}</td><td>${r.serverPeak === null ? '—' : fmt(r.serverPeak)}</td>` +
          `<td>${cooldown}</td><td>${fmt(r.queued)}</td>` +
          `<td>${fmt(r.p50, 1)}</td><td>${fmt(r.p95, 1)}</td><td>${fmt(r.p99, 1)}</td></tr>`
        );
      })
      .join('');
    this.el.table.innerHTML = head + `<tbody>${body}</tbody>`;
  }
}

/** The adaptive cap's card: its limit now, the RTTs it steers by, its gradient. */
function adaptiveCard(run, card) {
  const a = run.adaptive ? run.limiter.stats().adaptive : undefined;
  if (!a) return '';
  const rtt = `minRTT ${fmt(a.minRtt, 1)} · sampleRTT ${fmt(a.sampleRtt, 1)} ms · gradient ${fmt(a.gradient, 2)}`;
  return card(`adaptive limit (${run.adaptive.algorithm ?? 'gradient'})`, fmt(a.limit), rtt, 'two');
}
