import { test } from './harness.js';

// [label, construct, error type, pattern the message must match (the option's name)]
const BAD = [
  ['Limiter concurrency -1', (w) => new w.Limiter({ concurrency: -1 }), RangeError, /'concurrency'/],
  ['Limiter concurrency NaN', (w) => new w.Limiter({ concurrency: NaN }), RangeError, /'concurrency'/],
  ['Limiter concurrency 0', (w) => new w.Limiter({ concurrency: 0 }), RangeError, /'concurrency'/],
  ['Limiter concurrency 1.5', (w) => new w.Limiter({ concurrency: 1.5 }), RangeError, /'concurrency'/],
  ['Limiter concurrency "3"', (w) => new w.Limiter({ concurrency: '3' }), TypeError, /'concurrency'/],
  ['Limiter perKey 0', (w) => new w.Limiter({ perKey: 0 }), RangeError, /'perKey'/],
  ['Limiter perKey -2', (w) => new w.Limiter({ perKey: -2 }), RangeError, /'perKey'/],
  ['Limiter maxQueue -1', (w) => new w.Limiter({ maxQueue: -1 }), RangeError, /'maxQueue'/],
  ['Limiter maxQueue NaN', (w) => new w.Limiter({ maxQueue: NaN }), RangeError, /'maxQueue'/],
  ['Limiter rate.limit 0', (w) => new w.Limiter({ rate: { limit: 0, interval: 100 } }), RangeError, /'rate\.limit'/],
  ['Limiter rate.interval 0', (w) => new w.Limiter({ rate: { limit: 1, interval: 0 } }), RangeError, /'rate\.interval'/],
  ['Limiter rate.interval -5', (w) => new w.Limiter({ rate: { limit: 1, interval: -5 } }), RangeError, /'rate\.interval'/],
  ['Limiter rate.interval NaN', (w) => new w.Limiter({ rate: { limit: 1, interval: NaN } }), RangeError, /'rate\.interval'/],
  ['Limiter rate.interval missing', (w) => new w.Limiter({ rate: { limit: 1 } }), TypeError, /'rate\.interval'/],
  ['Limiter rate[1].burst 0', (w) => new w.Limiter({ rate: [{ limit: 1, interval: 10 }, { limit: 1, interval: 10, burst: 0 }] }), RangeError, /'rate\[1\]\.burst'/],
  ['Limiter perKeyRate.limit -1', (w) => new w.Limiter({ perKeyRate: { limit: -1, interval: 10 } }), RangeError, /'perKeyRate\.limit'/],
  ['Limiter perKeyRate unknown field', (w) => new w.Limiter({ perKeyRate: { limit: 1, interval: 10, per: 2 } }), TypeError, /perKeyRate\.per/],
  ['Limiter unknown option', (w) => new w.Limiter({ concurency: 3 }), TypeError, /'concurency'/],
  ['KeyedSemaphore global 0', (w) => new w.KeyedSemaphore({ global: 0 }), RangeError, /'global'/],
  ['KeyedSemaphore perKey NaN', (w) => new w.KeyedSemaphore({ perKey: NaN }), RangeError, /'perKey'/],
  ['KeyedSemaphore unknown option', (w) => new w.KeyedSemaphore({ limit: 2 }), TypeError, /'limit'/],
  ['RateLimiter limit 0', (w) => new w.RateLimiter({ limit: 0, interval: 10 }), RangeError, /'limit'/],
  ['RateLimiter interval 0', (w) => new w.RateLimiter({ limit: 1, interval: 0 }), RangeError, /'interval'/],
  ['RateLimiter interval -1', (w) => new w.RateLimiter({ limit: 1, interval: -1 }), RangeError, /'interval'/],
  ['RateLimiter burst NaN', (w) => new w.RateLimiter({ limit: 1, interval: 10, burst: NaN }), RangeError, /'burst'/],
  ['RateLimiter unknown option', (w) => new w.RateLimiter({ limit: 1, interval: 10, window: 3 }), TypeError, /'window'/],
  ['RateLimiter no options', (w) => new w.RateLimiter({}), TypeError, /'limit'/],
  ['limitedAsCompleted concurrency 0', (w) => w.limitedAsCompleted([], (x) => x, { concurrency: 0 }), RangeError, /'concurrency'/],
  ['limitedAsCompleted concurrency missing', (w) => w.limitedAsCompleted([], (x) => x, {}), TypeError, /'concurrency'/],
  ['limitedAsCompleted unknown option', (w) => w.limitedAsCompleted([], (x) => x, { concurrency: 1, limit: 2 }), TypeError, /'limit'/],
  ['limitedAsCompleted source not iterable', (w) => w.limitedAsCompleted(42, (x) => x, { concurrency: 1 }), TypeError, /'source'/],
];

test('options: bad options throw TypeError/RangeError naming the option', ({ weir, assert }) => {
  for (const [label, construct, type, pattern] of BAD) {
    assert.throws(() => construct(weir), type, pattern, `${label}:`);
  }
});

test('options: bad run/acquire options are rejected by name', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ concurrency: 1 });
  await assert.rejects(limiter.run(() => 0, { cost: 0 }), (e) => assert.matchesError(e, RangeError, /'cost'/));
  await assert.rejects(limiter.run(() => 0, { kee: 'x' }), (e) => assert.matchesError(e, TypeError, /'kee'/));
  await assert.rejects(limiter.run(() => 0, { key: {} }), (e) => assert.matchesError(e, TypeError, /'key'/));
  await assert.rejects(limiter.run(() => 0, { signal: 'nope' }), (e) => assert.matchesError(e, TypeError, /'signal'/));
  await assert.rejects(limiter.run('not a function'), (e) => assert.matchesError(e, TypeError, /'fn'/));
  assert.throws(() => limiter.setLimits({ concurrency: 0 }), RangeError, /'concurrency'/);
  assert.throws(() => limiter.setLimits({ max: 1 }), TypeError, /'max'/);
  const sem = new weir.KeyedSemaphore({ global: 2 });
  await assert.rejects(sem.acquire('k', -1), (e) => assert.matchesError(e, RangeError, /'n'/));
  const rate = new weir.RateLimiter({ limit: 1, interval: 10 });
  assert.throws(() => rate.check('k', 1.5), RangeError, /'cost'/);
  assert.equal(limiter.stats().inFlight, 0);
});

test('options: valid shapes are accepted (arrays of quotas, Infinity caps)', ({ weir, assert }) => {
  const limiter = new weir.Limiter({
    concurrency: Infinity,
    perKey: 2,
    rate: [{ limit: 4, interval: 1000 }, { limit: 60, interval: 60000, burst: 10 }],
    perKeyRate: { limit: 1, interval: 0.5 },
    maxQueue: 0,
  });
  assert.equal(limiter.stats().concurrency, Infinity);
  assert.equal(typeof new weir.Limiter().tryAcquire(), 'function', 'no options: nothing limited');
});
