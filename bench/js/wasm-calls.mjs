// Time spent inside each wasm method during real limiter.fetch traffic, per
// request, next to the same calls in a hot loop.
//
//   node bench/js/wasm-calls.mjs [--requests 20000] [--inflight 100] [--delay 0]
//
// Each method of RawLimiter and RawRetry (the wasm-bindgen classes
// limiter.fetch calls) is wrapped with process.hrtime.bigint(); the wrapper
// adds ~0.1–0.2 µs to every figure. The target server (bench/js/fetch-server.mjs,
// delay 0..--delay ms) runs in its own process.
//
// What it shows: a call that costs tens or hundreds of ns in a loop costs
// 1–5 µs between two HTTP requests, when undici's code and data have pushed
// the wasm's out of the caches. Per request, the calls' count and the code
// each one runs matter more than their hot-loop speed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Agent, setGlobalDispatcher } from 'undici';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    inflight: { type: 'string', default: '100' },
    delay: { type: 'string', default: '0' },
  },
});
const n = Number(values.requests);
const inflight = Number(values.inflight);
setGlobalDispatcher(new Agent({ connections: inflight, pipelining: 1, keepAliveTimeout: 30_000 }));

const server = spawn(process.execPath, [new URL('fetch-server.mjs', import.meta.url).pathname, '0', values.delay], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const [first] = await once(server.stdout, 'data');
const base = String(first).trim().split('\n')[0];

const { Limiter } = await import('weir-limiter');
const wasm = await import('../../js/wasm/weir_wasm.js');

/** name -> [ns, calls] */
const spent = new Map();
const clock = process.hrtime.bigint;
function instrument(className) {
  const proto = wasm[className].prototype;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const method = proto[name];
    if (typeof method !== 'function' || name === 'constructor') continue;
    const entry = [0n, 0];
    spent.set(`${className}.${name}`, entry);
    proto[name] = function timed(...args) {
      const t = clock();
      try {
        return method.apply(this, args);
      } finally {
        entry[0] += clock() - t;
        entry[1] += 1;
      }
    };
  }
}
instrument('RawLimiter');
instrument('RawRetry');

const limiter = new Limiter({ concurrency: inflight });
let next = 0;
const worker = async () => {
  while (next < n) {
    next += 1;
    await (await limiter.fetch(`${base}/?i=${next}`)).text();
  }
};
const started = performance.now();
await Promise.all(Array.from({ length: inflight }, worker));
const wallUs = ((performance.now() - started) * 1000) / n;
server.stdin.end();

// The same calls in a hot loop (instrumented the same way), for comparison.
const hot = new Limiter({ concurrency: inflight });
const hotKey = new URL(base).host;
const before = new Map([...spent].map(([k, [t, c]]) => [k, [t, c]]));
const loops = 100_000;
const fake = async () => new Response('Hello, World!');
for (let i = 0; i < loops; i++) await (await hot.fetch(`http://${hotKey}/?i=${i}`, { fetch: fake })).text();

console.log(`limiter.fetch, ${n} requests, ${inflight} in flight, server delay 0..${values.delay} ms: ${wallUs.toFixed(1)} µs wall per request`);
console.log('method                      calls/req   µs/call (traffic)   µs/call (hot loop, fake fetch)');
let total = 0;
for (const [name, [ns, calls]] of spent) {
  const [ns0, calls0] = before.get(name);
  if (calls0 === 0) continue;
  const hotCalls = calls - calls0;
  const traffic = Number(ns0) / 1000 / calls0;
  total += Number(ns0) / 1000 / n;
  const hotUs = hotCalls > 0 ? (Number(ns - ns0) / 1000 / hotCalls).toFixed(2) : '-';
  console.log(`${name.padEnd(28)}${(calls0 / n).toFixed(2).padStart(9)}${traffic.toFixed(2).padStart(20)}${hotUs.padStart(33)}`);
}
console.log(`wasm calls in traffic: ${total.toFixed(1)} µs per request`);
