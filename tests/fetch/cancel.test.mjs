// Abort, timeout and queueTimeout: each rejects with its own error class and
// frees everything (limiter and per-key figures back to 0).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter, TimeoutError, QueueTimeoutError } from 'weir-limiter';
import { targets, atRest, until, hostStats } from './helpers.mjs';

const [a, b] = await targets(2);
after(() => Promise.all([a.close(), b.close()]));

/** A limiter whose only permit for `a` is held by a slow body. */
async function saturated() {
  const limiter = new Limiter({ perKey: 1 });
  const holder = await limiter.fetch(`${a.url}/slow-body?ms=400&chunks=2`);
  return { limiter, holder };
}

function rest(limiter) {
  return until(() => atRest(limiter), 2_000, 'the limiter to come to rest');
}

test('abort while queued leaves the queue at once and rejects with the reason', async () => {
  const { limiter, holder } = await saturated();
  const aborter = new AbortController();
  const waiting = limiter.fetch(`${a.url}/delay?ms=0`, { signal: aborter.signal });
  await until(() => limiter.stats().queued === 1, 1_000, 'the request to queue');
  assert.equal(limiter.fetchStats()[new URL(a.url).host].queued, 1);
  aborter.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  assert.equal(limiter.stats().queued, 0);
  assert.equal(limiter.fetchStats()[new URL(a.url).host].queued, 0);
  await holder.text();
  await rest(limiter);
});

test('abort in flight rejects and frees the permit', async () => {
  const limiter = new Limiter({ perKey: 1 });
  const aborter = new AbortController();
  const reason = new Error('stop');
  const pending = limiter.fetch(`${a.url}/delay?ms=5000`, { signal: aborter.signal });
  await until(() => limiter.stats().inFlight === 1, 1_000, 'the request to start');
  aborter.abort(reason);
  await assert.rejects(pending, (e) => e === reason);
  await rest(limiter);
  // An already aborted signal never takes a permit.
  await assert.rejects(limiter.fetch(`${a.url}/`, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  await rest(limiter);
});

test('timeout covers queueing: TimeoutError, permits freed', async () => {
  const { limiter, holder } = await saturated();
  const started = performance.now();
  await assert.rejects(limiter.fetch(`${a.url}/delay?ms=0`, { timeout: 100 }), TimeoutError);
  assert.ok(performance.now() - started >= 95);
  assert.equal(limiter.stats().queued, 0);
  await holder.text();
  await rest(limiter);
});

test('timeout covers the request in flight and its retries', async () => {
  const limiter = new Limiter({ perKey: 2 });
  await assert.rejects(limiter.fetch(`${a.url}/delay?ms=5000`, { timeout: 80 }), (e) => e instanceof TimeoutError && e.name === 'TimeoutError');
  await rest(limiter);
  // A back-off sleep is cut short too.
  const retry = { attempts: 5, baseDelay: 5_000, maxDelay: 5_000 };
  await assert.rejects(limiter.fetch(`${a.url}/status/503`, { timeout: 150, retry }), TimeoutError);
  await rest(limiter);
});

test('queueTimeout bounds the wait for a permit: QueueTimeoutError', async () => {
  const { limiter, holder } = await saturated();
  await assert.rejects(
    limiter.fetch(`${a.url}/delay?ms=0`, { queueTimeout: 50 }),
    (e) => e instanceof QueueTimeoutError && e.name === 'QueueTimeoutError' && !(e instanceof TimeoutError),
  );
  assert.equal(limiter.stats().queued, 0);
  // Another key is not affected by a's saturation.
  const other = await limiter.fetch(`${b.url}/delay?ms=0`, { queueTimeout: 50 });
  assert.equal(await other.text(), 'Hello, World!');
  // Once admitted, a slow response is not a queue timeout.
  await holder.text();
  const slow = await limiter.fetch(`${a.url}/delay?ms=120`, { queueTimeout: 50 });
  assert.equal(await slow.text(), 'Hello, World!');
  await rest(limiter);
});

test('many aborted requests leave nothing behind', async () => {
  const limiter = new Limiter({ concurrency: 4, perKey: 2 });
  const aborter = new AbortController();
  const all = Array.from({ length: 50 }, (_, i) =>
    limiter.fetch(`${i % 2 ? a.url : b.url}/delay?ms=1000`, { signal: aborter.signal }).then((r) => r.text()),
  );
  await until(() => limiter.stats().inFlight === 4, 1_000, 'requests to start');
  aborter.abort();
  const settled = await Promise.allSettled(all);
  assert.ok(settled.every((s) => s.status === 'rejected' && s.reason.name === 'AbortError'));
  await rest(limiter);
});

test('requests sharing one signal (several follower groups): the finished keep their bodies, the in-flight are aborted', async () => {
  const limiter = new Limiter({ concurrency: 100 });
  const aborter = new AbortController();
  const fast = await Promise.all(
    Array.from({ length: 40 }, (_, i) => limiter.fetch(`${a.url}/delay?ms=0&i=${i}`, { signal: aborter.signal }).then((r) => r.text())),
  );
  assert.ok(fast.every((t) => t === 'Hello, World!'));
  await rest(limiter);
  const slow = Array.from({ length: 40 }, (_, i) =>
    limiter.fetch(`${b.url}/delay?ms=5000&i=${i}`, { signal: aborter.signal }).then((r) => r.text()),
  );
  await until(() => limiter.stats().inFlight === 40, 2_000, 'requests to start');
  aborter.abort();
  const settled = await Promise.allSettled(slow);
  assert.ok(settled.every((s) => s.status === 'rejected' && s.reason.name === 'AbortError'), JSON.stringify(settled.map((s) => s.status)));
  await rest(limiter);
});

test("one caller signal over Node's fetch and a custom fetch: abort reaches every request", async () => {
  const limiter = new Limiter({ perKey: 10 });
  const aborter = new AbortController();
  const reason = new Error('stop all');
  const wrapped = (input, init) => globalThis.fetch(input, init);
  const slow = `${a.url}/delay?ms=5000`;
  // Followers of the caller's signal switch kind (lite for Node's fetch, a
  // real AbortController for any other) as the requests alternate.
  const pending = [
    limiter.fetch(slow, { signal: aborter.signal }),
    limiter.fetch(slow, { signal: aborter.signal, fetch: wrapped }),
    limiter.fetch(slow, { signal: aborter.signal }),
    limiter.fetch(slow, { signal: aborter.signal, fetch: wrapped }),
  ];
  await until(() => hostStats(a).current === 4, 2_000, 'the four requests to reach the server');
  aborter.abort(reason);
  for (const p of pending) await assert.rejects(p, (e) => e === reason);
  await until(() => hostStats(a).current === 0, 2_000, 'the server to see every request end');
  await rest(limiter);
});

test('a response that throws while being judged rejects and gives its permit back (first attempt and retries)', async () => {
  const limiter = new Limiter({ concurrency: 2 });
  const broken = new Error('headers unreadable');
  let calls = 0;
  // A 429 makes limiter.fetch read Retry-After; these headers throw when read.
  const fetchImpl = async () => {
    calls += 1;
    return { status: 429, body: null, headers: { get() { throw broken; } } };
  };
  for (const opts of [{}, { retry: { attempts: 3 } }]) {
    await assert.rejects(limiter.fetch('http://127.0.0.1:9/x', { fetch: fetchImpl, ...opts }), broken);
    assert.equal(limiter.stats().inFlight, 0, 'the permit came back');
  }
  // A queued request (no permit free at first) takes the `send` path.
  const holdA = limiter.tryAcquire({ key: '127.0.0.1:9' });
  const holdB = limiter.tryAcquire({ key: '127.0.0.1:9' });
  const queued = limiter.fetch('http://127.0.0.1:9/x', { fetch: fetchImpl });
  holdA();
  await assert.rejects(queued, broken);
  holdB();
  assert.equal(limiter.stats().inFlight, 0);
  assert.equal(calls, 3);
});
