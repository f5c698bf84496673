// Benchmark: limitedAsCompleted + limiter.fetch vs a hand-written promise pool
// over plain fetch vs p-map + fetch, against the local target server (random
// delay 0–300 ms), 20,000 requests, 1,000 in flight. One run each, every
// client in its own child process (peak RSS), the server in another.
//
//   node bench/js/fetch.mjs [requests=20000] [inflight=1000]
import { spawn, execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const n = Number(process.argv[2] ?? 20_000);
const inflight = Number(process.argv[3] ?? 1_000);
const [minDelay, maxDelay] = [0, 300];

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

const results = {};
for (const variant of ['pool', 'p-map', 'weir']) {
  results[variant] = await client(variant);
  if (results[variant].ok !== n) throw new Error(`${variant}: only ${results[variant].ok} of ${n} requests succeeded`);
}
server.stdin.end();
await once(server, 'exit');

const mb = (x) => (x / 2 ** 20).toFixed(1);
const meanDelay = (minDelay + maxDelay) / 2 / 1000;
console.log(`fetch benchmark: ${n} requests, ${inflight} in flight, server delay ${minDelay}–${maxDelay} ms, node ${process.version}`);
console.log(`Little's-law bound: ${inflight} / ${meanDelay * 1000} ms mean server delay = ${(inflight / meanDelay).toFixed(0)} req/s`);
console.log('variant  req/s   vs pool  mean latency  Little bound (in-flight / latency)  peak RSS  client CPU/request');
for (const [variant, r] of Object.entries(results)) {
  console.log(
    `${variant.padEnd(7)} ${r.reqPerSec.toFixed(0).padStart(6)}  ${(r.reqPerSec / results.pool.reqPerSec).toFixed(3)}×   ${r.meanLatencyMs.toFixed(1).padStart(7)} ms    ${(inflight / (r.meanLatencyMs / 1000)).toFixed(0).padStart(6)} req/s                       ${mb(r.peakRss).padStart(6)} MB  ${r.cpuMsPerRequest.toFixed(3)} ms`,
  );
}
console.log(`weir / pool: ${(results.weir.reqPerSec / results.pool.reqPerSec).toFixed(3)}× req/s, ${(results.weir.peakRss / results.pool.peakRss).toFixed(3)}× peak RSS, ${(results.weir.cpuMsPerRequest / results.pool.cpuMsPerRequest).toFixed(3)}× CPU per request`);
console.log(`weir / p-map: ${(results.weir.reqPerSec / results['p-map'].reqPerSec).toFixed(3)}× req/s, ${(results.weir.peakRss / results['p-map'].peakRss).toFixed(3)}× peak RSS`);
