// Node host: the suite runs in this process; 'weir-limiter' resolves through the
// package's own exports (self-reference, "node" condition).
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import * as weir from 'weir-limiter';
import { cases, runCase } from '../conformance/index.js';
import { resolveExport } from './resolve.js';
import { RawLimiter } from '../../js/wasm/weir_wasm.js';

test('package: the node condition resolves to the node loader', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const target = resolveExport(pkg, ['node', 'import']);
  if (target !== './js/node.js') throw new Error(`node resolved to ${target}`);
  for (const [host, expected] of [
    [['workerd', 'worker', 'browser', 'import'], './js/workerd.js'],
    [['edge-light', 'worker', 'browser', 'import'], './js/workerd.js'],
    [['deno', 'node', 'import'], './js/index.js'],
    [['browser', 'import'], './js/index.js'],
    [['worker', 'import'], './js/index.js'],
    [['import'], './js/index.js'],
  ]) {
    const got = resolveExport(pkg, host);
    if (got !== expected) throw new Error(`${host.join('+')} resolved to ${got}, expected ${expected}`);
  }
  const keys = Object.keys(pkg.exports['.']);
  if (keys[0] !== 'types' || keys.at(-1) !== 'default') throw new Error(`condition order: ${keys}`);
});

test('fast path: an uncontended acquire creates no Rust Promise and one wasm call each way', async () => {
  const calls = { acquireOrPark: 0, tryAcquire: 0, release: 0 };
  const restore = [];
  // KeyedSemaphore is a RawLimiter too (only concurrency caps).
  for (const name of Object.keys(calls)) {
    const original = RawLimiter.prototype[name];
    RawLimiter.prototype[name] = function counted(...args) {
      calls[name] += 1;
      return original.apply(this, args);
    };
    restore.push(() => { RawLimiter.prototype[name] = original; });
  }
  try {
    const limiter = new weir.Limiter({ concurrency: 4, perKey: 2 });
    for (let i = 0; i < 50; i++) await limiter.run(() => i, { key: `k${i % 3}` });
    const sem = new weir.KeyedSemaphore({ global: 4 });
    for (let i = 0; i < 50; i++) (await sem.acquire('k'))();
    if (calls.acquireOrPark !== 0) throw new Error(`slow path taken ${calls.acquireOrPark} times`);
    if (calls.tryAcquire !== 100 || calls.release !== 100) throw new Error(JSON.stringify(calls));
    // Contended: exactly then the slow path is used.
    const hold = await sem.acquire('k', 4);
    const waiting = sem.acquire('k');
    hold();
    (await waiting)();
    if (calls.acquireOrPark !== 1) throw new Error(`contended acquires: ${calls.acquireOrPark}`);
  } finally {
    restore.forEach((undo) => undo());
  }
});

for (const c of cases) {
  test(c.name, async () => {
    const result = await runCase(c, weir);
    if (!result.ok) throw new Error(result.error);
  });
}
