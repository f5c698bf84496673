import { test } from './harness.js';

/** Runs `count` tasks through `limiter.run`, tracking concurrency as the
 * tasks themselves see it (globally and per key). */
async function trackCaps(limiter, { count, keys, sleep, hold = 2 }) {
  let running = 0;
  let maxRunning = 0;
  const perKey = new Map();
  const maxPerKey = new Map();
  const tasks = [];
  for (let i = 0; i < count; i++) {
    const key = `k${i % keys}`;
    tasks.push(
      limiter.run(async () => {
        running += 1;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        maxRunning = Math.max(maxRunning, running);
        maxPerKey.set(key, Math.max(maxPerKey.get(key) ?? 0, perKey.get(key)));
        await sleep(hold);
        running -= 1;
        perKey.set(key, perKey.get(key) - 1);
        return i;
      }, { key }),
    );
  }
  const results = await Promise.all(tasks);
  return { results, maxRunning, maxPerKey: Math.max(...maxPerKey.values()) };
}

test('limiter: global cap is never exceeded and is reached', async ({ weir, assert, sleep }) => {
  const limiter = new weir.Limiter({ concurrency: 3 });
  const { results, maxRunning } = await trackCaps(limiter, { count: 24, keys: 4, sleep });
  assert.equal(maxRunning, 3, 'max concurrent tasks');
  assert.deepEqual(results, Array.from({ length: 24 }, (_, i) => i));
  assert.deepEqual(
    [limiter.stats().inFlight, limiter.stats().queued, limiter.stats().keys],
    [0, 0, 0],
    'nothing left behind',
  );
});

test('limiter: per-key cap is never exceeded under a larger global cap', async ({ weir, assert, sleep }) => {
  const limiter = new weir.Limiter({ concurrency: 6, perKey: 2 });
  const { maxRunning, maxPerKey } = await trackCaps(limiter, { count: 30, keys: 5, sleep });
  assert.atMost(maxRunning, 6, 'global');
  assert.equal(maxPerKey, 2, 'max per key');
  assert.equal(limiter.stats().inFlight, 0);
});

test('limiter: FIFO within a key', async ({ weir, assert, sleep }) => {
  const limiter = new weir.Limiter({ perKey: 1 });
  const order = [];
  await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      limiter.run(async () => {
        order.push(i);
        await sleep(i % 3);
      }, { key: 'same' }),
    ),
  );
  assert.deepEqual(order, Array.from({ length: 12 }, (_, i) => i));
});

test('limiter: a saturated key does not block other keys', async ({ weir, assert, deferred, settle }) => {
  const limiter = new weir.Limiter({ concurrency: 4, perKey: 1 });
  const holdA = deferred();
  const a1 = limiter.run(() => holdA.promise, { key: 'a' });
  let a2Started = false;
  const a2 = limiter.run(() => {
    a2Started = true;
  }, { key: 'a' });
  let bStarted = false;
  const b = limiter.run(() => {
    bStarted = true;
    return 'b';
  }, { key: 'b' });
  assert.equal(await b, 'b');
  assert.ok(bStarted && !a2Started, 'b ran while a was saturated and a2 still queued');
  assert.equal(limiter.stats().queued, 1, 'a2 is the only waiter');
  holdA.resolve();
  await Promise.all([a1, a2]);
  await settle();
  assert.ok(a2Started);
});

test('limiter: run resolves with the result and rejects with the error of fn', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ concurrency: 1 });
  assert.equal(await limiter.run(() => 42), 42);
  const boom = new Error('boom');
  await assert.rejects(limiter.run(async () => { throw boom; }), (e) => assert.equal(e, boom));
  await assert.rejects(limiter.run(() => { throw boom; }), (e) => assert.equal(e, boom));
  assert.equal(limiter.stats().inFlight, 0, 'permits released after errors');
});

test('limiter: abort while queued rejects with the reason and frees the place', async ({ weir, assert, deferred, settle }) => {
  const limiter = new weir.Limiter({ concurrency: 1, maxQueue: 1 });
  const hold = deferred();
  const first = limiter.run(() => hold.promise);
  const controller = new AbortController();
  let ran = false;
  const queued = limiter.run(() => { ran = true; }, { signal: controller.signal });
  await settle();
  assert.equal(limiter.stats().queued, 1);
  const reason = new Error('stop waiting');
  controller.abort(reason);
  await assert.rejects(queued, (e) => assert.equal(e, reason, 'rejects with the signal reason'));
  assert.equal(limiter.stats().queued, 0, 'the queue place is free');
  // The freed place can be taken (maxQueue is 1).
  const next = limiter.run(() => 'next');
  hold.resolve();
  await first;
  assert.equal(await next, 'next');
  await settle();
  assert.ok(!ran, 'aborted work never ran');
  assert.equal(limiter.stats().inFlight, 0);
});

test('limiter: a waiter aborted by work admitted in the same turn hands back its permit, not to a newcomer', async ({ weir, assert, settle }) => {
  // Two waits are admitted together (one wake-up). The first one's work aborts
  // the second (already admitted, not yet handed over) and queues new work on
  // its own busy key. The aborted wait's permit must be released, never passed
  // to the newcomer: the newcomer must run on its own key's permit.
  const limiter = new weir.Limiter({ concurrency: 3, perKey: 1 });
  const holdA = await limiter.acquire({ key: 'a' });
  const holdB = await limiter.acquire({ key: 'b' });
  const controller = new AbortController();
  const reason = new Error('stop');
  const waitB = limiter.acquire({ key: 'b', signal: controller.signal });
  let later;
  let bWasFree;
  const first = limiter.run(() => {
    controller.abort(reason);
    later = limiter.run(() => {
      const probe = limiter.tryAcquire({ key: 'b' });
      bWasFree = probe !== null;
      probe?.();
      return 'later';
    }, { key: 'a' });
    return 'first';
  }, { key: 'a' });
  await settle();
  assert.equal(limiter.stats().queued, 2);
  holdA();
  holdB();
  assert.equal(await first, 'first');
  await assert.rejects(waitB, (e) => assert.equal(e, reason, 'rejects with the signal reason'));
  assert.equal(await later, 'later');
  assert.ok(bWasFree, "key 'b' was free while the newcomer ran on key 'a'");
  await settle();
  assert.deepEqual([limiter.stats().inFlight, limiter.stats().queued], [0, 0], 'nothing left behind');
});

test('limiter: an already aborted signal rejects without running', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ concurrency: 1 });
  const reason = new Error('already');
  let ran = false;
  await assert.rejects(
    limiter.run(() => { ran = true; }, { signal: AbortSignal.abort(reason) }),
    (e) => assert.equal(e, reason),
  );
  assert.ok(!ran);
  assert.equal(limiter.stats().inFlight, 0);
});

test('limiter: abort while running rejects at once; the permit is held until fn settles', async ({ weir, assert, deferred }) => {
  const limiter = new weir.Limiter({ concurrency: 1 });
  const controller = new AbortController();
  const stubborn = deferred();
  const running = limiter.run(() => stubborn.promise, { signal: controller.signal });
  await Promise.resolve();
  const reason = new Error('abort running');
  controller.abort(reason);
  await assert.rejects(running, (e) => assert.equal(e, reason));
  assert.equal(limiter.stats().inFlight, 1, 'fn ignored the signal: its permit is still held');
  stubborn.resolve();
  await stubborn.promise;
  await Promise.resolve();
  assert.equal(limiter.stats().inFlight, 0, 'released once fn settled');

  // A cooperative fn sees the signal.
  const c2 = new AbortController();
  let sawAbort = false;
  const coop = limiter.run(({ signal }) => new Promise((_, reject) => {
    signal.addEventListener('abort', () => { sawAbort = true; reject(signal.reason); });
  }), { signal: c2.signal });
  await Promise.resolve();
  c2.abort(reason);
  await assert.rejects(coop, (e) => assert.equal(e, reason));
  assert.ok(sawAbort, 'fn received the signal');
  await Promise.resolve();
  assert.equal(limiter.stats().inFlight, 0);
});

test('limiter: maxQueue rejects beyond the queue with QueueFullError', async ({ weir, assert, deferred }) => {
  const limiter = new weir.Limiter({ concurrency: 1, maxQueue: 2 });
  const hold = deferred();
  const running = limiter.run(() => hold.promise);
  const waiting = [limiter.run(() => 1), limiter.run(() => 2)];
  await assert.rejects(limiter.run(() => 3), (e) => {
    assert.matchesError(e, weir.QueueFullError);
    assert.equal(e.name, 'QueueFullError');
    assert.ok(/maxQueue = 2/.test(e.message), e.message);
  });
  // The same class from acquire (a wait parked in wasm) and with a signal.
  await assert.rejects(limiter.acquire(), (e) => assert.matchesError(e, weir.QueueFullError));
  await assert.rejects(limiter.run(() => 4, { signal: new AbortController().signal }),
    (e) => assert.matchesError(e, weir.QueueFullError));
  hold.resolve();
  await running;
  assert.deepEqual(await Promise.all(waiting), [1, 2]);
});

test('limiter: a cost above the concurrency cap is a RangeError, not a hang', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ concurrency: 2 });
  await assert.rejects(limiter.run(() => 0, { cost: 3 }), (e) =>
    assert.matchesError(e, RangeError, /^weir: cost 3 exceeds the concurrency limit 2$/));
  assert.equal(limiter.stats().inFlight, 0);
});

test('limiter: a cost above the rate burst is a RangeError naming both', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ rate: { limit: 2, interval: 1000 } });
  await assert.rejects(limiter.run(() => 0, { cost: 3 }), (e) =>
    assert.matchesError(e, RangeError, /^weir: cost 3 exceeds the rate quota's burst 2$/));
});

test('limiter: raising limits wakes waiters; lowering revokes nothing', async ({ weir, assert, deferred, settle }) => {
  const limiter = new weir.Limiter({ concurrency: 1 });
  const hold = deferred();
  const first = limiter.run(() => hold.promise);
  let secondRan = false;
  const second = limiter.run(() => { secondRan = true; });
  await settle();
  assert.ok(!secondRan);
  limiter.setLimits({ concurrency: 2 });
  await second;
  assert.ok(secondRan, 'raised cap admitted the waiter');
  assert.equal(limiter.stats().concurrency, 2);
  const release = await limiter.acquire();
  limiter.setLimits({ concurrency: 1 });
  assert.equal(limiter.stats().inFlight, 2, 'held permits survive a lower cap');
  assert.equal(limiter.tryAcquire(), null, 'but no new one fits');
  release();
  hold.resolve();
  await first;
  assert.equal(limiter.stats().inFlight, 0);
});

test('limiter: acquire/tryAcquire give idempotent, disposable release functions', async ({ weir, assert }) => {
  const limiter = new weir.Limiter({ concurrency: 2 });
  const a = await limiter.acquire({ key: 'x' });
  const b = limiter.tryAcquire({ key: 'y' });
  assert.equal(typeof b, 'function');
  assert.equal(limiter.tryAcquire({ key: 'z' }), null);
  a();
  a();
  assert.equal(limiter.stats().inFlight, 1, 'double release returned one permit only');
  const dispose = Symbol.dispose ?? Symbol.for('Symbol.dispose');
  assert.equal(typeof b[dispose], 'function');
  b[dispose]();
  assert.equal(limiter.stats().inFlight, 0);
});

test('limiter: per-key rate bounds admissions per window (upper bound)', async ({ weir, assert, sleep }) => {
  // 2 per 40 ms, burst 2, plus a global 3 per second: within ~100 ms at most 3 start.
  const limiter = new weir.Limiter({
    perKeyRate: { limit: 2, interval: 40 },
    rate: { limit: 3, interval: 1000 },
  });
  let started = 0;
  const begin = performance.now();
  for (let i = 0; i < 10; i++) {
    if (limiter.tryAcquire({ key: 'k' })) {
      started += 1;
    }
  }
  // Upper bounds allow for the loop itself taking time (burst + rate * window).
  assert.ok(started >= 2, 'a fresh bucket admits its burst at once');
  assert.atMost(started, 2 + Math.floor((performance.now() - begin) / 20), 'per-key burst');
  await sleep(100);
  for (let i = 0; i < 10; i++) if (limiter.tryAcquire({ key: 'k' })) started += 1;
  assert.ok(started >= 3, 'the key refilled, the global quota had one left');
  assert.atMost(started, 3 + Math.floor((performance.now() - begin) / 333), 'the global 3/s quota caps the total');
});

test('limiter: hundreds of queued runs, admitted out of order across keys, each settle with their own outcome', async ({ weir, assert, deferred, settle }) => {
  const limiter = new weir.Limiter({ concurrency: 2, perKey: 1 });
  const holdA = deferred();
  const holdB = deferred();
  const first = [limiter.run(() => holdA.promise, { key: 'a' }), limiter.run(() => holdB.promise, { key: 'b' })];
  const keyOf = (i) => (i % 3 === 0 ? 'a' : 'b');
  const queued = [];
  for (let i = 0; i < 600; i++) {
    queued.push(
      limiter.run(() => {
        if (i % 7 === 0) throw new Error(`sync ${i}`);
        if (i % 11 === 0) return Promise.reject(new Error(`async ${i}`));
        return i % 5 === 0 ? Promise.resolve(i) : i;
      }, { key: keyOf(i) }),
    );
  }
  const outcome = (i) =>
    i % 7 === 0 ? { status: 'rejected', message: `sync ${i}` }
      : i % 11 === 0 ? { status: 'rejected', message: `async ${i}` }
        : { status: 'fulfilled', value: i };
  const seen = (r) => (r.status === 'fulfilled' ? { status: r.status, value: r.value } : { status: r.status, message: r.reason.message });
  await settle();
  assert.equal(limiter.stats().queued, 600);
  // Key b's waiters (two of every three) go first while key a stays held.
  holdB.resolve('b');
  const bs = queued.filter((_, i) => keyOf(i) === 'b');
  const bDone = await Promise.allSettled(bs);
  const bIndexes = queued.map((_, i) => i).filter((i) => keyOf(i) === 'b');
  assert.deepEqual(bDone.map(seen), bIndexes.map(outcome), "key b's runs, each its own outcome");
  assert.equal(limiter.stats().queued, 200, "key a's runs still wait");
  holdA.resolve('a');
  const all = await Promise.allSettled(queued);
  assert.deepEqual(all.map(seen), queued.map((_, i) => outcome(i)), 'every run, its own outcome');
  assert.deepEqual(await Promise.all(first), ['a', 'b']);
  assert.deepEqual([limiter.stats().inFlight, limiter.stats().queued], [0, 0], 'nothing left behind');
});

test('limiter: a key waiting for its per-key rate does not hold up other keys (no head-of-line blocking)', async ({ weir, assert, sleep }) => {
  const l = new weir.Limiter({ concurrency: 3, perKeyRate: { limit: 1, interval: 1000 } });
  const waiting = [];
  for (const k of 'ABC') {
    l.run(async () => {}, { key: k });
    waiting.push(l.run(async () => {}, { key: k }).catch(() => {}));
  }
  await sleep(20);
  assert.equal(l.stats().inFlight, 0, 'the rate waiters hold no permit');
  const started = performance.now();
  await l.run(async () => {}, { key: 'D' });
  assert.ok(performance.now() - started < 500, `D waited ${performance.now() - started} ms behind other keys' rate waits`);
  l.pause('A', 0); // nothing; the waiters finish on their own in ~1 s
  await Promise.all(waiting);
});

/** Count the host `setTimeout` calls made while `fn` runs for `ms`. */
async function timersArmedDuring(ms, fn, sleep) {
  const real = globalThis.setTimeout;
  let armed = 0;
  globalThis.setTimeout = (...args) => {
    armed += 1;
    return real(...args);
  };
  try {
    const done = fn();
    await new Promise((resolve) => real(resolve, ms));
    return { armed, done };
  } finally {
    globalThis.setTimeout = real;
  }
}

test('limiter: a 30-day quota interval and a 25-day pause sleep on one timer, not a re-arm per millisecond', async ({ weir, assert, sleep }) => {
  const DAY = 86_400_000;
  const l = new weir.Limiter({ rate: { limit: 1, interval: 30 * DAY } });
  await l.run(async () => {});
  const ac = new AbortController();
  const quota = await timersArmedDuring(100, () => l.run(async () => {}, { signal: ac.signal }).catch((e) => e), sleep);
  assert.ok(quota.armed <= 3, `30-day quota wait: ${quota.armed} timers armed in 100 ms`);
  ac.abort(new Error('done'));
  assert.equal((await quota.done).message, 'done');
  const paused = new weir.Limiter({ concurrency: 1 });
  paused.pause('k', 25 * DAY);
  const ac2 = new AbortController();
  const pause = await timersArmedDuring(100, () => paused.run(async () => {}, { key: 'k', signal: ac2.signal }).catch((e) => e), sleep);
  assert.ok(pause.armed <= 3, `25-day pause: ${pause.armed} timers armed in 100 ms`);
  ac2.abort(new Error('done'));
  assert.equal((await pause.done).message, 'done');
  assert.equal(paused.stats().queued, 0);
});
