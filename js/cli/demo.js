// `weir demo`: the seed scenario. A local server answers "Hello, World!" after
// a random delay (0–300 ms by default); N requests (default 100,000) go
// through the `weir fetch` pipeline with L in flight (default 1,000). Prints
// requests/s, the Little's-law bound (in flight ÷ mean latency), achieved ÷
// bound, and peak RSS.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTarget } from '../../bindings/js/server/target.js';
import { fetchAll, limiterFor, onInterrupt, sampler } from './fetch.js';
import { Progress, formatSummary } from './progress.js';

const BIN = fileURLToPath(new URL('../../bin/weir.js', import.meta.url));

/**
 * Start the target as a child process (its own event loop and core), with
 * `delay` as `weir serve --delay` takes it (e.g. `0-300ms`). Also used by
 * bench/js/cli.mjs.
 */
export async function childTarget(delay) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--delay', delay], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`target server exited (${code})`)));
  });
  return {
    url,
    async stats() {
      return (await fetch(`${url}/__weir/stats`)).json();
    },
    close() {
      return new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      });
    },
  };
}

/** A server already running (`--target URL`): never started or closed here. */
function externalTarget(url) {
  return {
    url,
    async stats() {
      return (await fetch(`${url}/__weir/stats`)).json();
    },
    close: async () => {},
  };
}

async function inProcessTarget(delayMs) {
  const t = await startTarget({ delayMs });
  return { url: t.url, stats: async () => t.stats(), close: () => t.close() };
}

async function* demoUrls(base, n) {
  for (let i = 0; i < n; i++) yield `${base}/hello`;
}

/** The demo numbers (also what `--json` prints). */
export async function demo(opts, { stderr = process.stderr } = {}) {
  const target = opts.target
    ? externalTarget(opts.target)
    : opts.server === 'child'
      ? await childTarget(`${opts.delayMs[0]}-${opts.delayMs[1]}ms`)
      : await inProcessTarget(opts.delayMs);
  const fetchOpts = {
    concurrency: opts.concurrency,
    perHost: undefined,
    rate: [],
    perHostRate: [],
    retries: 0,
    timeout: 60_000,
    method: 'GET',
    headers: [],
    save: undefined,
  };
  const { limiter, fetcher } = limiterFor(fetchOpts);
  const mode = opts.json ? 'none' : stderr.isTTY ? 'bar' : 'lines';
  const progress = new Progress({ stderr, mode, sample: sampler(limiter, fetcher) });
  progress.total = opts.requests;
  const stop = new AbortController();
  const abort = new AbortController();
  const uninstall = onInterrupt(progress, stop, abort);
  let summary;
  let server;
  const cpuStart = process.cpuUsage();
  try {
    summary = await fetchAll({
      lines: demoUrls(target.url, opts.requests),
      opts: fetchOpts,
      rows: null,
      progress,
      stop: stop.signal,
      abort: abort.signal,
      limiter,
      fetcher,
    });
    server = await target.stats();
  } finally {
    uninstall();
    await target.close();
  }
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const meanS = summary.meanMs / 1000;
  const bound = meanS > 0 ? opts.concurrency / meanS : 0;
  // The bound if the client cost nothing: in flight ÷ the server's mean delay.
  const meanDelayS = (opts.delayMs[0] + opts.delayMs[1]) / 2 / 1000;
  const serverBound = meanDelayS > 0 ? opts.concurrency / meanDelayS : Infinity;
  return {
    client: 'node',
    requests: summary.done,
    concurrency: opts.concurrency,
    delayMs: opts.delayMs,
    server: opts.target ?? opts.server,
    seconds: summary.elapsedMs / 1000,
    reqPerSec: summary.reqPerSec,
    meanLatencyMs: summary.meanMs,
    littleBound: bound,
    ofBound: bound > 0 ? summary.reqPerSec / bound : 0,
    serverDelayBound: serverBound,
    ofServerDelayBound: Number.isFinite(serverBound) ? summary.reqPerSec / serverBound : 0,
    clientCpuMsPerRequest: summary.done > 0 ? cpuMs / summary.done : 0,
    clientCpuShare: summary.elapsedMs > 0 ? cpuMs / summary.elapsedMs : 0,
    serverMaxConcurrent: server.maxConcurrent,
    peakRssMB: summary.peakRssBytes / (1024 * 1024),
    summary,
  };
}

/** `weir demo` with parsed options; resolves to the exit code. */
export async function runDemo(opts, { stdout = process.stdout, stderr = process.stderr } = {}) {
  if (!opts.json) {
    stderr.write(
      `weir demo: ${opts.requests} requests, ${opts.concurrency} in flight, server delay ` +
        `${opts.delayMs[0]}-${opts.delayMs[1]} ms (${opts.target ?? opts.server})\n`,
    );
  }
  const r = await demo(opts, { stderr });
  if (opts.json) {
    const { summary, ...rest } = r;
    stdout.write(`${JSON.stringify({ ...rest, p50: summary.p50, p95: summary.p95, p99: summary.p99, byStatus: summary.byStatus })}\n`);
  } else {
    for (const line of formatSummary(r.summary)) stderr.write(`weir: ${line}\n`);
    stdout.write(
      [
        `requests/s:        ${r.reqPerSec.toFixed(0)}`,
        `Little's-law bound: ${r.littleBound.toFixed(0)} req/s (${r.concurrency} in flight / ${r.meanLatencyMs.toFixed(1)} ms mean latency)`,
        `achieved / bound:  ${(100 * r.ofBound).toFixed(1)}%`,
        `server-delay bound: ${Number.isFinite(r.serverDelayBound) ? r.serverDelayBound.toFixed(0) : '-'} req/s (${r.concurrency} in flight / ` +
          `${((r.delayMs[0] + r.delayMs[1]) / 2).toFixed(0)} ms mean server delay); achieved ${(100 * r.ofServerDelayBound).toFixed(1)}%`,
        `client CPU:        ${r.clientCpuMsPerRequest.toFixed(3)} ms per request, ${(100 * r.clientCpuShare).toFixed(0)}% of one core` +
          (r.clientCpuShare > 0.85 ? ' (the client is CPU-bound: latency above the server delay is queueing for this core)' : ''),
        `server saw at most ${r.serverMaxConcurrent} concurrent requests`,
        `peak RSS:          ${r.peakRssMB.toFixed(1)} MB`,
        '',
      ].join('\n'),
    );
  }
  return r.summary.interrupted ? 130 : r.summary.errors ? 1 : 0;
}
