// `npm run demo`: the seed scenario (N requests, 1,000 in flight, a server
// answering "Hello, World!" after U[0, 300] ms) through the native `weir`
// and then the Node/wasm `weir`, against one target server (its own
// process), and one table of what each client did.
//
//   node scripts/demo.mjs [--requests N] [--concurrency L] [--delay 0-300ms]
//
// Default N = 50,000 (about 10 s per client here). Each client runs as
// `weir demo --target URL --json` in its own process and reports its own
// figures (req/s, mean latency, CPU time, peak RSS from getrusage).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { childTarget } from '../js/cli/demo.js';

const root = new URL('..', import.meta.url);
const NATIVE = process.env.WEIR_NATIVE_BIN ?? fileURLToPath(new URL('target/cli/weir', root));
const JS = fileURLToPath(new URL('bin/weir.js', root));

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}
const requests = arg('--requests', '50000');
const concurrency = arg('--concurrency', '1000');
const delay = arg('--delay', '0-300ms');

const clients = [
  ['native weir (Rust, reqwest)', NATIVE, []],
  ['Node weir (wasm core, fetch)', process.execPath, [JS]],
];

const server = await childTarget(delay);
const results = [];
try {
  for (const [label, file, pre] of clients) {
    process.stderr.write(`demo: ${label}: ${requests} requests, ${concurrency} in flight, server delay ${delay} …\n`);
    const args = [...pre, 'demo', '--target', server.url, '--requests', requests, '--concurrency', concurrency, '--delay', delay, '--json'];
    const { stdout } = await promisify(execFile)(file, args, { maxBuffer: 1 << 20 });
    results.push({ label, ...JSON.parse(stdout.trim().split('\n').pop()) });
  }
} finally {
  await server.close();
}

const header = ['client', 'req/s', "of Little's-law bound", 'of server-delay bound', 'peak RSS', 'CPU per request', 'errors'];
const rows = results.map((r) => [
  r.label,
  r.reqPerSec.toFixed(0),
  `${(100 * r.ofBound).toFixed(1)}%`,
  `${(100 * r.ofServerDelayBound).toFixed(1)}%`,
  `${r.peakRssMB.toFixed(1)} MB`,
  `${(1000 * r.clientCpuMsPerRequest).toFixed(0)} µs`,
  String(r.requests - (r.byStatus['200'] ?? 0)),
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
console.log(`\nseed scenario: ${Number(requests).toLocaleString('en')} requests, ${concurrency} in flight, server delay ${delay} ` +
  `(server-delay bound ${results[0].serverDelayBound?.toFixed?.(0) ?? '-'} req/s), Node ${process.version}`);
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const row of rows) console.log(line(row));
const [n, j] = results;
console.log(`native / Node: ${(n.reqPerSec / j.reqPerSec).toFixed(2)}× the req/s, ${(n.peakRssMB / j.peakRssMB).toFixed(2)}× the peak RSS, ` +
  `${(n.clientCpuMsPerRequest / j.clientCpuMsPerRequest).toFixed(2)}× the CPU per request`);
