// limiter.fetch's own CPU (and bytes) per request, without the network:
// `fetch` is an instant fake answering a 13-byte Response, so what is measured
// is js/fetch.js (options, key, permit, signal wiring, held body, attempts)
// against the same loop over the fake fetch alone. 1,000 workers, n requests.
//
//   node bench/js/fetch-glue.mjs <case> [n=40000] [root=this repo]
//
// Cases:
//   pool    the loop over the fake fetch, body read with text() (baseline)
//   plain   limiter.fetch(url), text() on the held response
//   signal  limiter.fetch(url, { signal }) (one shared caller signal, as
//           limitedAsCompleted hands it), text() on the held response: fetch.mjs's weir client
//   cli     limiter.fetch(url, { retry, bodyTimeout: Infinity, releaseOn: 'headers', fetch }),
//           body counted with for-await, attempts read: the CLI's init without waits
//   pool-stream  the loop over the fake fetch, body counted with for-await (the cli case's baseline)
//
// HEAPPROF=1: sampling heap profile (objects collected by major and minor GC
// included), printed as bytes per request by function (top 25).
import { fileURLToPath } from 'node:url';

const which = process.argv[2] ?? 'signal';
const n = Number(process.argv[3] ?? 40000);
const root = process.argv[4] ?? fileURLToPath(new URL('../..', import.meta.url));
const inflight = 1000;
const fakeFetch = function fetch() {
  return Promise.resolve(new Response('Hello, World!', { headers: { 'content-length': '13' } }));
};
globalThis.fetch = fakeFetch;
const url = 'http://127.0.0.1:9/hello';

const { Limiter } = await import(`${root}/js/node.js`);
const limiter = new Limiter({ concurrency: inflight });
const shared = new AbortController().signal;
const retry = { attempts: 1 };

let get;
if (which === 'pool') get = async () => (await fetch(url)).text();
else if (which === 'pool-stream') {
  get = async () => {
    const r = await fetch(url);
    let b = 0;
    for await (const c of r.body) b += c.byteLength;
    return b;
  };
} else if (which === 'plain') get = async () => (await limiter.fetch(url)).text();
else if (which === 'signal') get = async () => (await limiter.fetch(url, { signal: shared })).text();
else if (which === 'cli') {
  const passOn = (input) => fakeFetch(input, undefined);
  get = async () => {
    const r = await limiter.fetch(url, { retry, bodyTimeout: Infinity, releaseOn: 'headers', fetch: passOn });
    let b = 0;
    for await (const c of r.body) b += c.byteLength;
    if (r.attempts !== 1) throw new Error('attempts');
    return b;
  };
} else throw new Error(`unknown case ${which}`);

async function run(count) {
  let i = 0;
  const worker = async () => {
    while (i < count) {
      i++;
      await get();
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
}

await run(Math.min(n, 20000)); // warm-up: tier-up, wasm, Response internals

let session;
if (process.env.HEAPPROF) {
  const { Session } = await import('node:inspector/promises');
  session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}
const c0 = process.cpuUsage();
await run(n);
const c = process.cpuUsage(c0);
console.log(`${which} ${root}: ${((c.user + c.system) / n).toFixed(2)} µs CPU per request`);
if (session) {
  const { profile } = await session.post('HeapProfiler.stopSampling');
  const by = new Map();
  let total = 0;
  const walk = (node) => {
    const self = node.selfSize;
    total += self;
    const f = node.callFrame;
    const name = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    by.set(name, (by.get(name) ?? 0) + self);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  console.log(`allocated ${(total / n).toFixed(0)} B per request`);
  for (const [name, bytes] of [...by].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 25))) {
    console.log(`${(bytes / n).toFixed(0).padStart(7)} B  ${name}`);
  }
}
