// One contender of bench/js/cli.mjs, run in its own process:
//   node bench/js/cli-contender.mjs <weir|pool|pmap> <server-url> <requests> <in-flight>
// Prints one JSON line: { contender, requests, seconds, reqPerSec, meanLatencyMs, errors, peakRssMB, cpuUsPerReq }.
// Every contender reads each body to the end, counting its bytes.
const [contender, base, nText, lText] = process.argv.slice(2);
const n = Number(nText);
const limit = Number(lText);
const url = `${base}/hello`;

function* urls() {
  for (let i = 0; i < n; i++) yield url;
}

let latencySum = 0;
let errors = 0;
let done = 0;

async function countBody(response) {
  let bytes = 0;
  for await (const chunk of response.body) bytes += chunk.byteLength;
  return bytes;
}

/** One fetch, timed, its body read to the end (`init` left out when undefined). */
async function timedFetch(u, init) {
  const t0 = performance.now();
  try {
    const response = await (init === undefined ? fetch(u) : fetch(u, init));
    await countBody(response);
    if (response.status !== 200) errors += 1;
  } catch {
    errors += 1;
  }
  latencySum += performance.now() - t0;
  done += 1;
}

/** Plain fetch, timed: what every contender does per URL. */
const plainFetch = (u) => timedFetch(u, undefined);

/** `limit` workers pulling URLs and handing each to `one`. */
async function poolOf(one) {
  const it = urls();
  const worker = async () => {
    for (let step = it.next(); !step.done; step = it.next()) await one(step.value);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const handWrittenPool = () => poolOf(plainFetch);

/** Diagnostic: the pool with one AbortController per request (what a per-request timeout costs). */
const poolWithSignal = () => poolOf((u) => timedFetch(u, { signal: new AbortController().signal }));

async function pMapPool() {
  const { pMapIterable } = await import('p-map');
  // eslint-disable-next-line no-unused-vars
  for await (const _ of pMapIterable(urls(), plainFetch, { concurrency: limit, backpressure: limit })) {
    // results consumed as they come
  }
}

/** The `weir fetch` pipeline; `timeout` per attempt (Infinity = `--timeout none`). */
async function weir(timeout = 600_000) {
  const { fetchAll, limiterFor, sampler } = await import('../../js/cli/fetch.js');
  const { Progress } = await import('../../js/cli/progress.js');
  const { urlLines } = await import('../../js/cli/lines.js');
  const { Readable } = await import('node:stream');
  const opts = {
    concurrency: limit,
    perHost: undefined,
    rate: [],
    perHostRate: [],
    retries: 0,
    timeout,
    method: 'GET',
    headers: [],
    save: undefined,
  };
  const { limiter, fetcher } = limiterFor(opts);
  const progress = new Progress({ stderr: process.stderr, mode: 'none', sample: sampler(limiter, fetcher) });
  // The URL list as `weir fetch FILE` reads it: a byte stream of ~64 KiB
  // chunks (made as they are pulled), split into lines by urlLines.
  const line = `${url}\n`;
  const perChunk = Math.max(1, Math.floor((1 << 16) / line.length));
  let left = n;
  const text = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const k = Math.min(perChunk, left);
      left -= k;
      this.push(line.repeat(k));
    },
  });
  const stop = new AbortController();
  const summary = await fetchAll({
    lines: urlLines(text, stop.signal),
    opts,
    rows: null,
    progress,
    stop: stop.signal,
    abort: new AbortController().signal,
    limiter,
    fetcher,
  });
  done = summary.done;
  errors = summary.errors + Object.entries(summary.byStatus).filter(([k]) => k !== '200' && k !== 'error').reduce((a, [, v]) => a + v, 0);
  latencySum = summary.meanMs * (summary.done - summary.errors);
  return 'limiter.fetch';
}

const contenders = {
  weir: () => weir(),
  'weir-no-timeout': () => weir(Infinity),
  pool: handWrittenPool,
  pmap: pMapPool,
  'pool-signal': poolWithSignal,
};
if (!contenders[contender]) {
  process.stderr.write(`unknown contender ${contender}\n`);
  process.exit(2);
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const via = await contenders[contender]();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({
    contender,
    via,
    requests: done,
    seconds,
    reqPerSec: done / seconds,
    meanLatencyMs: latencySum / Math.max(1, done - (contender === 'weir' ? 0 : 0)),
    errors,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    cpuUsPerReq: (cpu.user + cpu.system) / Math.max(1, done),
  })}\n`,
);
