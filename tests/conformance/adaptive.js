import { test } from './harness.js';

// The adaptive global cap (`concurrency: { adaptive }`) and per-key caps
// (`perKey: { adaptive }`): the rule lives in
// core (weir::adaptive, tested against a simulated server there); these
// cases check the JS surface feeds it and shows it.

test('adaptive: 429/503 reports lower the cap; held work is not revoked', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ concurrency: { adaptive: { min: 1, max: 100, initial: 10 } } });
  assert.equal(limiter.stats().concurrency, 10);
  const held = [];
  for (let i = 0; i < 10; i++) held.push(limiter.tryAcquire());
  assert.equal(limiter.tryAcquire(), null, 'the initial limit is the cap');
  assert.equal(limiter.report({ rtt: 5, inFlight: 10, outcome: '429' }), 8);
  const s = limiter.stats();
  assert.deepEqual([s.concurrency, s.adaptive.limit, s.inFlight], [8, 8, 10]);
  held.pop()();
  held.pop()();
  assert.equal(limiter.tryAcquire(), null, '8 in flight under a cap of 8');
  held.pop()();
  const one = limiter.tryAcquire();
  assert.ok(one !== null, 'room again below the lowered cap');
  one();
  for (const release of held) release();
  // A report with no adaptive cap changes nothing.
  assert.equal(new weir.Limiter({ concurrency: 4 }).report({ rtt: 1, inFlight: 1, outcome: '503' }), undefined);
});

test('adaptive: run times its task and reports 429/503 errors as overload', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ concurrency: { adaptive: { initial: 20, algorithm: 'aimd' } } });
  const busy = Object.assign(new Error('busy'), { status: 503 });
  let caught;
  try {
    await limiter.run(async () => {
      throw busy;
    });
  } catch (error) {
    caught = error;
  }
  assert.equal(caught, busy, 'the error passes through');
  assert.equal(limiter.stats().adaptive.limit, 18, '20 × 0.9');
  assert.equal(await limiter.run(async () => 7), 7);
  const s = limiter.stats().adaptive;
  assert.ok(s.minRtt >= 0 && s.sampleRtt >= 0, 'served tasks carry RTTs');
  assert.equal(limiter.stats().inFlight, 0);
});

test('adaptive: options are checked and named', ({ weir, assert }) => {
  const bad = [
    [{ concurrency: { adaptive: { min: 0 } } }, RangeError, /adaptive\.min/],
    [{ concurrency: { adaptive: { min: 5, max: 4, initial: 4 } } }, RangeError, /adaptive\.max/],
    [{ concurrency: { adaptive: { algorithm: 'vegas' } } }, RangeError, /algorithm/],
    [{ concurrency: { adaptive: { slow: true } } }, TypeError, /unknown option 'slow'/],
    [{ concurrency: { fixed: 3 } }, TypeError, /unknown option 'fixed'/],
  ];
  for (const [opts, type, pattern] of bad) {
    assert.throws(() => new weir.Limiter(opts), type, pattern, JSON.stringify(opts));
  }
  const limiter = new weir.Limiter({ concurrency: { adaptive: {} } });
  assert.throws(() => limiter.report({ rtt: 1, inFlight: 1, outcome: 'teapot' }), RangeError, /outcome/);
});

test("adaptive per key: a report lowers its key's cap only; a task above its cap runs alone", async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ perKey: { adaptive: { min: 1, max: 100, initial: 10 } } });
  assert.equal(limiter.report({ key: 'a', rtt: 5, inFlight: 10, keyInFlight: 10, outcome: '429' }), 8);
  const held = [];
  for (let i = 0; i < 20; i++) {
    const release = limiter.tryAcquire({ key: 'a' });
    if (release === null) break;
    held.push(release);
  }
  assert.equal(held.length, 8, "a's cap");
  const b = [];
  for (let i = 0; i < 10; i++) b.push(limiter.tryAcquire({ key: 'b' }));
  assert.ok(b.every((r) => r !== null), 'b keeps its own cap of 10');
  assert.equal(limiter.tryAcquire({ key: 'b' }), null);
  const s = limiter.stats();
  assert.deepEqual(Object.keys(s.perKeyAdaptive), ['a']);
  assert.equal(s.perKeyAdaptive.a.limit, 8);
  assert.equal(s.adaptive, undefined, 'no global adaptive cap');
  for (const release of [...held, ...b]) release();
  // Alone, a cost above the key's cap is admitted (never stuck).
  const big = limiter.tryAcquire({ key: 'a', cost: 9 });
  assert.ok(big !== null);
  assert.equal(limiter.tryAcquire({ key: 'a' }), null);
  big();
  assert.equal(limiter.stats().inFlight, 0);
});

test('adaptive per key: run reports under its key', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ perKey: { adaptive: { initial: 20, algorithm: 'aimd' } } });
  const busy = Object.assign(new Error('busy'), { status: 429 });
  await limiter.run(async () => {
    throw busy;
  }, { key: 'h' }).catch(() => {});
  assert.equal(limiter.stats().perKeyAdaptive.h.limit, 18, '20 × 0.9');
  assert.throws(() => new weir.Limiter({ perKey: { adaptive: { min: 0 } } }), RangeError, /perKey\.adaptive\.min/);
  assert.throws(() => new weir.Limiter({ perKey: { adaptive: { algorithm: 'x' } } }), RangeError, /perKey\.adaptive\.algorithm/);
});
