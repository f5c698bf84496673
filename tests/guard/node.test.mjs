// Node: the host-neutral guard cases, then what needs Node itself — a real
// http server under a 2,000-request burst, a million rotating client keys,
// exact Retry-After on a fake clock, and the http adapter's release on
// finish / close. Everything on 127.0.0.1, bounded.
import { test } from 'node:test';
import * as weir from 'weir-limiter';
import { runCase } from '../conformance/index.js';
import { guardCases } from './cases.js';

for (const c of guardCases) {
  test(c.name, async () => {
    const result = await runCase(c, weir);
    if (!result.ok) throw new Error(result.error);
  });
}

import assert from 'node:assert/strict';
import http from 'node:http';

const deferred = () => {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
};
const from = (hostname) => ({ remoteAddr: { hostname, port: 1, transport: 'tcp' } });

/** Run `fn` with `performance.now()` (the core's clock in JS hosts) under the test's control. */
async function withFakeClock(fn) {
  const real = performance.now;
  const clock = { ms: 1_000 };
  performance.now = () => clock.ms;
  try {
    return await fn(clock);
  } finally {
    performance.now = real;
  }
}

/** Bounded: fails instead of hanging. */
function within(ms, promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function listen(server) {
  return new Promise((resolve) => {
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve(server.address().port));
  });
}

/** One GET; resolves to `{ status, headers, body }`. */
function get(port, agent, path = '/') {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('request timed out')));
  });
}

test('fake clock: Retry-After is ceil(not-until - now) exactly; RateLimit-Reset too', async () => {
  await withFakeClock(async (clock) => {
    const guarded = weir.guard(() => new Response('ok'), { perKeyRate: { limit: 2, interval: 5_000 } });
    const ask = async () => {
      const res = await guarded(new Request('http://127.0.0.1/'), from('1.1.1.1'));
      await res.text();
      return [res.status, res.headers.get('Retry-After'), res.headers.get('RateLimit-Remaining'), res.headers.get('RateLimit-Reset')];
    };
    assert.deepEqual(await ask(), [200, null, '1', '3']); // full again after 2.5 s
    assert.deepEqual(await ask(), [200, null, '0', '5']);
    // Next unit due at +2500 ms.
    assert.deepEqual(await ask(), [429, '3', '0', '5']);
    clock.ms += 1_499.999; // 1000.001 ms to go
    assert.deepEqual(await ask(), [429, '2', '0', '4']);
    clock.ms = 1_000 + 1_500; // exactly 1000 ms to go
    assert.deepEqual(await ask(), [429, '1', '0', '4']);
    clock.ms = 1_000 + 2_499.999999; // 1 ns to go
    assert.deepEqual(await ask(), [429, '1', '0', '3']);
    clock.ms = 1_000 + 2_500;
    assert.deepEqual(await ask(), [200, null, '0', '5']);
    // A clock that steps back never re-admits.
    clock.ms = 0;
    assert.equal((await ask())[0], 429);
  });
});

test('fake clock: 1,000,000 rotating client keys keep resident state bounded, ~0 when idle', async () => {
  await withFakeClock(async (clock) => {
    const guarded = weir.guard(() => new Response(null, { status: 204 }), {
      perKeyRate: { limit: 10, interval: 100 }, // one request leaves a key busy for 10 ms
    });
    const request = new Request('http://127.0.0.1/');
    let peak = 0;
    const N = 1_000_000;
    for (let i = 0; i < N; i++) {
      // Rotating IPv4 addresses, 1,000 new clients per fake millisecond.
      const ip = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
      const res = await guarded(request, from(ip));
      if (res.status !== 204) throw new Error(`request ${i}: ${res.status}`);
      if (i % 1_000 === 999) {
        clock.ms += 1;
        const { rateKeys } = guarded.stats();
        if (rateKeys > peak) peak = rateKeys;
      }
    }
    const { rateKeys, keys, inFlight } = guarded.stats();
    // ~10 ms of clients (10,000) are live at once; sweeps keep the map within 2x + slack.
    assert.ok(peak <= 25_000, `resident keys peaked at ${peak} during churn of ${N}`);
    assert.ok(peak >= 10_000, `keys stay resident while their bucket refills (peak ${peak})`);
    assert.deepEqual([keys, inFlight], [0, 0]);
    assert.ok(rateKeys <= 25_000, `resident at the end: ${rateKeys}`);
    clock.ms += 20; // every bucket is full again
    guarded.evictIdle();
    assert.equal(guarded.stats().rateKeys, 0, 'idle: nothing resident');
  });
});

test('burst: 2,000 concurrent requests, concurrency 50, real server on 127.0.0.1', async () => {
  globalThis.gc?.();
  const baseline = process.memoryUsage().heapUsed;
  const gate = deferred();
  const state = { running: 0, peak: 0, calls: 0 };
  const guarded = weir.guard(async () => {
    state.calls += 1;
    state.running += 1;
    state.peak = Math.max(state.peak, state.running);
    await gate.promise;
    state.running -= 1;
    return new Response('served');
  }, { concurrency: 50 });
  const server = http.createServer(weir.toNodeHandler(guarded));
  const port = await listen(server);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const TOTAL = 2_000;
  let rejected = 0;
  const allRejected = deferred();
  try {
    const all = Promise.all(Array.from({ length: TOTAL }, () => get(port, agent).then((r) => {
      if (r.status === 429 && ++rejected === TOTAL - 50) allRejected.resolve();
      return r;
    })));
    all.catch(allRejected.reject);
    // Every excess request is answered while the 50 admitted are still held.
    await within(60_000, allRejected.promise, 'the 1,950 rejections');
    assert.equal(state.running, 50);
    assert.equal(guarded.stats().inFlight, 50);
    gate.resolve();
    const results = await within(60_000, all, 'all 2,000 requests');
    const served = results.filter((r) => r.status === 200);
    const shed = results.filter((r) => r.status === 429);
    assert.equal(served.length, 50);
    assert.equal(shed.length, TOTAL - 50);
    assert.ok(served.every((r) => r.body === 'served'));
    assert.ok(shed.every((r) => r.headers['retry-after'] === '1' && r.body.startsWith('Too Many Requests')));
    assert.equal(state.peak, 50, 'the handler never saw more than 50 at once');
    assert.equal(state.calls, 50);
    const s = guarded.stats();
    assert.deepEqual([s.inFlight, s.queued, s.keys, s.permits, s.waiting], [0, 0, 0, 0, 0]);
  } finally {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc?.();
  }
  const grown = process.memoryUsage().heapUsed - baseline;
  assert.ok(grown < 16 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MB and stayed`);
});

test('node adapter: the permit is held until the body is written; a closed connection releases', async () => {
  const chunks = [];
  const guarded = weir.guard((request) => {
    if (request.url.endsWith('/throw')) throw new Error('handler failed');
    let controller;
    const body = new ReadableStream({ start(c) { controller = c; } });
    chunks.push(controller);
    return new Response(body, { headers: { 'content-type': 'text/plain', 'set-cookie': 'a=1' } });
  }, { concurrency: 1, perKeyRate: { limit: 100, interval: 1000 } });
  const server = http.createServer(weir.toNodeHandler(guarded));
  const port = await listen(server);
  const agent = new http.Agent({ keepAlive: false });
  try {
    // 1. Streams: held while streaming, released at the end.
    const response = deferred();
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, response.resolve);
    req.on('error', response.reject);
    const res = await within(10_000, response.promise, 'response head');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['ratelimit-limit'], '100');
    assert.deepEqual(res.headers['set-cookie'], ['a=1']);
    assert.equal(guarded.stats().inFlight, 1);
    assert.equal((await get(port, agent)).status, 429, 'busy while the body streams');
    let text = '';
    res.setEncoding('utf8');
    const ended = new Promise((resolve) => res.on('end', resolve));
    res.on('data', (d) => { text += d; });
    chunks[0].enqueue(new TextEncoder().encode('hello '));
    chunks[0].enqueue(new TextEncoder().encode('world'));
    chunks[0].close();
    await within(10_000, ended, 'body end');
    assert.equal(text, 'hello world');
    await within(10_000, (async () => { while (guarded.stats().inFlight !== 0) await new Promise((r) => setTimeout(r, 5)); })(), 'release after the body');

    // 2. The client goes away mid-body: released, the body stream cancelled.
    const second = deferred();
    const req2 = http.get({ host: '127.0.0.1', port, path: '/', agent }, second.resolve);
    req2.on('error', () => {});
    const res2 = await within(10_000, second.promise, 'second head');
    assert.equal(res2.statusCode, 200);
    assert.equal(guarded.stats().inFlight, 1);
    res2.destroy();
    req2.destroy();
    await within(10_000, (async () => { while (guarded.stats().inFlight !== 0) await new Promise((r) => setTimeout(r, 5)); })(), 'release on close');

    // 3. A handler that throws: 500, released.
    const failed = await get(port, agent, '/throw');
    assert.equal(failed.status, 500);
    assert.equal(guarded.stats().inFlight, 0);
  } finally {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('node adapter: request bodies, HEAD, and the remote address as the default key', async () => {
  const seen = [];
  const handler = async (request, info) => {
    seen.push(info.remoteAddr.hostname);
    const body = request.method === 'POST' ? await request.text() : '';
    return new Response(`${request.method} ${new URL(request.url).pathname} ${body}`, { headers: { 'x-echo': request.headers.get('x-in') ?? '' } });
  };
  const server = http.createServer(weir.guard.node(handler, { perKey: 5 }));
  const plain = http.createServer(weir.toNodeHandler(handler));
  const port = await listen(server);
  const plainPort = await listen(plain);
  try {
    for (const p of [port, plainPort]) {
      const posted = await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: p, path: '/echo', method: 'POST', headers: { 'x-in': 'v' } }, (res) => {
          let b = '';
          res.on('data', (d) => { b += d; });
          res.on('end', () => resolve({ status: res.statusCode, body: b, echo: res.headers['x-echo'] }));
        });
        req.on('error', reject);
        req.end('payload');
      });
      assert.deepEqual(posted, { status: 200, body: 'POST /echo payload', echo: 'v' });
      const head = await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: p, path: '/', method: 'HEAD' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(head, 200);
    }
    assert.ok(seen.every((h) => h === '127.0.0.1'), `remote addresses: ${seen}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => plain.close(resolve));
  }
});

test('outside workerd a CF-Connecting-IP header is not trusted as the key', async () => {
  const gate = deferred();
  const guarded = weir.guard(async () => { await gate.promise; return new Response('ok'); }, { perKey: 1 });
  const spoofed = (ip) => new Request('http://127.0.0.1/', { headers: { 'CF-Connecting-IP': ip } });
  const first = guarded(spoofed('1.1.1.1'), from('203.0.113.9'));
  await new Promise((r) => setTimeout(r, 0));
  // Same socket address, a different claimed IP: still the same key.
  assert.equal((await guarded(spoofed('2.2.2.2'), from('203.0.113.9'))).status, 429);
  gate.resolve();
  await (await first).text();
  assert.equal(guarded.stats().inFlight, 0);
});

test('node adapter shed path: keyHeader from req.headers, rate headers, HEAD without a body, no Request built', async () => {
  const gate = deferred();
  const entered = deferred();
  let built = 0;
  const handler = async (request) => {
    built += 1;
    entered.resolve();
    await gate.promise;
    return new Response(`hi ${request.headers.get('x-client')}`);
  };
  const guarded = weir.guard(handler, {
    perKey: 1, keyHeader: 'X-Client', perKeyRate: { limit: 100, interval: 60_000 },
  });
  const server = http.createServer(weir.toNodeHandler(guarded));
  const port = await listen(server);
  const send = (client, method = 'GET') => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', method, headers: { 'x-client': client } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
  try {
    const first = send('a');
    await entered.promise;
    // 'a' holds its one permit: its next requests are shed, 'b' is not.
    const shed = await send('a');
    assert.equal(shed.status, 429);
    assert.equal(shed.headers['retry-after'], '1');
    assert.equal(shed.headers['ratelimit-limit'], '100');
    assert.equal(shed.headers['ratelimit-policy'], '100;w=60');
    assert.match(shed.body, /^Too Many Requests: retry after 1 s\n$/);
    const head = await send('a', 'HEAD');
    assert.equal(head.status, 429);
    assert.equal(head.body, '');
    assert.equal(built, 1, 'the shed requests never reached the handler');
    const other = send('b');
    gate.resolve();
    assert.deepEqual([(await first).body, (await other).body], ['hi a', 'hi b']);
    assert.equal((await first).headers['ratelimit-limit'], '100');
    assert.equal(guarded.stats().inFlight, 0);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('node adapter: a client that hangs up before the answer never leaks a permit, however the response ends', async () => {
  const net = await import('node:net');
  // The handler answers only once the client is gone (each request waits
  // for its socket to close), in each of the ways a response can end.
  const gone = [];
  const big = new Uint8Array(4 << 20); // larger than any socket buffer: the write backs up
  const guarded = weir.guard(async (request) => {
    await new Promise((resolve) => gone.push(resolve));
    const path = new URL(request.url).pathname;
    if (path === '/throw') throw new Error('handler failed after the client left');
    if (path === '/empty') return new Response(null, { status: 204 });
    if (path === '/big') return new Response(big);
    if (path === '/stream') {
      return new Response(new ReadableStream({
        pull(c) { c.enqueue(new Uint8Array(64 << 10)); }, // endless
      }));
    }
    return new Response('late');
  }, { concurrency: 2 });
  const server = http.createServer(weir.toNodeHandler(guarded));
  const port = await listen(server);
  const agent = new http.Agent({ keepAlive: false });
  const hangUp = (path) => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    s.on('error', () => {});
    s.on('close', resolve);
    setTimeout(() => s.destroy(), 30);
  });
  try {
    for (const path of ['/', '/empty', '/throw', '/big', '/stream']) {
      const closed = [hangUp(path), hangUp(path)];
      await within(10_000, Promise.all(closed), `clients of ${path} closing`);
      await new Promise((r) => setTimeout(r, 20)); // the server sees the close
      for (const release of gone.splice(0)) release();
      await within(10_000, (async () => { while (guarded.stats().inFlight !== 0) await new Promise((r) => setTimeout(r, 5)); })(),
        `permits of ${path} released`);
    }
    // The client leaves mid-body while a large write waits for 'drain'.
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('error', () => {});
    s.pause(); // read nothing: the server's write backs up
    await new Promise((r) => setTimeout(r, 30));
    for (const release of gone.splice(0)) release();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(guarded.stats().inFlight, 1, 'held while the body is being written');
    s.destroy();
    await within(10_000, (async () => { while (guarded.stats().inFlight !== 0) await new Promise((r) => setTimeout(r, 5)); })(), 'release mid-body');
    // Still serving: both permits are free.
    const answered = [get(port, agent), get(port, agent)];
    await new Promise((r) => setTimeout(r, 30));
    for (const release of gone.splice(0)) release();
    for (const res of await Promise.all(answered)) assert.equal(res.status, 200);
  } finally {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
