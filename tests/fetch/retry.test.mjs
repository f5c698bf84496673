// Retries as the server sees them: Retry-After cooldowns per key, idempotent
// methods only, network errors, the budget.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter } from 'weir-limiter';
import { targets, hostStats, atRest, until } from './helpers.mjs';

const [a, b, c] = await targets(3);
after(() => Promise.all([a.close(), b.close(), c.close()]));
const fast = { attempts: 3, baseDelay: 1, maxDelay: 5_000, budget: { ratio: 1, min: 100, window: 10_000 } };

for (const form of ['retry-after=1', 'retry-after-date=2']) {
  test(`after a 429 with Retry-After (${form}) no request reaches that host for 1 s; other hosts go on`, async () => {
    a.reset();
    b.reset();
    const limiter = new Limiter({ concurrency: 20, perKey: 4 });
    const keyA = new URL(a.url).host;
    const first = limiter.fetch(`${a.url}/status/429?${form}`, { retry: { attempts: 2, maxDelay: 5_000 } });
    await until(() => limiter.fetchStats()[keyA]?.cooldownUntil != null, 2_000, 'the cooldown');
    // Queued behind the cooldown: every request for a's key waits…
    const queuedForA = Array.from({ length: 5 }, () => limiter.fetch(`${a.url}/delay?ms=0`).then((r) => r.text()));
    // …while b keeps being served.
    let servedB = 0;
    const stopAt = performance.now() + 900;
    while (performance.now() < stopAt) {
      await (await limiter.fetch(`${b.url}/delay?ms=10`)).text();
      servedB += 1;
    }
    assert.ok(servedB >= 10, `b served ${servedB} during a's cooldown`);
    const last = await first;
    assert.equal(last.status, 429);
    assert.equal(last.attempts, 2);
    await last.text();
    await Promise.all(queuedForA);
    const arrivals = hostStats(a).timestamps;
    assert.equal(arrivals.length, 1 + 1 + 5);
    const gap = arrivals[1] - arrivals[0];
    assert.ok(gap >= 999, `a request reached the paused host after ${gap.toFixed(1)} ms`);
    assert.equal(limiter.fetchStats()[keyA].status429, 2);
    assert.ok(atRest(limiter), JSON.stringify([limiter.stats(), limiter.fetchStats()]));
  });
}

test('non-idempotent requests are not retried; idempotent ones are', async () => {
  a.reset();
  const limiter = new Limiter({ perKey: 4 });
  const post = await limiter.fetch(`${a.url}/status/503`, { method: 'POST', body: 'x', retry: fast });
  assert.equal(post.status, 503);
  assert.equal(post.attempts, 1);
  assert.equal(hostStats(a).total, 1);
  await post.text();
  const get = await limiter.fetch(`${a.url}/status/503`, { retry: fast });
  assert.equal(get.status, 503);
  assert.equal(get.attempts, 3);
  assert.equal(hostStats(a).total, 4);
  await get.text();
  // Other statuses are final at once.
  const notFound = await limiter.fetch(`${a.url}/status/404`, { retry: fast });
  assert.equal(notFound.attempts, 1);
  await notFound.text();
  // A method the caller lists is retried.
  const patch = await limiter.fetch(`${a.url}/status/503`, { method: 'PATCH', retry: { ...fast, methods: ['PATCH'] } });
  assert.equal(patch.attempts, 3);
  await patch.text();
  assert.ok(atRest(limiter), JSON.stringify([limiter.stats(), limiter.fetchStats()]));
});

test('network errors are retried for idempotent methods only', async () => {
  a.reset();
  const limiter = new Limiter({ perKey: 4 });
  await assert.rejects(limiter.fetch(`${a.url}/reset`, { retry: fast }), TypeError);
  assert.equal(hostStats(a).total, 3);
  await assert.rejects(limiter.fetch(`${a.url}/reset`, { method: 'POST', retry: fast }), TypeError);
  assert.equal(hostStats(a).total, 4);
  assert.equal(limiter.fetchStats()[new URL(a.url).host].networkErrors, 4);
  assert.ok(atRest(limiter), JSON.stringify([limiter.stats(), limiter.fetchStats()]));
});

test('stream bodies are never retried; buffered ones are', async () => {
  a.reset();
  const limiter = new Limiter({ perKey: 4 });
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('data'));
      controller.close();
    },
  });
  const r = await limiter.fetch(`${a.url}/status/503`, { method: 'PUT', body: stream, duplex: 'half', retry: fast });
  assert.equal(r.attempts, 1);
  await r.text();
  const buffered = await limiter.fetch(`${a.url}/status/503`, { method: 'PUT', body: new Uint8Array(4), retry: fast });
  assert.equal(buffered.attempts, 3);
  await buffered.text();
  assert.equal(hostStats(a).total, 4);
});

test('the budget caps retries per key', async () => {
  c.reset();
  const limiter = new Limiter({ perKey: 10 });
  const retry = { attempts: 10, baseDelay: 1, maxDelay: 10, budget: { ratio: 0, min: 3, window: 60_000 } };
  const responses = await Promise.all(
    Array.from({ length: 6 }, () => limiter.fetch(`${c.url}/status/503`, { retry }).then(async (r) => (await r.text(), r))),
  );
  assert.ok(responses.every((r) => r.status === 503));
  // 6 requests, 3 retries in all: not 6 × 10 attempts.
  assert.equal(hostStats(c).total, 6 + 3);
  const s = limiter.fetchStats()[new URL(c.url).host];
  assert.equal(s.sent, 9);
  assert.equal(s.retried, 3);
  // The default budget (10 % of requests, at least 3 per 10 s) applies too.
  c.reset();
  const fresh = new Limiter({ perKey: 10 });
  await Promise.all(
    Array.from({ length: 10 }, () => fresh.fetch(`${c.url}/status/503`, { retry: { attempts: 5, baseDelay: 1 } }).then((r) => r.text())),
  );
  assert.equal(hostStats(c).total, 10 + 3 + 1);
});

test('invalid retry options throw naming the option', async () => {
  const limiter = new Limiter();
  await assert.rejects(limiter.fetch(`${a.url}/`, { retry: { attempts: 0 } }), { name: 'RangeError', message: /retry\.attempts/ });
  await assert.rejects(limiter.fetch(`${a.url}/`, { retry: { tries: 2 } }), { name: 'TypeError', message: /tries/ });
  await assert.rejects(limiter.fetch(`${a.url}/`, { retry: { statuses: [700] } }), { name: 'RangeError', message: /retry\.statuses/ });
  await assert.rejects(limiter.fetch(`${a.url}/`, { retry: { baseDelay: 10, maxDelay: 5 } }), { name: 'RangeError', message: /retry\.maxDelay/ });
  await assert.rejects(limiter.fetch(`${a.url}/`, { retry: { budget: { ratio: -1 } } }), { name: 'RangeError', message: /budget\.ratio/ });
  await assert.rejects(limiter.fetch(`${a.url}/`, { timeout: -1 }), { name: 'RangeError', message: /timeout/ });
  await assert.rejects(limiter.fetch(`${a.url}/`, { releaseOn: 'never' }), { name: 'RangeError', message: /releaseOn/ });
  assert.ok(atRest(limiter), JSON.stringify([limiter.stats(), limiter.fetchStats()]));
});

test("with adaptive per-host caps, every attempt is reported with its host: 503s lower that host's cap only", async () => {
  a.reset();
  const limiter = new Limiter({ perKey: { adaptive: { min: 1, max: 100, initial: 10 } } });
  const once = { attempts: 1 };
  const host = new URL(a.url).host;
  for (const want of [8, 6]) {
    const res = await limiter.fetch(`${a.url}/status/503`, { retry: once });
    assert.equal(res.status, 503);
    await res.text();
    assert.equal(limiter.stats().perKeyAdaptive[host].limit, want);
  }
  assert.equal(limiter.stats().adaptive, undefined, 'no global adaptive cap');
  assert.deepEqual(Object.keys(limiter.stats().perKeyAdaptive), [host]);
  assert.ok(atRest(limiter));
});

test('with an adaptive cap, every attempt is reported: 503s lower it', async () => {
  a.reset();
  const limiter = new Limiter({ concurrency: { adaptive: { min: 1, max: 100, initial: 10 } } });
  const once = { attempts: 1 };
  for (const want of [8, 6, 5]) {
    const res = await limiter.fetch(`${a.url}/status/503`, { retry: once });
    assert.equal(res.status, 503);
    await res.text();
    assert.equal(limiter.stats().adaptive.limit, want);
    assert.equal(limiter.stats().concurrency, want);
  }
  // A retried request reports each of its attempts: 5 → 4 → 3 → 2.
  const retried = await limiter.fetch(`${a.url}/status/503`, { retry: fast });
  await retried.text();
  assert.equal(retried.attempts, 3);
  assert.equal(limiter.stats().adaptive.limit, 2);
  const ok = await limiter.fetch(`${a.url}/status/200`, { retry: once });
  await ok.text();
  assert.equal(limiter.stats().adaptive.limit, 2, 'one served answer is not a window');
  assert.ok(atRest(limiter));
});
