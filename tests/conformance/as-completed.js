import { test } from './harness.js';

/** A source that counts what was pulled and whether it was closed. */
function countingSource(n, { async = false } = {}) {
  const state = { pulled: 0, closed: false };
  function* sync() {
    try {
      for (let i = 0; i < n; i++) {
        state.pulled += 1;
        yield i;
      }
    } finally {
      state.closed = true;
    }
  }
  async function* asyncGen() {
    yield* sync();
  }
  return { state, source: async ? asyncGen() : sync() };
}

test('asCompleted: results arrive in completion order', async ({ weir, assert, sleep }) => {
  const delays = [30, 5, 15, 1];
  const out = [];
  for await (const v of weir.limitedAsCompleted(delays, async (ms) => {
    await sleep(ms);
    return ms;
  }, { concurrency: 4 })) {
    out.push(v.value);
  }
  assert.deepEqual(out, [1, 5, 15, 30]);
});

for (const kind of ['sync', 'async']) {
  test(`asCompleted: a ${kind} source is pulled lazily, never more than concurrency ahead`, async ({ weir, assert, sleep }) => {
    const { state, source } = countingSource(40, { async: kind === 'async' });
    let consumed = 0;
    let maxAhead = 0;
    let running = 0;
    let maxRunning = 0;
    const mapper = async (i) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      maxAhead = Math.max(maxAhead, state.pulled - consumed);
      await sleep(i % 3);
      running -= 1;
      return i * 2;
    };
    const seen = [];
    for await (const v of weir.limitedAsCompleted(source, mapper, { concurrency: 4 })) {
      maxAhead = Math.max(maxAhead, state.pulled - consumed);
      consumed += 1;
      seen.push(v.value);
      if (consumed % 7 === 0) await sleep(2); // a slow consumer must not make it pull more
    }
    assert.atMost(maxAhead, 4, 'items out of the source at once');
    assert.atMost(maxRunning, 4, 'mappers in flight');
    assert.equal(state.pulled, 40);
    assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i * 2));
  });
}

test('asCompleted: break stops pulling and aborts in-flight work', async ({ weir, assert, sleep, settle }) => {
  const { state, source } = countingSource(1000);
  const signals = [];
  const iterable = weir.limitedAsCompleted(source, (i, { signal }) => {
    signals.push(signal);
    if (i === 0) return i;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(i), 10000);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    });
  }, { concurrency: 3 });
  for await (const v of iterable) {
    assert.equal(v.value, 0);
    break;
  }
  const pulledAtBreak = state.pulled;
  assert.atMost(pulledAtBreak, 4, 'pulled at most concurrency + the one consumed');
  assert.ok(state.closed, 'the source was closed (return() called)');
  await settle();
  await sleep(5);
  assert.equal(state.pulled, pulledAtBreak, 'no pulls after break');
  const inFlight = signals.slice(1);
  assert.ok(inFlight.length >= 1, 'something was in flight');
  assert.ok(inFlight.every((s) => s.aborted), 'every in-flight mapper was aborted');
});

test('asCompleted: an outer abort signal ends the iteration with its reason', async ({ weir, assert }) => {
  const controller = new AbortController();
  const reason = new Error('outer abort');
  const out = [];
  await assert.rejects((async () => {
    for await (const v of weir.limitedAsCompleted([1, 2, 3, 4, 5, 6], async (x, { signal }) => {
      if (x === 3) controller.abort(reason);
      await new Promise((r) => setTimeout(r, 1));
      if (signal.aborted) throw signal.reason;
      return x;
    }, { concurrency: 2, signal: controller.signal })) {
      out.push(v);
    }
  })(), (e) => assert.equal(e, reason));
  assert.atMost(out.length, 3);
});

test('asCompleted: a mapper error is delivered as a record (default) or thrown (failFast: true)', async ({ weir, assert }) => {
  const boom = new Error('boom');
  const mapper = async (x) => {
    if (x === 2) throw boom;
    return x;
  };
  const records = [];
  for await (const r of weir.limitedAsCompleted([1, 2, 3], mapper, { concurrency: 1 })) records.push(r);
  assert.deepEqual(records.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual([records[0].value, records[2].value], [1, 3]);
  assert.equal(records[1].reason, boom);
  const values = [];
  await assert.rejects((async () => {
    for await (const v of weir.limitedAsCompleted([1, 2, 3], mapper, { concurrency: 1, failFast: true })) values.push(v);
  })(), (e) => assert.equal(e, boom));
  assert.deepEqual(values, [1]);
});

test('asCompleted: per-key caps apply and thunks work without a mapper', async ({ weir, assert, sleep }) => {
  const running = new Map();
  let maxPerKey = 0;
  const thunks = Array.from({ length: 12 }, (_, i) => {
    const key = `h${i % 2}`;
    const thunk = async () => {
      running.set(key, (running.get(key) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, running.get(key));
      await sleep(1);
      running.set(key, running.get(key) - 1);
      return i;
    };
    thunk.key = key;
    return thunk;
  });
  const out = [];
  for await (const v of weir.limitedAsCompleted(thunks, null, { concurrency: 6, perKey: 2, key: (t) => t.key })) out.push(v.value);
  assert.equal(out.length, 12);
  assert.atMost(maxPerKey, 2);
});

test('asCompleted: limiter.asCompleted shares the limiter caps', async ({ weir, assert, sleep }) => {
  const limiter = new weir.Limiter({ concurrency: 2 });
  let running = 0;
  let max = 0;
  const out = [];
  for await (const v of limiter.asCompleted([1, 2, 3, 4, 5], async (x) => {
    running += 1;
    max = Math.max(max, running);
    await sleep(1);
    running -= 1;
    return x;
  })) out.push(v.value);
  assert.equal(out.length, 5);
  assert.atMost(max, 2);
  assert.equal(limiter.stats().inFlight, 0);
});

test('asCompleted: a finished result is delivered while an async source is still pending', async ({ weir, assert, deferred }) => {
  const gate = deferred();
  async function* source() {
    yield 1;
    await gate.promise; // e.g. `tail -f urls | weir fetch -`: the next line has not come yet
    yield 2;
  }
  const it = weir.limitedAsCompleted(source(), async (x) => x * 10, { concurrency: 4, failFast: true })[Symbol.asyncIterator]();
  const first = await Promise.race([
    it.next(),
    new Promise((resolve) => setTimeout(() => resolve('stalled behind the source'), 2000)),
  ]);
  assert.deepEqual(first, { value: 10, done: false });
  gate.resolve();
  assert.deepEqual(await it.next(), { value: 20, done: false });
  assert.deepEqual(await it.next(), { value: undefined, done: true });
});

test('asCompleted: costs that do not divide the cap, and a constant key with a per-key cap, never exceed it or stall', async ({ weir, assert, sleep }) => {
  for (const [opts, maxRunning] of [
    [{ concurrency: 5, cost: 2 }, 2], // 2 × 2 permits of 5: the third item waits in the core queue
    [{ concurrency: 6, perKey: 4, key: 'one-host', cost: 2 }, 2],
    [{ concurrency: 8, perKey: 3, key: 'one-host' }, 3],
  ]) {
    let running = 0;
    let max = 0;
    const out = [];
    for await (const v of weir.limitedAsCompleted(Array.from({ length: 24 }, (_, i) => i), async (i) => {
      running += 1;
      max = Math.max(max, running);
      await sleep(i % 3);
      running -= 1;
      return i;
    }, opts)) out.push(v.value);
    // Item 2 is the first that has to queue (in the first two set-ups): it
    // must be let through as permits come back, not after all the others.
    if (opts.cost === 2) assert.atMost(out.indexOf(2), 12, `position of the queued item with ${JSON.stringify(opts)}`);
    assert.deepEqual(out.sort((a, b) => a - b), Array.from({ length: 24 }, (_, i) => i), JSON.stringify(opts));
    assert.equal(max, maxRunning, `most in flight at once with ${JSON.stringify(opts)}`);
  }
});

test('asCompleted: a mapper that throws synchronously gives its permit back for the next item', async ({ weir, assert, sleep }) => {
  let running = 0;
  let max = 0;
  const records = [];
  for await (const r of weir.limitedAsCompleted(Array.from({ length: 30 }, (_, i) => i), (i) => {
    if (i % 2 === 1) throw new Error(`odd ${i}`);
    running += 1;
    max = Math.max(max, running);
    return sleep(1).then(() => {
      running -= 1;
      return i;
    });
  }, { concurrency: 3 })) records.push(r);
  assert.equal(records.length, 30);
  assert.equal(records.filter((r) => r.status === 'rejected').length, 15);
  assert.deepEqual(records.filter((r) => r.status === 'fulfilled').map((r) => r.value).sort((a, b) => a - b),
    Array.from({ length: 15 }, (_, i) => i * 2));
  assert.equal(max, 3, 'the cap is reached and never exceeded');
});

test('asCompleted: after an early break on a shared limiter every permit comes back', async ({ weir, assert, deferred }) => {
  const limiter = new weir.Limiter({ concurrency: 3 });
  const gate = deferred();
  let started = 0;
  const it = limiter.asCompleted(Array.from({ length: 10 }, (_, i) => i), async (i, { signal }) => {
    started += 1;
    if (i === 0) return i;
    await new Promise((resolve) => {
      gate.promise.then(resolve);
      signal.addEventListener('abort', resolve, { once: true });
    });
    return i;
  });
  for await (const _ of it) break; // two items still running when it closes
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(limiter.stats().inFlight, 0, 'aborted items gave their permits back');
  assert.ok(started >= 3);
  gate.resolve();
});

/** An async source that yields `a` and then never settles its next step. */
async function* stalled() {
  yield 'a';
  await new Promise(() => {});
}

/** `promise`, or a rejection naming `what` after `ms` (a hang fails the case). */
function bounded(promise, ms, what, sleep) {
  return Promise.race([promise, sleep(ms).then(() => { throw new Error(`${what} hung for ${ms} ms`); })]);
}

test('asCompleted: break ends at once on a stalled async source (its read-ahead pull never settles)', async ({ weir, assert, sleep }) => {
  const seen = [];
  await bounded((async () => {
    for await (const r of weir.limitedAsCompleted(stalled(), (x) => x, { concurrency: 4 })) {
      seen.push(r.value);
      break;
    }
  })(), 2_000, 'break', sleep);
  assert.deepEqual(seen, ['a']);
});

test('asCompleted: an abort ends the stream on a stalled async source', async ({ weir, assert, sleep }) => {
  const ac = new AbortController();
  const seen = [];
  setTimeout(() => ac.abort(new Error('stop')), 50);
  const error = await bounded((async () => {
    try {
      for await (const r of weir.limitedAsCompleted(stalled(), (x) => x, { concurrency: 4, signal: ac.signal })) {
        seen.push(r.value);
      }
    } catch (e) {
      return e;
    }
    return null;
  })(), 2_000, 'abort', sleep);
  assert.deepEqual(seen, ['a']);
  assert.equal(error?.message, 'stop');
});
