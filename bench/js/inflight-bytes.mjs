// Bytes kept alive per request in flight, without the network: `fetch` is a
// fake whose answers are held back until N requests are waiting for them;
// then the heap is collected (twice) and measured against the same process
// before the requests, and the answers (13-byte Responses) are let go.
// Undici's own per-request objects are not in it; what the client code and
// weir keep per request in flight is. Deterministic to a few bytes.
//
//   node --expose-gc bench/js/inflight-bytes.mjs <case> [n=4000] [root=this repo]
//   SNAP=file.heapsnapshot …   also writes a heap snapshot with the n requests in flight
//
// Cases:
//   pool         n async workers awaiting fetch(url), then text()
//   weir         limitedAsCompleted + limiter.fetch(url, { signal }) (fetch.mjs's weir client)
//   weir-no-signal  the same, limitedAsCompleted's signal not handed on
//   pool-weir-fetch n workers awaiting limiter.fetch(url)
//   cli          the `weir fetch` pipeline (js/cli/fetch.js fetchAll, 10 min timeout, as cli-contender.mjs)
//   cli-pool     cli-contender.mjs's pool: n workers, fetch, body counted with for-await
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';

const which = process.argv[2] ?? 'weir';
const n = Number(process.argv[3] ?? 4000);
const root = process.argv[4] ?? fileURLToPath(new URL('../..', import.meta.url));
if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
const held = [];
globalThis.fetch = function fetch() {
  return new Promise((resolve) => held.push(resolve));
};
const url = 'http://127.0.0.1:9/hello';
const answer = () => new Response('Hello, World!', { headers: { 'content-length': '13' } });
const api = await import(`${root}/js/node.js`);
// Warm up every path once (code, shapes, caches), then measure.
async function settle() {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
}
let count = 0;
async function body(r) {
  let b = 0;
  for await (const c of r.body) b += c.byteLength;
  count += b;
}
function start(k) {
  if (which === 'pool' || which === 'pool-weir-fetch') {
    const limiter = new api.Limiter({ concurrency: k });
    const get = which === 'pool' ? (u) => fetch(u) : (u) => limiter.fetch(u);
    let i = 0;
    const worker = async () => {
      while (i < k) {
        i += 1;
        const text = await (await get(url)).text();
        count += text.length;
      }
    };
    return Promise.all(Array.from({ length: k }, worker));
  }
  if (which === 'cli-pool') {
    let i = 0;
    const worker = async () => {
      while (i < k) {
        i += 1;
        await body(await fetch(url));
      }
    };
    return Promise.all(Array.from({ length: k }, worker));
  }
  if (which === 'weir' || which === 'weir-no-signal') {
    const limiter = new api.Limiter({ concurrency: k });
    const urls = Array.from({ length: k }, () => url);
    const mapper = which === 'weir'
      ? async (u, { signal }) => (await (await limiter.fetch(u, { signal })).text()).length
      : async (u) => (await (await limiter.fetch(u)).text()).length;
    return (async () => {
      for await (const r of api.limitedAsCompleted(urls, mapper, { concurrency: k })) count += r.value;
    })();
  }
  if (which === 'cli') return cli(k);
  throw new Error(`unknown case ${which}`);
}
async function cli(k) {
  const { fetchAll, limiterFor, sampler } = await import(`${root}/js/cli/fetch.js`);
  const { Progress } = await import(`${root}/js/cli/progress.js`);
  const { urlLines } = await import(`${root}/js/cli/lines.js`);
  const opts = { concurrency: k, perHost: undefined, rate: [], perHostRate: [], retries: 0, timeout: 600_000, method: 'GET', headers: [], save: undefined };
  const { limiter, fetcher } = limiterFor(opts);
  const progress = new Progress({ stderr: process.stderr, mode: 'none', sample: sampler(limiter, fetcher) });
  const line = `${url}\n`;
  let left = k;
  const text = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const c = Math.min(2340, left);
      left -= c;
      this.push(line.repeat(c));
    },
  });
  const stop = new AbortController();
  const abort = new AbortController();
  const summary = await fetchAll({ lines: urlLines(text, stop.signal), opts, rows: null, progress, stop: stop.signal, abort: abort.signal, limiter, fetcher });
  count += summary.done;
}
async function round(k) {
  await settle();
  const before = process.memoryUsage().heapUsed;
  const done = start(k);
  for (let i = 0; i < 100000 && held.length < k; i++) await new Promise((r) => setImmediate(r));
  if (held.length !== k) throw new Error(`only ${held.length} of ${k} requests reached fetch`);
  await settle();
  const during = process.memoryUsage().heapUsed;
  if (process.env.SNAP && k === n) (await import("node:v8")).writeHeapSnapshot(process.env.SNAP);
  const answers = held.splice(0);
  for (const resolve of answers) resolve(answer());
  await done;
  return (during - before) / k;
}
await round(Math.min(n, 200)); // warm-up
const perRequest = [];
for (let r = 0; r < 3; r++) perRequest.push(await round(n));
console.log(JSON.stringify({ case: which, root, bytesPerRequestInFlight: perRequest.map((b) => Math.round(b)) }));
