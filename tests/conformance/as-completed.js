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

// ordered: true — input order through the core's reorder window.

test('asCompleted ordered: results come in input order whatever the completion order', async ({ weir, assert, deferred, settle }) => {
  const gates = Array.from({ length: 8 }, () => deferred());
  const out = [];
  const run = (async () => {
    for await (const v of weir.limitedAsCompleted(gates.map((_, i) => i), (i) => gates[i].promise.then(() => i * 10), {
      concurrency: 8, ordered: true, failFast: true,
    })) out.push(v);
  })();
  await settle();
  for (let i = 7; i >= 1; i--) gates[i].resolve(); // finish in reverse order
  await settle();
  assert.deepEqual(out, [], 'nothing is yielded before the first item finishes');
  gates[0].resolve();
  await run;
  assert.deepEqual(out, [0, 10, 20, 30, 40, 50, 60, 70]);
});

test('asCompleted ordered: a failure keeps its place as a record; with failFast it ends the iteration in order', async ({ weir, assert, deferred, settle }) => {
  const boom = new Error('item 1');
  const mapper = (gates) => (i) => gates[i].promise.then(() => {
    if (i === 1) throw boom;
    return i;
  });
  let gates = Array.from({ length: 4 }, () => deferred());
  const records = [];
  const run = (async () => {
    for await (const r of weir.limitedAsCompleted([0, 1, 2, 3], mapper(gates), { concurrency: 4, ordered: true })) records.push(r);
  })();
  await settle();
  for (const i of [3, 1, 2, 0]) gates[i].resolve();
  await run;
  assert.deepEqual(records.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  assert.equal(records[1].reason, boom);

  gates = Array.from({ length: 4 }, () => deferred());
  const { state, source } = countingSource(4);
  const values = [];
  const failing = (async () => {
    for await (const v of weir.limitedAsCompleted(source, mapper(gates), { concurrency: 2, ordered: true, failFast: true })) values.push(v);
  })();
  await settle();
  gates[1].resolve(); // the failure finishes first; item 0 is still due before it
  await settle();
  assert.deepEqual(values, []);
  gates[0].resolve();
  await assert.rejects(failing, (e) => assert.equal(e, boom));
  assert.deepEqual(values, [0]);
  assert.ok(state.closed, 'the source was closed');
});

for (const kind of ['sync', 'async']) {
  test(`asCompleted ordered: a slow head stops the pull at the reorder bound (${kind} source); nothing is lost`, async ({ weir, assert, deferred, settle }) => {
    const { state, source } = countingSource(12, { async: kind === 'async' });
    const head = deferred();
    let running = 0;
    let maxRunning = 0;
    let maxHeld = 0;
    const out = [];
    const mapper = async (i) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      maxHeld = Math.max(maxHeld, state.pulled - out.length);
      if (i === 0) await head.promise;
      running -= 1;
      return i;
    };
    const run = (async () => {
      for await (const v of weir.limitedAsCompleted(source, mapper, { concurrency: 3, ordered: true, failFast: true })) {
        maxHeld = Math.max(maxHeld, state.pulled - out.length);
        out.push(v);
      }
    })();
    await settle(6);
    // Items 1 and 2 finished and hold their places behind item 0: the
    // window (3) is full, so nothing more is pulled and nothing is yielded.
    assert.equal(state.pulled, 3, 'pulled while the head is slow');
    assert.deepEqual(out, []);
    head.resolve();
    await run;
    assert.deepEqual(out, Array.from({ length: 12 }, (_, i) => i));
    assert.atMost(maxRunning, 3, 'mappers in flight');
    assert.atMost(maxHeld, 3, 'pulled and not yet yielded (the reorder bound)');
  });
}

test('asCompleted ordered: break on limiter.asCompleted closes the source, aborts the running and returns every permit', async ({ weir, assert, settle }) => {
  const limiter = new weir.Limiter({ concurrency: 3 });
  const { state, source } = countingSource(100);
  const signals = [];
  const out = [];
  for await (const v of limiter.asCompleted(source, (i, { signal }) => {
    signals.push(signal);
    if (i === 0) return i;
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }, { ordered: true, failFast: true })) {
    out.push(v);
    break;
  }
  await settle();
  assert.deepEqual(out, [0]);
  assert.ok(state.closed, 'the source was closed');
  assert.atMost(state.pulled, 4);
  assert.ok(signals.slice(1).every((s) => s.aborted), 'running mappers were aborted');
  assert.equal(limiter.stats().inFlight, 0, 'every permit came back');
});

// Keyed look-ahead — a `key` function with `perKey`: the core's Lookahead.

test('asCompleted keyed: a slow key never blocks another key', async ({ weir, assert, deferred, sleep }) => {
  const slow = deferred();
  const items = ['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3', 'b4', 'b5'];
  const running = new Map();
  let total = 0;
  let maxTotal = 0;
  let maxPerKey = 0;
  const it = weir.limitedAsCompleted(items, async (s) => {
    const key = s[0];
    running.set(key, (running.get(key) ?? 0) + 1);
    total += 1;
    maxTotal = Math.max(maxTotal, total);
    maxPerKey = Math.max(maxPerKey, running.get(key));
    if (key === 'a') await slow.promise;
    running.set(key, running.get(key) - 1);
    total -= 1;
    return s;
  }, { concurrency: 2, perKey: 1, key: (s) => s[0], lookahead: 4, failFast: true })[Symbol.asyncIterator]();
  const first = [];
  // Every b finishes while a0 still runs and a1..a3 wait in the look-ahead
  // buffer (without it they would queue in the window and b0 would never
  // be pulled: this hangs).
  await bounded((async () => {
    for (let i = 0; i < 6; i++) first.push((await it.next()).value);
  })(), 2_000, 'the b items behind a saturated key a', sleep);
  assert.deepEqual(first, ['b0', 'b1', 'b2', 'b3', 'b4', 'b5']);
  slow.resolve();
  const rest = [];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
  assert.deepEqual(rest, ['a0', 'a1', 'a2', 'a3'], "a key's items start in input order");
  assert.atMost(maxTotal, 2, 'mappers in flight');
  assert.atMost(maxPerKey, 1, 'mappers in flight per key');
});

for (const kind of ['sync', 'async']) {
  test(`asCompleted keyed: a full look-ahead buffer stops the pull (${kind} source); nothing is lost`, async ({ weir, assert, deferred, settle }) => {
    const { state, source } = countingSource(10, { async: kind === 'async' });
    const gates = Array.from({ length: 10 }, () => deferred());
    let started = 0;
    const out = [];
    const run = (async () => {
      for await (const v of weir.limitedAsCompleted(source, (i) => {
        started += 1;
        return gates[i].promise.then(() => i);
      }, { concurrency: 4, perKey: 1, key: () => 'one', lookahead: 2, failFast: true })) out.push(v);
    })();
    await settle(6);
    // One runs (perKey 1), two wait in the buffer (lookahead 2): the pull stops.
    assert.equal(state.pulled, 3, 'pulled');
    assert.equal(started, 1, 'started');
    for (let i = 0; i < 10; i++) {
      gates[i].resolve();
      await settle();
      assert.atMost(state.pulled - started, 2, 'items waiting in the buffer');
    }
    await run;
    assert.deepEqual(out, Array.from({ length: 10 }, (_, i) => i));
  });
}

test('asCompleted keyed: break closes the source, aborts the running and never starts the buffered', async ({ weir, assert, settle }) => {
  const { state, source } = countingSource(50);
  const signals = [];
  const started = [];
  for await (const r of weir.limitedAsCompleted(source, (i, { signal }) => {
    started.push(i);
    signals.push(signal);
    if (i === 1) return i;
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }, { concurrency: 3, perKey: 1, key: (i) => (i < 2 ? `k${i}` : 'k0'), lookahead: 3 })) {
    assert.equal(r.value, 1);
    break;
  }
  await settle();
  assert.ok(state.closed, 'the source was closed');
  const pulledAtBreak = state.pulled;
  assert.atMost(pulledAtBreak, 6, 'at most 3 running + 3 buffered');
  assert.ok(signals.filter((_, n) => started[n] !== 1).every((s) => s.aborted), 'running mappers were aborted');
  await settle();
  assert.equal(state.pulled, pulledAtBreak, 'no pulls after break');
  assert.deepEqual(started.filter((i) => i >= 2).length, 0, 'buffered items of the saturated key never started');
});

test('asCompleted keyed: a throwing key function gives a rejected record and the rest go on', async ({ weir, assert }) => {
  const records = [];
  for await (const r of weir.limitedAsCompleted([1, 2, 3, 4], async (i) => i, {
    concurrency: 2, perKey: 1, key: (i) => {
      if (i === 3) throw new Error('no key for 3');
      return `k${i % 2}`;
    },
  })) records.push(r);
  assert.deepEqual(records.filter((r) => r.status === 'fulfilled').map((r) => r.value).sort(), [1, 2, 4]);
  assert.equal(records.find((r) => r.status === 'rejected')?.reason.message, 'no key for 3');
});

test('asCompleted: ordered and lookahead options are checked, naming the option', ({ weir, assert }) => {
  const run = (opts) => () => weir.limitedAsCompleted([1], (x) => x, { concurrency: 2, ...opts });
  assert.throws(run({ ordered: 'yes' }), TypeError, /'ordered' must be a boolean/);
  assert.throws(run({ lookahead: 4 }), TypeError, /'lookahead' needs a 'key' function and 'perKey'/);
  assert.throws(run({ lookahead: 4, key: 'k', perKey: 1 }), TypeError, /'lookahead' needs a 'key' function/);
  assert.throws(run({ lookahead: 4, ordered: true, key: (x) => x, perKey: 1 }), TypeError, /'lookahead' does not apply with 'ordered: true'/);
  assert.throws(run({ lookahead: 0, key: (x) => x, perKey: 1 }), RangeError, /'lookahead' must be a whole number from 1/);
  const limiter = new weir.Limiter({ concurrency: 2 });
  assert.throws(() => limiter.asCompleted([1], (x) => x, { lookahead: 2 }), TypeError, /unknown option 'lookahead'/);
});

test('asCompleted ordered: items that queue in a shared limiter (per-key caps) still come back in input order', async ({ weir, assert, sleep }) => {
  const limiter = new weir.Limiter({ concurrency: 4, perKey: 1 });
  let running = 0;
  let max = 0;
  const out = [];
  for await (const v of limiter.asCompleted(Array.from({ length: 12 }, (_, i) => i), async (i) => {
    running += 1;
    max = Math.max(max, running);
    await sleep((7 * i) % 3);
    running -= 1;
    return i;
  }, { key: (i) => `k${i % 2}`, ordered: true, failFast: true })) out.push(v);
  assert.deepEqual(out, Array.from({ length: 12 }, (_, i) => i));
  assert.atMost(max, 2, 'one per key, two keys');
  assert.equal(limiter.stats().inFlight, 0);
});

test('asCompleted: a reorder window or look-ahead too large to allocate is a RangeError, and the wasm lives on', async ({ weir, assert }) => {
  const max = 0xffffffff;
  assert.throws(() => weir.limitedAsCompleted([1], (x) => x, { concurrency: max, ordered: true }), RangeError, /'concurrency' \(the reorder window\) is too large to allocate/);
  assert.throws(() => weir.limitedAsCompleted([1], (x) => x, { concurrency: 2, perKey: 1, key: (x) => x, lookahead: max }), RangeError, /'lookahead' \(the look-ahead buffer\) is too large to allocate/);
  const out = [];
  for await (const v of weir.limitedAsCompleted([3, 1, 2], async (x) => x, { concurrency: 2, ordered: true, failFast: true })) out.push(v);
  assert.deepEqual(out, [3, 1, 2]);
});

for (const mode of ['ordered', 'keyed']) {
  test(`asCompleted ${mode}: an outer abort ends the iteration with its reason, closes the source and aborts the running`, async ({ weir, assert, settle }) => {
    const { state, source } = countingSource(100);
    const controller = new AbortController();
    const reason = new Error('stop');
    const signals = [];
    const opts = mode === 'ordered'
      ? { concurrency: 3, ordered: true, failFast: true, signal: controller.signal }
      : { concurrency: 3, perKey: 1, key: () => 'one', lookahead: 2, failFast: true, signal: controller.signal };
    const seen = [];
    const run = (async () => {
      for await (const v of weir.limitedAsCompleted(source, (i, { signal }) => {
        signals.push(signal);
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      }, opts)) seen.push(v);
    })();
    await settle();
    assert.equal(state.pulled, 3, 'pulled before the abort');
    controller.abort(reason);
    await assert.rejects(run, (e) => assert.equal(e, reason));
    await settle();
    assert.deepEqual(seen, []);
    assert.ok(state.closed, 'the source was closed');
    assert.equal(state.pulled, 3, 'no pulls after the abort');
    assert.ok(signals.length >= 1 && signals.every((s) => s.aborted), 'running mappers were aborted');
  });
}
