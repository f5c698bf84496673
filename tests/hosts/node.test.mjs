// Node host: the suite runs in this process; 'weir-limiter' resolves through the
// package's own exports (self-reference, "node" condition).
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import * as weir from 'weir-limiter';
import { cases, runCase } from '../conformance/index.js';
import { resolveExport } from './resolve.js';
import { RawLimiter } from '../../bindings/js/wasm/weir_wasm.js';

test('package: the node condition resolves to the node loader', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const target = resolveExport(pkg, ['node', 'import']);
  if (target !== './bindings/js/node.js') throw new Error(`node resolved to ${target}`);
  for (const [host, expected] of [
    [['workerd', 'worker', 'browser', 'import'], './bindings/js/workerd.js'],
    [['edge-light', 'worker', 'browser', 'import'], './bindings/js/workerd.js'],
    [['deno', 'node', 'import'], './bindings/js/index.js'],
    [['browser', 'import'], './bindings/js/index.js'],
    [['worker', 'import'], './bindings/js/index.js'],
    [['import'], './bindings/js/index.js'],
  ]) {
    const got = resolveExport(pkg, host);
    if (got !== expected) throw new Error(`${host.join('+')} resolved to ${got}, expected ${expected}`);
  }
  const keys = Object.keys(pkg.exports['.']);
  if (keys[0] !== 'types' || keys.at(-1) !== 'default') throw new Error(`condition order: ${keys}`);
});

test('fast path: an uncontended acquire creates no Rust Promise and one wasm call each way', async () => {
  const calls = { acquireOrPark: 0, acquireOrParkUnkeyed: 0, tryAcquire: 0, release: 0, setNotify: 0, drain: 0 };
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
    // `run` admits (or parks) in one call: keyed and unkeyed.
    for (let i = 0; i < 50; i++) await limiter.run(() => i, { key: `k${i % 3}` });
    for (let i = 0; i < 10; i++) await limiter.run(() => i);
    const sem = new weir.KeyedSemaphore({ global: 4 });
    for (let i = 0; i < 50; i++) (await sem.acquire('k'))();
    const expected = { acquireOrPark: 50, acquireOrParkUnkeyed: 10, tryAcquire: 50, release: 110, setNotify: 0, drain: 0 };
    if (JSON.stringify(calls) !== JSON.stringify(expected)) throw new Error(`uncontended: ${JSON.stringify(calls)}`);
    // Contended: the wait parks in wasm, and the drain function crosses once.
    const hold = await sem.acquire('k', 4);
    const waiting = sem.acquire('k');
    let open;
    const gate = new Promise((resolve) => { open = resolve; });
    const runs = [0, 1, 2, 3, 4].map((i) => limiter.run(() => gate.then(() => i)));
    if (calls.setNotify !== 2) throw new Error(`setNotify once per parked limiter: ${calls.setNotify}`);
    hold();
    (await waiting)();
    open();
    if ((await Promise.all(runs)).join() !== '0,1,2,3,4') throw new Error('contended runs');
    if (calls.acquireOrPark !== 51 || calls.acquireOrParkUnkeyed !== 15) throw new Error(`contended: ${JSON.stringify(calls)}`);
    // Idle again, the wasm side let go of it: the next busy spell hands it over anew.
    const again = await sem.acquire('k', 4);
    const next = sem.acquire('k');
    again();
    (await next)();
    if (calls.setNotify !== 3) throw new Error(`setNotify after an idle spell: ${calls.setNotify}`);
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

test('parking: many waits on one shared signal add one abort listener, and no MaxListenersExceededWarning', async () => {
  const { getEventListeners } = await import('node:events');
  const warnings = [];
  const onWarning = (w) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const limiter = new weir.Limiter({ concurrency: 1 });
    const sem = new weir.KeyedSemaphore({ global: 1 });
    const ac = new AbortController();
    const hold = await sem.acquire('k');
    const release = await limiter.acquire();
    const waits = [];
    for (let i = 0; i < 50; i++) {
      waits.push(limiter.run(async () => {}, { signal: ac.signal }).catch((e) => e));
      waits.push(sem.acquire('k', 1, { signal: ac.signal }).catch((e) => e));
    }
    // Running tasks share the signal too.
    const running = new weir.Limiter({ concurrency: 20 });
    let open;
    const gate = new Promise((resolve) => { open = resolve; });
    const tasks = Array.from({ length: 20 }, () => running.run(() => gate, { signal: ac.signal }));
    await new Promise((r) => setTimeout(r, 10));
    const listeners = getEventListeners(ac.signal, 'abort').length;
    if (listeners > 2) throw new Error(`${listeners} abort listeners on one shared signal`);
    open();
    await Promise.all(tasks);
    ac.abort(new Error('stop'));
    for (const r of await Promise.all(waits)) if (r?.message !== 'stop') throw new Error(`wait settled with ${r}`);
    release();
    hold();
    await new Promise((r) => setImmediate(r));
    if (getEventListeners(ac.signal, 'abort').length !== 0) throw new Error('listeners left behind');
    if (warnings.includes('MaxListenersExceededWarning')) throw new Error('MaxListenersExceededWarning');
  } finally {
    process.off('warning', onWarning);
  }
});

test('parking: waits woken together are admitted in slices, each slice on a fresh clock read', async () => {
  // 10,000 parked runs all woken at once (the cap raised): the decisions of
  // one drain read the clock once, and the work they admit starts only when
  // the drain returns, so a drain must not take all 10,000 in one go.
  // (A quota, however generous, makes admission read the clock.)
  const limiter = new weir.Limiter({ concurrency: 1, rate: { limit: 1e9, interval: 1000 } });
  const release = await limiter.acquire();
  let started = 0;
  const runs = Array.from({ length: 10_000 }, (_, i) => limiter.run(() => { started += 1; }, { key: `k${i % 100}` }));
  await new Promise((r) => setTimeout(r, 10));
  const real = performance.now;
  let reads = 0;
  performance.now = () => {
    reads += 1;
    return real.call(performance);
  };
  try {
    limiter.setLimits({ concurrency: 100_000 });
    await Promise.all(runs);
  } finally {
    performance.now = real;
  }
  release();
  if (started !== 10_000) throw new Error(`started ${started}`);
  if (reads < 10_000 / 256) throw new Error(`${reads} clock reads for 10,000 admissions woken at once`);
});

test('parking: after a crowd of waiters drains, the JS ticket tables are let go', async () => {
  const { spawnSync } = await import('node:child_process');
  const child = `
    const weir = await import(${JSON.stringify(new URL('../../bindings/js/node.js', import.meta.url).href)});
    const l = new weir.Limiter({ concurrency: 1 });
    const settle = async () => { for (let i = 0; i < 5; i++) { await new Promise((r) => setImmediate(r)); globalThis.gc(); } };
    await settle();
    const base = process.memoryUsage().heapUsed;
    const hold = await l.acquire();
    const runs = [];
    for (let i = 0; i < 300000; i++) runs.push(l.run(() => {}));
    hold();
    await Promise.all(runs);
    runs.length = 0;
    await settle();
    console.log(JSON.stringify({ retainedMB: (process.memoryUsage().heapUsed - base) / 2 ** 20 }));
    globalThis.kept = l; // the limiter itself stays alive
  `;
  const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', child], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(out.stderr);
  const { retainedMB } = JSON.parse(out.stdout.trim().split('\n').at(-1));
  if (!(retainedMB < 2)) throw new Error(`${retainedMB.toFixed(1)} MB kept after 300,000 waiters drained`);
});
