// Progress on stderr: a live one-line bar on a terminal, plain periodic lines
// otherwise, and the final summary. Only counters are kept (bounded memory).
import { readFileSync } from 'node:fs';
import { Histogram } from './histogram.js';

const MB = 1024 * 1024;

/**
 * Peak resident set size of this process, in bytes: `VmHWM` from
 * /proc/self/status where there is one (this program's own address space),
 * else `maxRSS`, which survives exec — a process started by a big parent (a
 * test runner, a benchmark script) would report the parent's resident set at
 * fork as its own peak.
 */
export function peakRss() {
  try {
    const m = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: maxRSS below
  }
  return process.resourceUsage().maxRSS * 1024;
}

function fmtMs(ms) {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

function fmtDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The running tally of a fetch run and its stderr reporting. */
export class Progress {
  /**
   * @param {object} o
   * @param {NodeJS.WritableStream} o.stderr
   * @param {'bar'|'lines'|'none'} o.mode
   * @param {number} [o.intervalMs]   refresh period (bar 200 ms, lines 2 s by default)
   * @param {() => object} o.sample  `{ inFlight, queued, retries, status429, hosts, cap? }` now
   *   (`cap`: the adaptive cap of `--concurrency auto`)
   */
  constructor({ stderr, mode, intervalMs, sample }) {
    this.stderr = stderr;
    this.mode = mode;
    this.sample = sample;
    this.started = performance.now();
    this.total = undefined;
    this.done = 0;
    this.errors = 0;
    this.byStatus = new Map();
    this.latency = new Histogram();
    this.recent = []; // [time, done] samples for the req/s of the last seconds
    this.interrupted = 0;
    const period = intervalMs ?? (mode === 'bar' ? 200 : 2000);
    this.timer = mode === 'none' ? null : setInterval(() => this.render(), period);
    this.timer?.unref();
  }

  /** Count one finished row. */
  record(row) {
    this.done += 1;
    const key = row.error ? 'error' : String(row.status);
    if (row.error) this.errors += 1;
    this.byStatus.set(key, (this.byStatus.get(key) ?? 0) + 1);
    if (!row.error) this.latency.record(row.ms);
  }

  /** Requests per second over the last few seconds (overall at the start). */
  rate(now = performance.now()) {
    this.recent.push([now, this.done]);
    while (this.recent.length > 2 && now - this.recent[0][0] > 5000) this.recent.shift();
    const [t0, d0] = this.recent[0];
    const span = now - t0;
    if (span < 500) {
      const all = now - this.started;
      return all > 0 ? (this.done * 1000) / all : 0;
    }
    return ((this.done - d0) * 1000) / span;
  }

  /** One status line (no newline). */
  line() {
    const now = performance.now();
    const s = this.sample();
    const rps = this.rate(now);
    const parts = [];
    if (this.total !== undefined) {
      const pct = this.total ? (100 * this.done) / this.total : 100;
      parts.push(`${this.done}/${this.total} (${pct.toFixed(1)}%)`);
    } else {
      parts.push(`${this.done} done`);
    }
    parts.push(`${rps.toFixed(0)} req/s`, `${s.inFlight} in flight`);
    if (s.cap !== undefined) parts.push(`cap ${s.cap} (auto)`);
    if (s.queued) parts.push(`${s.queued} queued`);
    const busiest = (s.hosts ?? []).filter((h) => h.queued > 0).sort((a, b) => b.queued - a.queued).slice(0, 3);
    if (busiest.length) parts.push(`busiest ${busiest.map((h) => `${h.key}:${h.queued}`).join(' ')}`);
    parts.push(`429s ${s.status429}`, `retries ${s.retries}`);
    if (this.errors) parts.push(`errors ${this.errors}`);
    if (this.total !== undefined && rps > 0 && this.done < this.total) {
      parts.push(`ETA ${fmtDuration(((this.total - this.done) / rps) * 1000)}`);
    }
    return parts.join(' | ');
  }

  /** Draw the bar (terminal) or print a periodic line. */
  render() {
    if (this.mode === 'bar') {
      const text = this.line();
      const width = Math.max(20, (this.stderr.columns || 120) - 1);
      let bar = '';
      if (this.total) {
        const cells = 20;
        const full = Math.min(cells, Math.floor((cells * this.done) / this.total));
        bar = `[${'#'.repeat(full)}${'.'.repeat(cells - full)}] `;
      }
      this.stderr.write(`\r\x1b[K${(bar + text).slice(0, width)}`);
    } else if (this.mode === 'lines') {
      this.stderr.write(`weir: ${this.line()}\n`);
    }
  }

  /** Say something on stderr without garbling the bar. */
  note(message) {
    if (this.mode === 'bar') this.stderr.write('\r\x1b[K');
    this.stderr.write(`weir: ${message}\n`);
  }

  /** Stop refreshing and return the summary numbers. */
  finish() {
    if (this.timer) clearInterval(this.timer);
    if (this.mode === 'bar') this.stderr.write('\r\x1b[K');
    const s = this.sample();
    const elapsedMs = performance.now() - this.started;
    return {
      done: this.done,
      total: this.total,
      elapsedMs,
      reqPerSec: elapsedMs > 0 ? (this.done * 1000) / elapsedMs : 0,
      byStatus: Object.fromEntries([...this.byStatus].sort()),
      errors: this.errors,
      p50: this.latency.percentile(50),
      p95: this.latency.percentile(95),
      p99: this.latency.percentile(99),
      timed: this.latency.count, // responses the percentiles are taken over
      meanMs: this.latency.mean,
      retries: s.retries,
      status429: s.status429,
      peakRssBytes: peakRss(),
      interrupted: this.interrupted > 0,
    };
  }
}

/** The final summary as text lines. */
export function formatSummary(sum) {
  const statuses = Object.entries(sum.byStatus).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  return [
    `${sum.interrupted ? 'interrupted after' : 'done:'} ${sum.done} URLs in ${(sum.elapsedMs / 1000).toFixed(1)} s (${sum.reqPerSec.toFixed(1)} req/s)`,
    `status: ${statuses}`,
    sum.timed === 0 ? 'latency: no response' : `latency: p50 ${fmtMs(sum.p50)}, p95 ${fmtMs(sum.p95)}, p99 ${fmtMs(sum.p99)}`,
    `retries: ${sum.retries}, 429s seen: ${sum.status429}, peak RSS: ${(sum.peakRssBytes / MB).toFixed(1)} MB`,
  ];
}
