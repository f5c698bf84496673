// The native CLI benchmark: the seed scenario (one server answering "Hello,
// World!" after U[0, 300] ms; 1,000 in flight) at several sizes, each client
// in its own process against the same server (a Node process of its own):
//
//   native   target/cli/weir fetch FILE --concurrency 1000 --output /dev/null --progress none
//   node     node bin/weir.js fetch FILE (the same options)
//   aiohttp  python3 bench/py/aiohttp_seed.py (the seed article's client; pip install aiohttp)
//   pool     a hand-written Node fetch pool (bench/js/cli-contender.mjs pool)
//
//   npm run bench:cli-native -- [--sizes 10000,100000,1000000] [--contenders native,node,aiohttp,pool]
//                               [--rounds R] [--concurrency 1000] [--delay 0-300ms]
//
// Every client is measured the same way, from outside, by GNU time: wall
// time (req/s = N / wall, process start included), peak RSS (%M) and CPU
// (user + system). Needs /usr/bin/time (Debian package `time`), python3 with
// aiohttp, and the native binary (bash scripts/build-cli.sh).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childTarget } from '../../js/cli/demo.js';

const root = new URL('../..', import.meta.url);
const path = (p) => fileURLToPath(new URL(p, root));
const NATIVE = process.env.WEIR_NATIVE_BIN ?? path('target/cli/weir');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}
const sizes = arg('--sizes', '10000,100000').split(',').map(Number);
const order = arg('--contenders', 'native,node,aiohttp,pool').split(',');
const rounds = Number(arg('--rounds', '1'));
const concurrency = arg('--concurrency', '1000');
const delay = arg('--delay', '0-300ms');

const LABELS = {
  native: 'native weir fetch (Rust)',
  node: 'Node weir fetch (wasm)',
  aiohttp: 'aiohttp, the seed client',
  pool: 'hand-written Node fetch pool',
};

function command(c, url, n, file) {
  const fetchArgs = ['fetch', file, '--concurrency', concurrency, '--output', '/dev/null', '--progress', 'none'];
  switch (c) {
    case 'native':
      return [NATIVE, fetchArgs];
    case 'node':
      return [process.execPath, [path('bin/weir.js'), ...fetchArgs]];
    case 'aiohttp':
      return ['python3', [path('bench/py/aiohttp_seed.py'), url, String(n), concurrency]];
    case 'pool':
      return [process.execPath, [path('bench/js/cli-contender.mjs'), 'pool', url, String(n), concurrency]];
    default:
      throw new Error(`unknown contender ${c}`);
  }
}

/** Run under GNU time: { stdout, stderr, rssMB, wall, cpu }. */
function timed(file, args, dir) {
  const out = join(dir, 'time.txt');
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/time', ['-o', out, '-f', '%M %e %U %S', file, ...args], { maxBuffer: 16 << 20 }, async (error, stdout, stderr) => {
      if (error) return reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`));
      const [kb, wall, user, sys] = (await readFile(out, 'utf8')).trim().split('\n').pop().split(' ').map(Number);
      resolve({ stdout, stderr, rssMB: kb / 1024, wall, cpu: user + sys });
    });
  });
}

/** Requests that did not end in a 200, from what the client printed. */
function errorsOf(c, n, { stdout, stderr }) {
  if (c === 'native' || c === 'node') {
    const ok = /status: (?:.*, )?200: (\d+)/.exec(stderr);
    return n - (ok ? Number(ok[1]) : 0);
  }
  return JSON.parse(stdout.trim().split('\n').pop()).errors;
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const dir = await mkdtemp(join(tmpdir(), 'weir-bench-'));
const server = await childTarget(delay);
const runs = [];
try {
  for (const n of sizes) {
    const file = join(dir, `urls-${n}.txt`);
    await writeFile(file, `${server.url}/hello\n`.repeat(n));
    for (let round = 0; round < rounds; round++) {
      const rotated = order.map((_, i) => order[(i + round) % order.length]);
      for (const c of rotated) {
        const [bin, args] = command(c, server.url, n, file);
        const r = await timed(bin, args, dir);
        const run = { contender: c, n, reqPerSec: n / r.wall, rssMB: r.rssMB, cpuUsPerReq: (r.cpu * 1e6) / n, errors: errorsOf(c, n, r) };
        runs.push(run);
        process.stderr.write(`bench: ${n} ${c}: ${run.reqPerSec.toFixed(0)} req/s, ${run.rssMB.toFixed(1)} MB, ` +
          `${run.cpuUsPerReq.toFixed(0)} µs CPU/req, ${run.errors} errors\n`);
      }
    }
    await rm(file, { force: true });
  }
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}

const results = [];
for (const n of sizes) {
  for (const c of order) {
    const mine = runs.filter((r) => r.n === n && r.contender === c);
    results.push({
      contender: c,
      n,
      reqPerSec: median(mine.map((r) => r.reqPerSec)),
      rssMB: median(mine.map((r) => r.rssMB)),
      cpuUsPerReq: median(mine.map((r) => r.cpuUsPerReq)),
      errors: mine.reduce((a, r) => a + r.errors, 0),
    });
  }
}
const [lo, hi] = delay.replace(/ms$/, '').split('-').map(Number);
const serverBound = Number(concurrency) / ((lo + hi) / 2 / 1000);
const ref = (n, c) => results.find((r) => r.n === n && r.contender === c);
const header = ['requests', 'client', 'req/s', 'of server-delay bound', '× aiohttp', '× pool', 'peak RSS MB', 'CPU µs/req', 'errors'];
const rows = results.map((r) => {
  const a = ref(r.n, 'aiohttp');
  const p = ref(r.n, 'pool');
  return [
    r.n.toLocaleString('en'),
    LABELS[r.contender],
    r.reqPerSec.toFixed(0),
    `${((100 * r.reqPerSec) / serverBound).toFixed(1)}%`,
    a ? (r.reqPerSec / a.reqPerSec).toFixed(2) : '-',
    p ? (r.reqPerSec / p.reqPerSec).toFixed(2) : '-',
    r.rssMB.toFixed(1),
    r.cpuUsPerReq.toFixed(0),
    String(r.errors),
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`scenario: ${concurrency} in flight, server delay ${delay} (server-delay bound ${serverBound.toFixed(0)} req/s), ` +
  `Node ${process.version}, median of ${rounds} round(s)`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
const natives = results.filter((r) => r.contender === 'native');
if (natives.length > 1) {
  const first = natives[0];
  const last = natives[natives.length - 1];
  console.log(`native peak RSS ${last.n.toLocaleString('en')} / ${first.n.toLocaleString('en')}: ${(last.rssMB / first.rssMB).toFixed(2)}×`);
}
