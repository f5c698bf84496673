import { test } from './harness.js';

test('semaphore: global and per-key caps hold for weighted acquires', async ({ weir, assert, sleep }) => {
  const sem = new weir.KeyedSemaphore({ global: 5, perKey: 3 });
  let total = 0;
  let maxTotal = 0;
  const perKey = { a: 0, b: 0, c: 0 };
  let maxPerKey = 0;
  await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const key = 'abc'[i % 3];
      const n = 1 + (i % 2);
      const release = await sem.acquire(key, n);
      total += n;
      perKey[key] += n;
      maxTotal = Math.max(maxTotal, total);
      maxPerKey = Math.max(maxPerKey, perKey[key]);
      await sleep(1);
      total -= n;
      perKey[key] -= n;
      release();
    }),
  );
  assert.atMost(maxTotal, 5, 'global');
  assert.atMost(maxPerKey, 3, 'per key');
  assert.ok(maxTotal >= 4, 'the global cap was actually used');
  assert.deepEqual(sem.stats(), { inFlight: 0, waiting: 0, keys: 0, global: 5, perKey: 3 });
});

test('semaphore: FIFO per key', async ({ weir, assert }) => {
  const sem = new weir.KeyedSemaphore({ perKey: 1 });
  const first = await sem.acquire('k');
  const order = [];
  const waiters = Array.from({ length: 8 }, (_, i) =>
    sem.acquire('k').then((release) => {
      order.push(i);
      release();
    }),
  );
  first();
  await Promise.all(waiters);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('semaphore: no cross-key head-of-line blocking', async ({ weir, assert, settle }) => {
  const sem = new weir.KeyedSemaphore({ global: 3, perKey: 1 });
  const a = await sem.acquire('a');
  let a2 = null;
  const a2p = sem.acquire('a').then((r) => { a2 = r; });
  await settle();
  const b = sem.tryAcquire('b');
  assert.equal(typeof b, 'function', 'b admitted while a is saturated with a waiter');
  assert.equal(a2, null);
  a();
  await a2p;
  assert.equal(typeof a2, 'function');
  a2();
  b();
  assert.equal(sem.stats().inFlight, 0);
});

test('semaphore: abort while queued rejects with the reason and frees the place', async ({ weir, assert, settle }) => {
  const sem = new weir.KeyedSemaphore({ global: 1 });
  const held = await sem.acquire('k');
  const controller = new AbortController();
  const waiting = sem.acquire('k', 1, { signal: controller.signal });
  const behind = sem.acquire('k');
  await settle();
  assert.equal(sem.stats().waiting, 2);
  controller.abort('gone');
  await assert.rejects(waiting, (e) => assert.equal(e, 'gone'));
  await settle();
  assert.equal(sem.stats().waiting, 1, 'the aborted waiter left the queue');
  held();
  const release = await behind;
  assert.equal(sem.stats().inFlight, 1, 'the next waiter got the permit, none leaked');
  release();
  assert.deepEqual([sem.stats().inFlight, sem.stats().waiting, sem.stats().keys], [0, 0, 0]);
});

test('semaphore: asking for more than a cap is a RangeError', async ({ weir, assert }) => {
  const sem = new weir.KeyedSemaphore({ global: 4, perKey: 2 });
  assert.throws(() => sem.tryAcquire('k', 3), RangeError);
  await assert.rejects(sem.acquire('k', 5), (e) => assert.matchesError(e, RangeError));
  assert.equal(sem.stats().inFlight, 0);
});

test('semaphore: release is idempotent and disposable', async ({ weir, assert }) => {
  const sem = new weir.KeyedSemaphore({ global: 2 });
  const a = await sem.acquire('x', 2);
  a();
  const b = await sem.acquire('x', 2);
  a(); // stale: must not release b's permits
  assert.equal(sem.stats().inFlight, 2);
  const dispose = Symbol.dispose ?? Symbol.for('Symbol.dispose');
  b[dispose]();
  assert.equal(sem.stats().inFlight, 0);
});

test('semaphore: setLimits raises and wakes waiters', async ({ weir, assert }) => {
  const sem = new weir.KeyedSemaphore({ global: 1 });
  const a = await sem.acquire('a');
  const b = sem.acquire('b');
  sem.setLimits({ global: 2 });
  const releaseB = await b;
  assert.equal(sem.stats().inFlight, 2);
  a();
  releaseB();
});
