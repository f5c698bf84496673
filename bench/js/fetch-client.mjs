// One benchmark client in its own process: N GETs with `inflight` at once,
// each body read to the end. Variants: weir (limitedAsCompleted +
// limiter.fetch), pool (hand-written promise pool over fetch), p-map.
// Prints { ok, seconds, reqPerSec, meanLatencyMs, peakRss, cpuMsPerRequest } as JSON.
import { Agent, setGlobalDispatcher } from 'undici';

const [variant, base, nText, inflightText] = process.argv.slice(2);
const n = Number(nText);
const inflight = Number(inflightText);
// The same connection pool for every variant: `inflight` connections allowed.
setGlobalDispatcher(new Agent({ connections: inflight, pipelining: 1, keepAliveTimeout: 30_000 }));

function* urls() {
  for (let i = 0; i < n; i++) yield `${base}/?i=${i}`;
}

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 10);
let ok = 0;
let latencySum = 0;

async function timed(url, get) {
  const started = performance.now();
  const text = await get(url);
  latencySum += performance.now() - started;
  if (text === 'Hello, World!') ok += 1;
}

const cpuStart = process.cpuUsage();
const started = performance.now();
if (variant === 'weir') {
  const { Limiter, limitedAsCompleted } = await import('weir-limiter');
  const limiter = new Limiter({ concurrency: inflight });
  const get = async (url, signal) => (await limiter.fetch(url, { signal })).text();
  // eslint-disable-next-line no-unused-vars
  for await (const _ of limitedAsCompleted(urls(), (url, { signal }) => timed(url, (u) => get(u, signal)), { concurrency: inflight })) {
    // results are counted in `timed`
  }
} else if (variant === 'pool') {
  const source = urls();
  const get = async (url) => (await fetch(url)).text();
  const worker = async () => {
    for (let step = source.next(); !step.done; step = source.next()) await timed(step.value, get);
  };
  await Promise.all(Array.from({ length: inflight }, worker));
} else if (variant === 'weir-no-signal') {
  // Diagnostic: the weir variant without handing limitedAsCompleted's signal to limiter.fetch.
  const { Limiter, limitedAsCompleted } = await import('weir-limiter');
  const limiter = new Limiter({ concurrency: inflight });
  const get = async (url) => (await limiter.fetch(url)).text();
  // eslint-disable-next-line no-unused-vars
  for await (const _ of limitedAsCompleted(urls(), (url) => timed(url, get), { concurrency: inflight })) {
    // counted in `timed`
  }
} else if (variant === 'pool-weir-fetch-signal') {
  // Diagnostic: limiter.fetch in the pool, every request given one shared caller signal.
  const { Limiter } = await import('weir-limiter');
  const limiter = new Limiter({ concurrency: inflight });
  const shared = new AbortController().signal;
  const get = async (url) => (await limiter.fetch(url, { signal: shared })).text();
  const source = urls();
  const worker = async () => {
    for (let step = source.next(); !step.done; step = source.next()) await timed(step.value, get);
  };
  await Promise.all(Array.from({ length: inflight }, worker));
} else if (variant === 'pool-weir-fetch' || variant === 'pool-fetch-signal') {
  // Diagnostics: the fetch wrapper alone / plain fetch with a shared signal.
  const { Limiter } = await import('weir-limiter');
  const limiter = new Limiter({ concurrency: inflight });
  const shared = new AbortController().signal;
  const get = variant === 'pool-weir-fetch'
    ? async (url) => (await limiter.fetch(url)).text()
    : async (url) => (await fetch(url, { signal: shared })).text();
  const source = urls();
  const worker = async () => {
    for (let step = source.next(); !step.done; step = source.next()) await timed(step.value, get);
  };
  await Promise.all(Array.from({ length: inflight }, worker));
} else if (variant === 'pool-weir-loaded') {
  // Diagnostics: the pool over plain fetch, with weir loaded and used once
  // (its fixed cost: module load, wasm compile and tier-up).
  const { Limiter } = await import('weir-limiter');
  const limiter = new Limiter({ concurrency: 1 });
  for (let i = 0; i < 2000; i++) await limiter.run(async () => i);
  const source = urls();
  const get = async (url) => (await fetch(url)).text();
  const worker = async () => {
    for (let step = source.next(); !step.done; step = source.next()) await timed(step.value, get);
  };
  await Promise.all(Array.from({ length: inflight }, worker));
} else if (variant === 'lac-fetch') {
  const { limitedAsCompleted } = await import('weir-limiter');
  const get = async (url, signal) => (await fetch(url, { signal })).text();
  // eslint-disable-next-line no-unused-vars
  for await (const _ of limitedAsCompleted(urls(), (url, { signal }) => timed(url, (u) => get(u, signal)), { concurrency: inflight })) {
    // counted in `timed`
  }
} else if (variant === 'p-map') {
  const { default: pMap } = await import('p-map');
  const get = async (url) => (await fetch(url)).text();
  await pMap(urls(), (url) => timed(url, get), { concurrency: inflight });
} else {
  throw new Error(`unknown variant ${variant}`);
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
const cpuMsPerRequest = (cpu.user + cpu.system) / 1000 / n;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
process.stdout.write(JSON.stringify({ ok, seconds, reqPerSec: n / seconds, meanLatencyMs: latencySum / n, peakRss, cpuMsPerRequest }));
