import { test } from './harness.js';

test('rate: a fresh bucket admits its burst; a denial consumes nothing', async ({ weir, assert, sleep }) => {
  const limiter = new weir.RateLimiter({ limit: 10, interval: 100, burst: 3 });
  const begin = performance.now();
  const answers = Array.from({ length: 8 }, () => limiter.check('k'));
  const elapsed = performance.now() - begin;
  const admitted = answers.filter((a) => a.ok).length;
  assert.ok(admitted >= 3, 'the burst is available at once');
  assert.atMost(admitted, 3 + Math.floor(elapsed / 10), 'no more than burst + rate * elapsed');
  const denied = answers.find((a) => !a.ok);
  assert.ok(denied.retryAfterMs > 0 && denied.retryAfterMs <= 10, `retryAfterMs ${denied.retryAfterMs}`);
  // Denials consumed nothing: after retryAfter, a check passes.
  await sleep(Math.ceil(limiter.check('k').retryAfterMs) + 2);
  assert.ok(limiter.check('k').ok, 'admitted after retryAfterMs');
  assert.ok(limiter.check('other').ok, 'keys have separate buckets');
});

test('rate: acquire never admits more than burst + rate * window', async ({ weir, assert }) => {
  // 5 per 50 ms, burst 2: emission interval 10 ms.
  const limiter = new weir.RateLimiter({ limit: 5, interval: 50, burst: 2 });
  const stamps = [];
  for (let i = 0; i < 10; i++) {
    await limiter.acquire('k');
    stamps.push(performance.now());
  }
  for (let i = 0; i < stamps.length; i++) {
    for (let j = i; j < stamps.length; j++) {
      // +1 ms: admission happens just before its stamp is taken.
      const window = stamps[j] - stamps[i] + 1;
      assert.atMost(j - i + 1, 2 + Math.floor(window / 10), `admitted in ${window.toFixed(2)} ms`);
    }
  }
});

test('rate: acquire is FIFO per key', async ({ weir, assert }) => {
  const limiter = new weir.RateLimiter({ limit: 1, interval: 5 });
  const order = [];
  await Promise.all(Array.from({ length: 6 }, (_, i) => limiter.acquire('k').then(() => order.push(i))));
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
});

test('rate: abort while waiting rejects with the reason and does not consume', async ({ weir, assert, sleep }) => {
  const limiter = new weir.RateLimiter({ limit: 1, interval: 30 });
  await limiter.acquire('k');
  const controller = new AbortController();
  const waiting = limiter.acquire('k', 1, { signal: controller.signal });
  const reason = new Error('no longer needed');
  controller.abort(reason);
  await assert.rejects(waiting, (e) => assert.equal(e, reason));
  await sleep(Math.ceil(limiter.check('k').retryAfterMs) + 2);
  assert.ok(limiter.check('k').ok, 'the aborted waiter took no token');
});

test('rate: a cost above the burst is a RangeError, not a hang', async ({ weir, assert }) => {
  const limiter = new weir.RateLimiter({ limit: 5, interval: 100, burst: 5 });
  assert.throws(() => limiter.check('k', 6), RangeError);
  await assert.rejects(limiter.acquire('k', 6), (e) => assert.matchesError(e, RangeError));
});

test('rate: pause holds a key, not the others', async ({ weir, assert }) => {
  const limiter = new weir.RateLimiter({ limit: 100, interval: 100 });
  limiter.pause('k', 50);
  const paused = limiter.check('k');
  assert.ok(!paused.ok && paused.retryAfterMs > 0 && paused.retryAfterMs <= 50, JSON.stringify(paused));
  assert.ok(limiter.check('other').ok);
});
