// The CLI pipeline's own CPU per URL, without the network: `fetch` is an
// instant fake answering a 13-byte Response, so what is measured is the glue
// (line source, limitedAsCompleted, limiter.fetch, the row) against a
// hand-written pool's. Compare checkouts by pointing <root> at another tree.
//   node bench/js/cli-glue.mjs <weir|pool> [n=40000] [root=this repo]   (ROWS=1: format NDJSON rows too)
import { fileURLToPath } from 'node:url';

const which = process.argv[2] ?? 'weir';
const n = Number(process.argv[3] ?? 40000);
const root = process.argv[4] ?? fileURLToPath(new URL('../..', import.meta.url));
globalThis.fetch = function fetch() {
  return Promise.resolve(new Response('Hello, World!', { headers: { 'content-length': '13' } }));
};
const url = 'http://127.0.0.1:9/hello';
const { Readable } = await import('node:stream');
async function runWeir() {
  const { fetchAll, limiterFor, sampler } = await import(`${root}/js/cli/fetch.js`);
  const { Progress } = await import(`${root}/js/cli/progress.js`);
  const { urlLines } = await import(`${root}/js/cli/lines.js`);
  const opts = { concurrency: 1000, perHost: undefined, rate: [], perHostRate: [], retries: 0, timeout: 600000, method: 'GET', headers: [], save: undefined };
  const { limiter, fetcher } = limiterFor(opts);
  const progress = new Progress({ stderr: process.stderr, mode: 'none', sample: sampler(limiter, fetcher) });
  const line = `${url}\n`; const per = Math.floor(65536 / line.length); let left = n;
  const text = new Readable({ read() { if (left === 0) return void this.push(null); const k = Math.min(per, left); left -= k; this.push(line.repeat(k)); } });
  const stop = new AbortController();
  let written = 0;
  const rows = { write(t) { written += t.length; } };
  const s = await fetchAll({ lines: urlLines(text, stop.signal), opts, rows: process.env.ROWS ? rows : null, progress, stop: stop.signal, abort: new AbortController().signal, limiter, fetcher });
  if (s.done !== n || s.errors) throw new Error(JSON.stringify(s));
}
async function runPool() {
  let i = 0;
  const worker = async () => { while (i < n) { i++; const r = await fetch(url); let b = 0; for await (const c of r.body) b += c.byteLength; } };
  await Promise.all(Array.from({ length: 1000 }, worker));
}
const c0 = process.cpuUsage();
await (which === 'pool' ? runPool() : runWeir());
const c = process.cpuUsage(c0);
console.log(`${which} ${root}: ${((c.user + c.system) / n).toFixed(1)} µs CPU per URL`);
