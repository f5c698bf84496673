// The JS RedisStore on a real redis-server, with both clients (ioredis and
// node-redis): shared quotas and caps between limiters on separate
// connections, idle keys expiring, every onStoreError mode with redis killed
// and restarted or frozen (SIGSTOP), and limiter.fetch's 429 cooling the host
// for another limiter.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Limiter } from '../../bindings/js/node.js';
import { RedisStore, StoreError } from '../../bindings/js/redis/index.js';
import { RedisServer, CLIENTS, SKIP, sleep, dbsize, exists } from './helpers.mjs';

for (const kind of Object.keys(CLIENTS)) {
  describe(`RedisStore over ${kind}`, { skip: SKIP }, () => {
    let server;
    const open = [];
    before(async () => {
      server = await RedisServer.start();
    });
    after(async () => {
      for (const close of open) await close();
      await server?.stop();
    });
    async function limiter(opts, storeOpts = {}) {
      const { client, close } = await CLIENTS[kind](server.url);
      // A generous timeout: these tests are about sharing, not a loaded machine's latency.
      const store = new RedisStore(client, { prefix: `t-${kind}:`, ttlSlackMs: 20, timeoutMs: 2000, ...storeOpts });
      open.push(async () => {
        await store.close();
        await close();
      });
      return new Limiter({ store, ...opts });
    }

    test('two limiters on separate connections share one quota; the wait is the server\'s', async () => {
      const quota = { limit: 10, interval: 1000, burst: 4 };
      const a = await limiter({ perKeyRate: quota });
      const b = await limiter({ perKeyRate: quota });
      const t0 = performance.now();
      for (const l of [a, b, a, b]) await l.run(() => {}, { key: 'k' });
      await b.run(() => {}, { key: 'k' });
      const waited = performance.now() - t0;
      // The 5th unit is due 100 ms after the first of the burst (server time).
      assert.ok(waited >= 95 && waited < 400, `the 5th unit came ${waited} ms after the first`);
      const s = b.stats().store;
      assert.equal(s.mode, 'ok');
      assert.ok(s.roundTrips >= 3, `round trips ${s.roundTrips}`);
      assert.equal(s.errors, 0);
      assert.throws(() => a.tryAcquire({ key: 'k' }), /use acquire/);
    });

    test('caps are shared: never more than perKey in flight across limiters', async () => {
      const a = await limiter({ perKey: 2 }, { leaseMs: 5000 });
      const b = await limiter({ perKey: 2 }, { leaseMs: 5000 });
      let current = 0;
      let max = 0;
      const work = async () => {
        current++;
        max = Math.max(max, current);
        await sleep(15);
        current--;
      };
      await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).run(work, { key: 'c' })));
      assert.equal(max, 2);
      await sleep(50); // the releases are sent after run settles
      assert.equal(await exists(server.url, `{t-${kind}:c}:c`), 0, 'every lease released: the set is gone');
    });

    test('idle keys expire (DBSIZE back to 0)', async () => {
      const l = await limiter({ perKeyRate: { limit: 50, interval: 100 }, perKey: 3 }, { leaseMs: 5000 });
      await Promise.all(Array.from({ length: 20 }, (_, i) => l.run(() => sleep(1), { key: `idle${i % 4}` })));
      const deadline = performance.now() + 3000;
      let size;
      while ((size = await dbsize(server.url)) !== 0 && performance.now() < deadline) await sleep(50);
      assert.equal(size, 0);
    });

    test('decisions arriving while a call is in flight go out as one call, in arrival order', async () => {
      const { client, close } = await CLIENTS[kind](server.url);
      const store = new RedisStore(client, { prefix: `b-${kind}:`, timeoutMs: 2000 });
      open.push(async () => {
        await store.close();
        await close();
      });
      // 10 per second per key, burst 4 (quota triples: limit, intervalMs, burst).
      const shared = store.attach({ rate: [], perKeyRate: [10, 1000, 4] }, {});
      await shared.tryAdmit('warm', 1);
      const before = store.stats().roundTrips;
      const out = await Promise.all(Array.from({ length: 12 }, () => shared.tryAdmit('k', 1)));
      assert.equal(store.stats().roundTrips - before, 2, 'one call for the first, one for the eleven queued behind it');
      // figures: [limit, remaining, resetNs, retryNs, intervalMs]
      assert.deepEqual(
        out.slice(0, 4).map((d) => [typeof d.release, d.figures[1]]),
        [['function', 3], ['function', 2], ['function', 1], ['function', 0]],
      );
      const waits = out.slice(4).map((d) => d.waitNs);
      assert.equal(new Set(waits).size, 1, `one instant, one wait: ${waits}`);
      assert.ok(waits[0] > 0 && waits[0] <= 100e6, `${waits[0]} ns`);
    });

    test('asCompleted goes through the store', async () => {
      const l = await limiter({ concurrency: 2, perKeyRate: { limit: 1000, interval: 1000, burst: 3 } });
      const out = [];
      for await (const r of l.asCompleted([1, 2, 3, 4], async (x) => x * 2, { key: 'ac' })) out.push(r.value);
      assert.deepEqual(out.sort((x, y) => x - y), [2, 4, 6, 8]);
      assert.ok(l.stats().store.roundTrips >= 8, 'a lease and a rate call per item');
    });
  });
}

describe('failure modes (redis killed and restarted, or frozen past timeoutMs)', { skip: SKIP }, () => {
  const TIMEOUT = 150;
  const MARGIN = 400;
  for (const kind of Object.keys(CLIENTS)) {
    for (const mode of ['closed', 'open', 'local']) {
      test(`${kind}, onStoreError '${mode}'`, async () => {
        const server = await RedisServer.start();
        const { client, close } = await CLIENTS[kind](server.url);
        const store = new RedisStore(client, { prefix: 'f:', timeoutMs: TIMEOUT, ttlSlackMs: 20 });
        const limiter = new Limiter({ store, onStoreError: mode, perKey: 2, perKeyRate: { limit: 5, interval: 1000 } });
        try {
          await limiter.run(() => {}, { key: 'k' });
          for (const fault of ['kill', 'freeze']) {
            if (fault === 'kill') await server.stop();
            else server.signal('SIGSTOP');
            const t0 = performance.now();
            const outcome = await limiter.run(() => 'ran', { key: `${fault}-1` }).then((v) => v, (e) => e);
            const took = performance.now() - t0;
            assert.ok(took <= TIMEOUT + MARGIN, `${fault}: settled after ${took} ms`);
            if (mode === 'closed') {
              assert.ok(outcome instanceof StoreError, `${fault}: ${outcome}`);
              assert.match(outcome.message, /weir redis store: (lease|rate) call/);
              if (fault === 'freeze') assert.equal(outcome.timedOut, true);
            } else {
              assert.equal(outcome, 'ran');
            }
            if (mode === 'local') {
              // The in-memory fallback has the same options: 5 per second per key.
              const ran = [];
              const results = await Promise.all(
                Array.from({ length: 6 }, (_, i) =>
                  limiter.run(() => ran.push(i), { key: `${fault}-2`, signal: AbortSignal.timeout(100) }).then(
                    () => 'ok',
                    (e) => e.name,
                  ),
                ),
              );
              assert.equal(results.filter((r) => r === 'ok').length, 5, JSON.stringify(results));
            }
            const s = limiter.stats().store;
            assert.equal(s.mode, 'degraded');
            assert.ok(s.errors >= 1 && s.lastError instanceof StoreError);
            if (fault === 'kill') await server.spawn();
            else server.signal('SIGCONT');
            // Back: admitted through the store again, and the limits hold.
            const deadline = performance.now() + 5000;
            for (;;) {
              await limiter.run(() => {}, { key: `${fault}-3` }).catch(() => {});
              if (limiter.stats().store.mode === 'ok') break;
              assert.ok(performance.now() < deadline, 'the store came back');
              await sleep(50);
            }
            assert.ok(limiter.stats().store.recoveries >= 1);
            const t1 = performance.now();
            for (let i = 0; i < 6; i++) await limiter.run(() => {}, { key: `${fault}-4` });
            const waited = performance.now() - t1;
            assert.ok(waited >= 190, `the 6th unit waited for the shared quota (${waited} ms)`);
          }
        } finally {
          await store.close();
          await close();
          await server.stop();
        }
      });
    }
  }
});

describe('a batch caught by a frozen or dying redis: every caller settles by its policy', { skip: SKIP }, () => {
  const TIMEOUT = 150;
  const MARGIN = 400;
  for (const kind of Object.keys(CLIENTS)) {
    for (const mode of ['closed', 'open', 'local']) {
      for (const fault of ['freeze', 'kill in flight']) {
        test(`${kind}, '${mode}', ${fault}`, async () => {
          const server = await RedisServer.start();
          const { client, close } = await CLIENTS[kind](server.url);
          const store = new RedisStore(client, { prefix: 'fb:', timeoutMs: TIMEOUT, ttlSlackMs: 20 });
          // Quotas only: every decision is a gcra.lua call, batched.
          const limiter = new Limiter({ store, onStoreError: mode, perKeyRate: { limit: 10, interval: 1000, burst: 4 } });
          try {
            await limiter.run(() => {}, { key: 'warm' });
            server.signal('SIGSTOP');
            const t0 = performance.now();
            const calls = Array.from({ length: 32 }, (_, i) =>
              limiter.run(() => 'ran', { key: `k${i % 8}` }).then(
                (v) => [v, performance.now() - t0],
                (e) => [e, performance.now() - t0],
              ),
            );
            if (fault !== 'freeze') {
              await sleep(30); // in flight and queued
              server.signal('SIGKILL'); // no SIGCONT first: it must not answer them
              await server.stop();
            }
            const outcomes = await Promise.race([Promise.all(calls), sleep(5000).then(() => 'hung')]);
            assert.notEqual(outcomes, 'hung');
            for (const [outcome, took] of outcomes) {
              assert.ok(took <= TIMEOUT + MARGIN, `settled after ${took} ms`);
              if (mode === 'closed') {
                assert.ok(outcome instanceof StoreError, String(outcome));
                assert.match(outcome.message, /weir redis store: rate call/);
              } else {
                assert.equal(outcome, 'ran');
              }
            }
          } finally {
            await store.close();
            await close();
            await server.stop();
          }
        });
      }
    }
  }
});

test('a 429 seen by one limiter cools the host for another (shared pause)', { skip: SKIP }, async () => {
  const server = await RedisServer.start();
  let hits = 0;
  const http = createServer((req, res) => {
    hits++;
    if (hits === 1) {
      res.writeHead(429, { 'retry-after': '1' });
      res.end();
    } else {
      res.end('ok');
    }
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${http.address().port}/`;
  const { client: c1, close: close1 } = await CLIENTS.ioredis(server.url);
  const { client: c2, close: close2 } = await CLIENTS.ioredis(server.url);
  const s1 = new RedisStore(c1, { prefix: 'p:', timeoutMs: 2000 });
  const s2 = new RedisStore(c2, { prefix: 'p:', timeoutMs: 2000 });
  const a = new Limiter({ store: s1, perKey: 4 });
  const b = new Limiter({ store: s2, perKey: 4 });
  try {
    // `a` gets the 429 (Retry-After: 1), pauses the host for the fleet, retries.
    const first = a.fetch(url);
    const t0 = performance.now();
    const pauseKey = `{p:127.0.0.1:${http.address().port}}:p`;
    while ((await exists(server.url, pauseKey)) === 0) {
      assert.ok(performance.now() - t0 < 800, 'the 429 paused the host in the store');
      await sleep(5);
    }
    const res = await b.fetch(url);
    assert.equal(await res.text(), 'ok');
    const waited = performance.now() - t0;
    assert.ok(waited >= 950, `the other limiter waited out the shared Retry-After (${waited} ms)`);
    assert.equal(await (await first).text(), 'ok');
  } finally {
    http.close();
    await s1.close();
    await s2.close();
    await close1();
    await close2();
    await server.stop();
  }
});

for (const kind of Object.keys(CLIENTS)) {
  test(`${kind}: a lease waiter meets 'closed' when redis dies, not at the lease's expiry`, { skip: SKIP }, async () => {
    const server = await RedisServer.start();
    const a = await CLIENTS[kind](server.url);
    const b = await CLIENTS[kind](server.url);
    const sa = new RedisStore(a.client, { prefix: 'w:', leaseMs: 30_000, timeoutMs: 1000 });
    const sb = new RedisStore(b.client, { prefix: 'w:', leaseMs: 30_000, timeoutMs: 1000 });
    const holder = new Limiter({ store: sa, perKey: 1 });
    const other = new Limiter({ store: sb, perKey: 1 });
    try {
      await sleep(100); // subscribed
      const release = await holder.acquire({ key: 'k' });
      let settled = false;
      const waiting = other.acquire({ key: 'k' }).then(
        (r) => ((settled = true), r),
        (e) => ((settled = true), e),
      );
      await sleep(200);
      assert.equal(settled, false, 'the cap is held');
      await server.stop();
      const t0 = performance.now();
      const outcome = await Promise.race([waiting, sleep(5000).then(() => 'hung')]);
      assert.ok(outcome instanceof StoreError, String(outcome));
      assert.ok(performance.now() - t0 < 3000, `settled after ${performance.now() - t0} ms`);
      release();
    } finally {
      await sa.close();
      await sb.close();
      await a.close();
      await b.close();
      await server.stop();
    }
  });
}
