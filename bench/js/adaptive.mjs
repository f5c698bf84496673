// Benchmark: `concurrency: { adaptive }` against a real HTTP server with a
// capacity knee, side by side with hand-tuned fixed caps.
//
//   node bench/js/adaptive.mjs [--capacity 50] [--delay 90-110] [--seconds 20] [--demand 400] [--only adaptive]
//
// The target server (bindings/js/server/target.js, its own process) serves at most
// `--capacity` requests at once, each after a random delay in `--delay`
// ms; the rest wait in turn (flat latency up to the capacity, queueing
// beyond). Each contender — fixed caps 0.5C, C, 2C and the adaptive cap
// (defaults: min 1, max 1000, initial 10) — drives `limiter.fetch` with
// `--demand` calls outstanding for `--seconds` (the limiter queues what its
// cap does not let through; `weir fetch --concurrency auto` is the same
// path). Throughput is over the second half; the latency is each attempt's
// own round trip (a `fetch` wrapper times it), p50/p99 over the second
// half. Ratios are against the fixed cap C (the best hand-tuned value).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Limiter } from '../../bindings/js/node.js';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const flag = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const capacity = Number(flag('--capacity', 50));
const [minDelay, maxDelay] = flag('--delay', '90-110').replace(/ms$/, '').split('-').map(Number);
const seconds = Number(flag('--seconds', 20));
const demand = Number(flag('--demand', 400));

const server = spawn(process.execPath, [here('./fetch-server.mjs'), String(minDelay), String(maxDelay), String(capacity)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const url = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(String(d).trim())));

/** One contender: `concurrency` as the Limiter takes it. */
async function drive(concurrency) {
  const limiter = new Limiter({ concurrency });
  const rtts = []; // [answered at, rtt] of every attempt
  const timed = (input, init) => {
    const t0 = performance.now();
    return fetch(input, init).then((res) => {
      rtts.push([performance.now(), performance.now() - t0]);
      return res;
    });
  };
  const start = performance.now();
  const end = start + seconds * 1000;
  const half = start + (seconds * 1000) / 2;
  let done = 0;
  const limits = []; // the cap every 100 ms of the measured half
  const sampler = setInterval(() => {
    if (performance.now() >= half) limits.push(limiter.stats().concurrency);
  }, 100);
  const worker = async () => {
    while (performance.now() < end) {
      const res = await limiter.fetch(`${url}/`, { fetch: timed, retry: { attempts: 1 } });
      await res.arrayBuffer();
      if (performance.now() >= half) done += 1;
    }
  };
  await Promise.all(Array.from({ length: demand }, worker));
  clearInterval(sampler);
  const steady = rtts.filter(([at]) => at >= half).map(([, rtt]) => rtt).sort((a, b) => a - b);
  const q = (p) => steady[Math.min(steady.length - 1, Math.floor(p * steady.length))];
  return {
    rps: done / ((performance.now() - half) / 1000),
    p50: q(0.5),
    p99: q(0.99),
    limits: `${Math.min(...limits)}–${Math.max(...limits)}`,
  };
}

const only = flag('--only', undefined);
const contenders = [
  ['fixed 0.5C', Math.round(capacity / 2)],
  ['fixed C', capacity],
  ['fixed 2C', capacity * 2],
  ['adaptive (gradient)', { adaptive: {} }],
];
const results = [];
for (const [name, concurrency] of contenders) {
  if (only !== undefined && name !== 'fixed C' && !name.startsWith(only)) continue;
  results.push([name, await drive(concurrency)]);
}
server.stdin.end();
const best = results.find(([name]) => name === 'fixed C')[1];
console.log(
  `\ncapacity ${capacity}, delay ${minDelay}-${maxDelay} ms, ${demand} calls outstanding, ${seconds} s each (second half measured)\n`,
);
console.log('| contender | cap (measured half) | req/s | × fixed C | p50 ms | p99 ms | p99 × fixed C |');
console.log('|:--|--:|--:|--:|--:|--:|--:|');
for (const [name, r] of results) {
  console.log(
    `| ${name} | ${r.limits} | ${r.rps.toFixed(1)} | ${(r.rps / best.rps).toFixed(3)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.p99 / best.p99).toFixed(2)} |`,
  );
}
const auto = results.at(-1)[1];
const pass = (ok) => (ok ? 'PASS' : 'MISS');
console.log(`\n${pass(auto.rps >= 0.95 * best.rps)}  adaptive throughput ≥ 0.95× fixed C: ${(auto.rps / best.rps).toFixed(3)}×`);
console.log(`${pass(auto.p99 <= 1.2 * best.p99)}  adaptive p99 ≤ 1.2× fixed C: ${(auto.p99 / best.p99).toFixed(2)}×`);
