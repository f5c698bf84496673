// The CLI benchmark: the seed scenario (server: "Hello, World!" after 0–300 ms;
// L = 1,000 in flight) at several sizes, weir (limitedAsCompleted +
// limiter.fetch, the `weir fetch` pipeline) vs a hand-written promise pool over
// fetch vs p-map's pMapIterable + fetch. Each contender runs in its own
// process; the server runs in another.
//
//   node bench/js/cli.mjs [--sizes 10000,100000,1000000] [--concurrency 1000] [--delay 0-300ms]
//                         [--rounds R] [--contenders pool,weir,pmap[,pool-signal]] [--json]
// `pool-signal` (diagnostic) is the pool giving each fetch an AbortSignal: what
// any per-request timeout or abort costs in undici's fetch.
// With R rounds the contenders run interleaved (order rotated each round) and
// the table shows each one's median req/s and its median peak RSS: the
// machine is shared, so single runs are noisy.
import { execFile } from 'node:child_process';
import { childTarget } from '../../js/cli/demo.js';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const CONTENDER = fileURLToPath(new URL('./cli-contender.mjs', import.meta.url));

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}
const sizes = arg('--sizes', '10000,100000').split(',').map(Number);
const concurrency = Number(arg('--concurrency', '1000'));
const delay = arg('--delay', '0-300ms');
const order = arg('--contenders', 'pool,weir,pmap').split(',');
const rounds = Number(arg('--rounds', '1'));

const LABELS = {
  weir: 'weir (limitedAsCompleted + limiter.fetch)',
  'weir-no-timeout': 'weir, --timeout none (no AbortSignal, like the pool)',
  pool: 'hand-written pool',
  pmap: 'p-map pMapIterable',
  'pool-signal': 'pool, AbortSignal per request (diagnostic)',
};

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const server = await childTarget(delay);
const runs = [];
try {
  for (const n of sizes) {
    for (let round = 0; round < rounds; round++) {
     const rotated = order.map((_, i) => order[(i + round) % order.length]);
     for (const c of rotated) {
      const { stdout } = await promisify(execFile)(process.execPath, [CONTENDER, c, server.url, String(n), String(concurrency)], {
        maxBuffer: 1 << 20,
      });
      const r = JSON.parse(stdout.trim().split('\n').pop());
      const stats = await server.stats();
      r.size = n;
      r.serverMaxConcurrent = stats.maxConcurrent;
      runs.push(r);
      process.stderr.write(`bench: ${n} ${c}: ${r.reqPerSec.toFixed(0)} req/s, ${r.peakRssMB.toFixed(1)} MB, ${r.cpuUsPerReq.toFixed(0)} µs CPU/req, ${r.errors} errors\n`);
     }
    }
  }
} finally {
  await server.close();
}

const results = [];
for (const n of sizes) {
  for (const c of order) {
    const mine = runs.filter((r) => r.size === n && r.contender === c);
    results.push({
      ...mine[0],
      reqPerSec: median(mine.map((r) => r.reqPerSec)),
      meanLatencyMs: median(mine.map((r) => r.meanLatencyMs)),
      peakRssMB: median(mine.map((r) => r.peakRssMB)),
      cpuUsPerReq: median(mine.map((r) => r.cpuUsPerReq)),
      errors: mine.reduce((a, r) => a + r.errors, 0),
      serverMaxConcurrent: Math.max(...mine.map((r) => r.serverMaxConcurrent)),
      rounds: mine.length,
    });
  }
}
const header = ['requests', 'contender', 'req/s', 'vs pool', "Little's bound", 'of bound', 'mean ms', 'peak RSS MB', 'CPU µs/req', 'CPU vs pool', 'errors'];
const rows = results.map((r) => {
  const pool = results.find((p) => p.size === r.size && p.contender === 'pool');
  const bound = concurrency / (r.meanLatencyMs / 1000);
  return [
    r.size.toLocaleString('en'),
    LABELS[r.contender] ?? r.contender,
    r.reqPerSec.toFixed(0),
    pool ? (r.reqPerSec / pool.reqPerSec).toFixed(3) : '-',
    bound.toFixed(0),
    `${((100 * r.reqPerSec) / bound).toFixed(1)}%`,
    r.meanLatencyMs.toFixed(1),
    r.peakRssMB.toFixed(1),
    r.cpuUsPerReq.toFixed(0),
    pool ? (r.cpuUsPerReq / pool.cpuUsPerReq).toFixed(3) : '-',
    String(r.errors),
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`scenario: ${concurrency} in flight, server delay ${delay}, Node ${process.version}, median of ${rounds} round(s)`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
if (process.argv.includes('--json')) console.log(JSON.stringify(runs));
