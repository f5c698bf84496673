// Host-neutral guard cases: they call the guarded handler directly with
// fetch-API objects only (Request, Response, ReadableStream, Headers), so
// Node, Deno and workerd run the very same list (through the conformance
// harness's `runCase`). No timing assertions: holds are released by the case.

/** @type {{ name: string, fn: (ctx: object) => Promise<void> }[]} */
export const guardCases = [];

function test(name, fn) {
  if (guardCases.some((c) => c.name === name)) throw new Error(`duplicate case name: ${name}`);
  guardCases.push({ name: `guard: ${name}`, fn });
}

const from = (hostname) => ({ remoteAddr: { hostname, port: 1, transport: 'tcp' } });
const get = (path = '/') => new Request(`http://127.0.0.1${path}`);

/** A handler whose calls wait on a gate the case opens; counts concurrency. */
function heldHandler(deferred) {
  const gate = deferred();
  const state = { running: 0, peak: 0, calls: 0, gate };
  const handler = async () => {
    state.calls += 1;
    state.running += 1;
    state.peak = Math.max(state.peak, state.running);
    await gate.promise;
    state.running -= 1;
    return new Response('done');
  };
  return { handler, state };
}

test('over the concurrency cap: 429 at once with Retry-After and a small body', async ({ weir, assert, deferred, settle }) => {
  const { handler, state } = heldHandler(deferred);
  const guarded = weir.guard(handler, { concurrency: 3 });
  const admitted = [1, 2, 3].map(() => guarded(get(), from('a')));
  await settle();
  assert.equal(state.running, 3);
  for (let i = 0; i < 5; i++) {
    const res = await guarded(get(), from('b'));
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('Retry-After'), '1');
    assert.equal(res.headers.get('RateLimit-Limit'), null, 'no RateLimit headers without a rate');
    assert.ok((await res.text()).startsWith('Too Many Requests'));
  }
  assert.equal(state.calls, 3, 'rejected requests never reach the handler');
  assert.equal(guarded.stats().inFlight, 3);
  state.gate.resolve();
  for (const res of await Promise.all(admitted)) assert.equal(await res.text(), 'done');
  assert.equal(guarded.stats().inFlight, 0);
  assert.equal(state.peak, 3);
});

test('perKey caps each client; other clients still pass', async ({ weir, assert, deferred, settle }) => {
  const { handler, state } = heldHandler(deferred);
  const guarded = weir.guard(handler, { perKey: 1 });
  const a = guarded(get(), from('10.0.0.1'));
  await settle();
  assert.equal((await guarded(get(), from('10.0.0.1'))).status, 429);
  const b = guarded(get(), from('10.0.0.2'));
  await settle();
  assert.equal(state.running, 2);
  state.gate.resolve();
  assert.equal((await a).status, 200);
  assert.equal((await b).status, 200);
  await (await a).text();
  await (await b).text();
  assert.deepEqual([guarded.stats().inFlight, guarded.stats().keys], [0, 0]);
});

test('rate: Retry-After is the ceil of the exact not-until; RateLimit-* on every response', async ({ weir, assert }) => {
  const guarded = weir.guard(() => new Response('ok'), { perKeyRate: { limit: 2, interval: 20_000 } });
  const first = await guarded(get(), from('c'));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('RateLimit-Limit'), '2');
  assert.equal(first.headers.get('RateLimit-Remaining'), '1');
  assert.equal(first.headers.get('RateLimit-Reset'), '10', 'one emission interval (10 s) to full');
  assert.equal(first.headers.get('RateLimit-Policy'), '2;w=20');
  const second = await guarded(get(), from('c'));
  assert.equal(second.headers.get('RateLimit-Remaining'), '0');
  assert.equal(second.headers.get('RateLimit-Reset'), '20');
  const denied = await guarded(get(), from('c'));
  assert.equal(denied.status, 429);
  // The next unit is due 10 s after the first (minus the few ms elapsed): ceil = 10.
  assert.equal(denied.headers.get('Retry-After'), '10');
  assert.equal(denied.headers.get('RateLimit-Remaining'), '0');
  assert.equal(denied.headers.get('RateLimit-Limit'), '2');
  assert.equal(denied.headers.get('RateLimit-Reset'), '20');
  // Another client has its own bucket.
  const other = await guarded(get(), from('d'));
  assert.equal(other.status, 200);
  assert.equal(other.headers.get('RateLimit-Remaining'), '1');
  await Promise.all([first.text(), second.text(), other.text()]);
  assert.equal(guarded.stats().inFlight, 0);
});

test('a global rate applies across clients, tightest quota reported', async ({ weir, assert }) => {
  const guarded = weir.guard(() => new Response(null, { status: 204 }), {
    rate: { limit: 3, interval: 60_000 },
    perKeyRate: { limit: 100, interval: 1000 },
  });
  for (const ip of ['1', '2', '3']) assert.equal((await guarded(get(), from(ip))).status, 204);
  const denied = await guarded(get(), from('4'));
  assert.equal(denied.status, 429);
  assert.equal(denied.headers.get('Retry-After'), '20');
  assert.equal(denied.headers.get('RateLimit-Limit'), '3');
  assert.equal(denied.headers.get('RateLimit-Policy'), '3;w=60');
});

test('the permit is held while the body streams; released when it ends', async ({ weir, assert, settle }) => {
  let controller;
  const guarded = weir.guard(() => new Response(new ReadableStream({ start(c) { controller = c; } })), { concurrency: 1 });
  const res = await guarded(get(), from('s'));
  assert.equal(res.status, 200);
  assert.equal(guarded.stats().inFlight, 1, 'handler returned, body not streamed yet');
  assert.equal((await guarded(get(), from('t'))).status, 429);
  const reader = res.body.getReader();
  controller.enqueue(new TextEncoder().encode('part 1'));
  assert.equal(new TextDecoder().decode((await reader.read()).value), 'part 1');
  await settle();
  assert.equal(guarded.stats().inFlight, 1, 'still streaming');
  controller.close();
  assert.equal((await reader.read()).done, true);
  assert.equal(guarded.stats().inFlight, 0, 'released at the end of the body');
});

test('cancelling the body releases; a body that errors releases', async ({ weir, assert, settle }) => {
  let cancelled = null;
  let fail;
  const guarded = weir.guard((req) => {
    if (req.url.endsWith('/error')) {
      return new Response(new ReadableStream({ start(c) { fail = (e) => c.error(e); } }));
    }
    return new Response(new ReadableStream({ pull() {}, cancel(reason) { cancelled = reason; } }));
  }, { concurrency: 2 });
  const a = await guarded(get('/cancel'), from('x'));
  const b = await guarded(get('/error'), from('x'));
  assert.equal(guarded.stats().inFlight, 2);
  await a.body.cancel('client left');
  assert.equal(cancelled, 'client left', 'the cancel reaches the handler body');
  assert.equal(guarded.stats().inFlight, 1);
  const reading = b.body.getReader().read();
  fail(new Error('boom'));
  let message = '';
  try { await reading; } catch (e) { message = e.message; }
  assert.equal(message, 'boom');
  await settle();
  assert.equal(guarded.stats().inFlight, 0);
});

test('a handler that throws releases at once and the error propagates', async ({ weir, assert }) => {
  const guarded = weir.guard(async () => { throw new Error('handler failed'); }, { concurrency: 1 });
  await assert.rejects(guarded(get(), from('e')), (e) => assert.equal(e.message, 'handler failed'));
  assert.equal(guarded.stats().inFlight, 0);
  await assert.rejects(weir.guard(() => 'not a response', { concurrency: 1 })(get()), (e) => assert.ok(e instanceof TypeError));
});

test('null bodies release when the handler returns', async ({ weir, assert }) => {
  const guarded = weir.guard(() => new Response(null, { status: 204, headers: { 'x-kept': 'yes' } }), { concurrency: 1 });
  const res = await guarded(get(), from('n'));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('x-kept'), 'yes');
  assert.equal(guarded.stats().inFlight, 0);
});

test('status 503, onReject sees why, and may answer instead', async ({ weir, assert, deferred, settle }) => {
  const { handler, state } = heldHandler(deferred);
  const seen = [];
  const guarded = weir.guard(handler, {
    concurrency: 1,
    status: 503,
    onReject: (request, info) => {
      seen.push(info);
      if (new URL(request.url).pathname === '/custom') return new Response('go away', { status: 503, headers: { 'Retry-After': '7' } });
      return undefined;
    },
  });
  const held = guarded(get(), from('h'));
  await settle();
  const plain = await guarded(get('/x'), from('h'));
  assert.equal(plain.status, 503);
  assert.equal(plain.headers.get('Retry-After'), '1');
  assert.ok((await plain.text()).startsWith('Service Unavailable'));
  const custom = await guarded(get('/custom'), from('h'));
  assert.equal(await custom.text(), 'go away');
  assert.deepEqual(seen, [
    { key: 'h', reason: 'concurrency', retryAfter: 1, status: 503 },
    { key: 'h', reason: 'concurrency', retryAfter: 1, status: 503 },
  ]);
  state.gate.resolve();
  await (await held).text();
});

test('keys: remote address, a named header, or a key function', async ({ weir, assert, deferred, settle }) => {
  const { handler, state } = heldHandler(deferred);
  const byHeader = weir.guard(handler, { perKey: 1, keyHeader: 'X-Client' });
  const withHeader = (v) => new Request('http://127.0.0.1/', { headers: { 'X-Client': v } });
  const h1 = byHeader(withHeader('alice'), from('same'));
  await settle();
  assert.equal((await byHeader(withHeader('alice'), from('other'))).status, 429, 'header wins over address');
  const h2 = byHeader(withHeader('bob'), from('same'));
  const h3 = byHeader(get(), from('fallback'));
  await settle();
  assert.equal(state.running, 3, 'bob and the header-less request (keyed by address) pass');
  const keys = [];
  const byFn = weir.guard(handler, { perKey: 1, key: (req, env, ctx) => { keys.push([env, ctx]); return 'tenant-1'; } });
  const f1 = byFn(get(), 'ENV', 'CTX');
  await settle();
  assert.equal((await byFn(get(), 'ENV2', 'CTX2')).status, 429);
  assert.deepEqual(keys, [['ENV', 'CTX'], ['ENV2', 'CTX2']]);
  const asyncKey = weir.guard(handler, { perKey: 1, key: async () => 'tenant-1' });
  const a1 = asyncKey(get());
  await settle();
  assert.equal((await asyncKey(get())).status, 429, 'an async key function is awaited');
  state.gate.resolve();
  for (const p of [h1, h2, h3, f1, a1]) await (await p).text();
});

test('queue: a short bounded wait, then admission or a rejection', async ({ weir, assert, deferred, settle }) => {
  const { handler, state } = heldHandler(deferred);
  const guarded = weir.guard(handler, { concurrency: 1, queue: { max: 1, timeout: 10_000 } });
  const first = guarded(get(), from('q'));
  await settle();
  const waiting = guarded(get(), from('q'));
  await settle();
  assert.equal(guarded.stats().queued, 1);
  const full = await guarded(get(), from('q'));
  assert.equal(full.status, 429, 'queue full: rejected at once');
  state.gate.resolve();
  assert.equal((await first).status, 200);
  await (await first).text();
  const second = await waiting;
  assert.equal(second.status, 200, 'the waiter was admitted when the permit came back');
  await second.text();
  assert.deepEqual([guarded.stats().inFlight, guarded.stats().queued], [0, 0]);

  // A wait that times out leaves the queue and answers 429.
  const slow = heldHandler(deferred);
  const short = weir.guard(slow.handler, { concurrency: 1, queue: { max: 10, timeout: 30 } });
  const holder = short(get(), from('q'));
  await settle();
  const late = await short(get(), from('q'));
  assert.equal(late.status, 429);
  assert.equal(late.headers.get('Retry-After'), '1');
  assert.deepEqual([short.stats().queued, short.stats().waiting], [0, 0]);
  slow.state.gate.resolve();
  await (await holder).text();
  assert.equal(short.stats().inFlight, 0);
});

test('queue: many waits in a row, each parked and admitted in turn; nothing stays parked', async ({ weir, assert }) => {
  let active = 0;
  let peak = 0;
  const handler = async () => {
    active += 1;
    peak = Math.max(peak, active);
    await new Promise((resolve) => setTimeout(resolve, 1));
    active -= 1;
    return new Response('ok');
  };
  const guarded = weir.guard(handler, { concurrency: 2, queue: { max: 100, timeout: 10_000 } });
  for (let round = 0; round < 3; round += 1) {
    // Each body is read as soon as it comes: the permit is held until then.
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const r = await guarded(get(), from('q'));
        await r.text();
        return r.status;
      }),
    );
    assert.deepEqual(statuses, Array(20).fill(200));
  }
  assert.equal(peak, 2, 'the cap held while waits were parked');
  const s = guarded.stats();
  assert.deepEqual([s.inFlight, s.queued, s.waiting, s.permits], [0, 0, 0, 0]);
});

test('queue: a rate wait longer than the timeout is rejected at once', async ({ weir, assert }) => {
  const guarded = weir.guard(() => new Response('ok'), {
    perKeyRate: { limit: 1, interval: 60_000 },
    queue: { max: 10, timeout: 10_000 },
  });
  await (await guarded(get(), from('r'))).text();
  const started = Date.now();
  const denied = await guarded(get(), from('r'));
  assert.equal(denied.status, 429);
  assert.equal(denied.headers.get('Retry-After'), '60');
  assert.ok(Date.now() - started < 5000, 'did not wait for the queue timeout');
  assert.equal(guarded.stats().queued, 0);
});

test('bad configuration: TypeError / RangeError naming the option', async ({ weir, assert }) => {
  const h = () => new Response('');
  const bad = [
    [undefined, TypeError, /options are required/],
    [{}, TypeError, /at least one of/],
    [{ concurrency: 0 }, RangeError, /'concurrency'/],
    [{ concurrency: -1 }, RangeError, /'concurrency'/],
    [{ concurrency: NaN }, RangeError, /'concurrency'/],
    [{ concurrency: 1.5 }, RangeError, /'concurrency'/],
    [{ concurrency: '5' }, TypeError, /'concurrency'/],
    [{ perKey: 0 }, RangeError, /'perKey'/],
    [{ rate: { limit: 0, interval: 1000 } }, RangeError, /'rate.limit'/],
    [{ rate: { limit: 1, interval: 0 } }, RangeError, /'rate.interval'/],
    [{ perKeyRate: [{ limit: 1, interval: 1000 }, { limit: 1, interval: -5 }] }, RangeError, /'perKeyRate\[1\].interval'/],
    [{ perKeyRate: { limit: 1, interval: 1000, per: 2 } }, TypeError, /'perKeyRate.per'/],
    [{ concurrency: 1, status: 500 }, RangeError, /'status'/],
    [{ concurrency: 1, status: '429' }, RangeError, /'status'/],
    [{ concurrency: 1, queue: { max: 0, timeout: 10 } }, RangeError, /'queue.max'/],
    [{ concurrency: 1, queue: { max: 1, timeout: 0 } }, RangeError, /'queue.timeout'/],
    [{ concurrency: 1, queue: { max: 1 } }, TypeError, /'queue.timeout'/],
    [{ concurrency: 1, queue: 5 }, TypeError, /'queue'/],
    [{ concurrency: 1, key: 'ip' }, TypeError, /'key'/],
    [{ concurrency: 1, keyHeader: '' }, TypeError, /'keyHeader'/],
    [{ concurrency: 1, onReject: true }, TypeError, /'onReject'/],
    [{ concurrency: 1, maxQueue: 5 }, TypeError, /unknown option 'maxQueue'/],
  ];
  for (const [opts, type, pattern] of bad) {
    assert.throws(() => weir.guard(h, opts), type, pattern, JSON.stringify(opts));
  }
  assert.throws(() => weir.guard(null, { concurrency: 1 }), TypeError, /'handler'/);
  assert.throws(() => weir.toNodeHandler('x'), TypeError, /'handler'/);
  const bumpy = weir.guard(h, { concurrency: 1, key: () => ({}) });
  await assert.rejects(bumpy(get()), (e) => assert.matchesError(e, TypeError, /'key' function must return a string/));
  assert.equal(bumpy.stats().inFlight, 0);
});
