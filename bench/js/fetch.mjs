// Benchmark: limitedAsCompleted + limiter.fetch vs a hand-written promise pool
// over plain fetch vs p-map + fetch, against the local target server (random
// delay 0–300 ms), 20,000 requests, 1,000 in flight. One run each, every
// client in its own child process (peak RSS), the server in another.
//
//   node bench/js/fetch.mjs [requests=20000] [inflight=1000] [--rounds 3] [--variants pool,p-map,weir,weir-no-signal] [--delay 0-300]
//
// `--delay MIN-MAX` (ms, a trailing `ms` allowed) sets the server's random delay. The default, 0–300,
// asks for ~6,700 requests/s at 1,000 in flight, more than a 2-core machine
// serving itself can do: there the clients are CPU-bound and the ratios are
// ratios of CPU per request. `--delay 0-3000` (the seed article's server)
// asks for ~670/s, which leaves the CPU idle most of the time: there the
// ratios show how close each client comes to the Little's-law bound.
//
// With several rounds the variants run interleaved (round 1: pool, p-map,
// weir, …; round 2: the same), and the ratios printed are medians of the
// per-round ratios: the machine's drift between rounds cancels out of each
// ratio. `weir-no-signal` is weir without handing limitedAsCompleted's signal
// to limiter.fetch: the same features as the pool (no abort).
import { spawn, execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import os from 'node:os';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const flag = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const n = Number(positional[0] ?? 20_000);
const inflight = Number(positional[1] ?? 1_000);
const rounds = Number(flag('--rounds', 3));
const variants = flag('--variants', 'pool,p-map,weir,weir-no-signal').split(',');
if (!variants.includes('pool')) throw new Error('--variants must include pool (the baseline)');
const delayText = flag('--delay', '0-300');
const [minDelay, maxDelay] = delayText.replace(/ms$/, '').split('-').map(Number); // `0-300` or `0-300ms`, as cli.mjs takes it
if (!(minDelay >= 0 && maxDelay >= minDelay)) throw new Error(`--delay must be MIN-MAX in ms, got ${delayText}`);

const server = spawn(process.execPath, [here('./fetch-server.mjs'), String(minDelay), String(maxDelay)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const [firstChunk] = await once(server.stdout, 'data');
const url = String(firstChunk).trim().split('\n')[0];

function client(variant) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--no-warnings', here('./fetch-client.mjs'), variant, url, String(n), String(inflight)], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${variant}: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

const runs = []; // runs[round][variant]
for (let round = 0; round < rounds; round += 1) {
  const results = {};
  for (const variant of variants) {
    results[variant] = await client(variant);
    if (results[variant].ok !== n) throw new Error(`${variant}: only ${results[variant].ok} of ${n} requests succeeded`);
  }
  runs.push(results);
}
server.stdin.end();
await once(server, 'exit');

const mb = (x) => (x / 2 ** 20).toFixed(1);
const meanDelay = (minDelay + maxDelay) / 2 / 1000;
console.log(`fetch benchmark: ${n} requests, ${inflight} in flight, server delay ${minDelay}–${maxDelay} ms, node ${process.version}`);
console.log(`Little's-law bound: ${inflight} / ${meanDelay * 1000} ms mean server delay = ${(inflight / meanDelay).toFixed(0)} req/s`);
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
console.log(`${rounds} interleaved round(s); load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('round  variant         req/s  × pool  mean latency  in-flight/latency  peak RSS  × pool  CPU/request  × pool');
runs.forEach((results, round) => {
  for (const [variant, r] of Object.entries(results)) {
    const pool = results.pool;
    console.log(
      `${String(round + 1).padStart(5)}  ${variant.padEnd(14)} ${r.reqPerSec.toFixed(0).padStart(6)}  ${(r.reqPerSec / pool.reqPerSec).toFixed(3)}  ${r.meanLatencyMs.toFixed(1).padStart(9)} ms  ${(inflight / (r.meanLatencyMs / 1000)).toFixed(0).padStart(10)} req/s  ${mb(r.peakRss).padStart(6)} MB  ${(r.peakRss / pool.peakRss).toFixed(3)}  ${r.cpuMsPerRequest.toFixed(3).padStart(8)} ms  ${(r.cpuMsPerRequest / pool.cpuMsPerRequest).toFixed(3)}`,
    );
  }
});
console.log('\nmedians over the rounds of each round\'s ratio to that round\'s pool:');
for (const variant of variants.filter((v) => v !== 'pool')) {
  const of = (f) => median(runs.map((results) => f(results[variant]) / f(results.pool))).toFixed(3);
  console.log(`${variant.padEnd(14)} ${of((r) => r.reqPerSec)}× req/s, ${of((r) => r.peakRss)}× peak RSS, ${of((r) => r.cpuMsPerRequest)}× CPU per request`);
}
