#!/usr/bin/env node
// CPU per call of the KeyedSemaphore and RateLimiter classes (Node):
// uncontended `tryAcquire` + release, `RateLimiter.check`, contended
// `KeyedSemaphore.acquire` (10 permits, 200,000 callers), and awaited
// uncontended `RateLimiter.acquire`. Four keys in turn. CPU time from
// process.cpuUsage, so a busy machine inflates all rows alike.
//
//   node bench/js/sem-rate.mjs                      # this tree's js/
//   node bench/js/sem-rate.mjs --tree ../other      # another checkout (built)
//   node bench/js/sem-rate.mjs --rounds 3
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const tree = resolve(option('--tree', resolve(dirname(fileURLToPath(import.meta.url)), '../..')));
const rounds = Number(option('--rounds', 2));
const weir = await import(pathToFileURL(resolve(tree, 'js/node.js')).href);

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1e3;
};
const KEYS = ['a', 'b', 'c', 'd'];
const N = 1_000_000;
const M = 200_000;

for (let round = 1; round <= rounds; round++) {
  const sem = new weir.KeyedSemaphore({ global: 100, perKey: 10 });
  let t = cpuNs();
  for (let i = 0; i < N; i++) sem.tryAcquire(KEYS[i & 3])();
  const semNs = (cpuNs() - t) / N;

  const rate = new weir.RateLimiter({ limit: 1e9, interval: 1000 });
  let admitted = 0;
  t = cpuNs();
  for (let i = 0; i < N; i++) admitted += rate.check(KEYS[i & 3]).ok ? 1 : 0;
  const checkNs = (cpuNs() - t) / N;
  if (admitted !== N) throw new Error(`check admitted ${admitted} of ${N}`);

  const narrow = new weir.KeyedSemaphore({ global: 10 });
  const waits = [];
  t = cpuNs();
  for (let i = 0; i < M; i++) waits.push(narrow.acquire(KEYS[i & 3]).then((release) => release()));
  await Promise.all(waits);
  const contendedNs = (cpuNs() - t) / M;

  const rate2 = new weir.RateLimiter({ limit: 1e9, interval: 1000 });
  t = cpuNs();
  for (let i = 0; i < M; i++) await rate2.acquire(KEYS[i & 3]);
  const acquireNs = (cpuNs() - t) / M;

  console.log(
    `round ${round}: semaphore tryAcquire+release ${semNs.toFixed(0)} ns, rate check ${checkNs.toFixed(0)} ns, ` +
      `contended semaphore acquire ${contendedNs.toFixed(0)} ns, rate acquire ${acquireNs.toFixed(0)} ns`,
  );
}
