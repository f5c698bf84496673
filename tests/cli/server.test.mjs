// Unit tests of the local target server (bindings/js/server/target.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTarget, maxInWindow } from '../../bindings/js/server/target.js';

/** GET with an explicit Host header; resolves { status, headers, body } or { error }. */
function get(url, { host, agent = false } = {}) {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, agent, headers: host ? { host } : {} },
      (res) => {
        const parts = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', (error) => resolve({ error }));
      },
    );
    req.on('error', (error) => resolve({ error }));
    req.end();
  });
}

test('answers Hello, World! within the delay range, on 127.0.0.1', async () => {
  const t = await startTarget({ delayMs: [20, 40] });
  try {
    assert.match(t.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const t0 = performance.now();
    const r = await get(`${t.url}/`);
    const ms = performance.now() - t0;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'Hello, World!');
    assert.ok(ms >= 19, `answered after ${ms} ms, below the 20 ms minimum delay`);
    const s = t.stats();
    assert.equal(s.total, 1);
    assert.equal(s.current, 0);
  } finally {
    await t.close();
  }
});

test('counts concurrency, totals, statuses and arrivals per Host header', async () => {
  const t = await startTarget({ delayMs: [500, 500] });
  try {
    const a = Array.from({ length: 5 }, () => get(`${t.url}/`, { host: 'a.test' }));
    const b = Array.from({ length: 3 }, () => get(`${t.url}/`, { host: 'b.test:81' }));
    for (let i = 0; i < 200 && t.stats().current < 8; i++) await new Promise((r) => setTimeout(r, 5));
    const mid = t.stats();
    assert.equal(mid.hosts['a.test'].current, 5);
    assert.equal(mid.hosts['b.test:81'].current, 3);
    assert.equal(mid.current, 8);
    await Promise.all([...a, ...b]);
    const s = t.stats();
    assert.equal(s.hosts['a.test'].maxConcurrent, 5);
    assert.equal(s.hosts['a.test'].total, 5);
    assert.equal(s.hosts['a.test'].current, 0);
    assert.deepEqual(s.hosts['a.test'].statuses, { 200: 5 });
    assert.equal(s.hosts['b.test:81'].maxConcurrent, 3);
    assert.equal(s.maxConcurrent, 8);
    assert.equal(s.total, 8);
    assert.equal(s.hosts['a.test'].timestamps.length, 5);
    const perSecond = s.hosts['a.test'].perSecond.reduce((n, [, c]) => n + c, 0);
    assert.equal(perSecond, 5);
    t.reset();
    assert.equal(t.stats().total, 0);
    assert.deepEqual(t.stats().hosts, {});
  } finally {
    await t.close();
  }
});

test('timestamp ring and host map stay bounded', async () => {
  const t = await startTarget({ delayMs: 0, timestampRing: 4, maxHosts: 2 });
  try {
    for (let i = 0; i < 10; i++) await get(`${t.url}/`, { host: 'a.test' });
    for (const h of ['b.test', 'c.test', 'd.test']) await get(`${t.url}/`, { host: h });
    const s = t.stats();
    assert.equal(s.hosts['a.test'].timestamps.length, 4);
    assert.equal(s.hosts['a.test'].timestampsDropped, 6);
    assert.equal(s.hosts['a.test'].total, 10);
    assert.deepEqual(Object.keys(s.hosts).sort(), ['(other)', 'a.test', 'b.test']);
    assert.equal(s.hosts['(other)'].total, 2);
  } finally {
    await t.close();
  }
});

test('/status/429 with Retry-After seconds and HTTP date; /status/503', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    const a = await get(`${t.url}/status/429?retry-after=1`);
    assert.equal(a.status, 429);
    assert.equal(a.headers['retry-after'], '1');
    const b = await get(`${t.url}/status/429?retry-after-date=2`);
    assert.equal(b.status, 429);
    const until = Date.parse(b.headers['retry-after']) - Date.now();
    assert.ok(until > 0 && until <= 2000, `retry-after date is ${until} ms away`);
    const c = await get(`${t.url}/status/503`);
    assert.equal(c.status, 503);
    assert.equal(c.headers['retry-after'], undefined);
    assert.deepEqual(t.stats().hosts[`127.0.0.1:${t.port}`].statuses, { 429: 2, 503: 1 });
  } finally {
    await t.close();
  }
});

test('status429Rate answers 429 with Retry-After at the configured share, per host', async () => {
  const t = await startTarget({ delayMs: 0, status429Rate: { 'busy.test': 1 }, retryAfter: 3 });
  try {
    const busy = await get(`${t.url}/`, { host: 'busy.test' });
    assert.equal(busy.status, 429);
    assert.equal(busy.headers['retry-after'], '3');
    const calm = await get(`${t.url}/`, { host: 'calm.test' });
    assert.equal(calm.status, 200);
  } finally {
    await t.close();
  }
  const half = await startTarget({ delayMs: 0, status429Rate: 0.5 });
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    const rs = await Promise.all(Array.from({ length: 400 }, () => get(`${half.url}/`, { agent })));
    agent.destroy();
    const n429 = rs.filter((r) => r.status === 429).length;
    assert.ok(n429 > 120 && n429 < 280, `${n429} of 400 were 429 at rate 0.5`);
  } finally {
    await half.close();
  }
});

test('/bytes, /delay, /echo, /slow-body and /reset', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    const bytes = await get(`${t.url}/bytes?n=100000`);
    assert.equal(bytes.body.length, 100000);
    const t0 = performance.now();
    const d = await get(`${t.url}/delay?ms=60`);
    assert.ok(performance.now() - t0 >= 59);
    assert.equal(d.body.toString(), 'Hello, World!');
    const echo = await get(`${t.url}/echo?x=1`, { host: 'echo.test' });
    const e = JSON.parse(echo.body.toString());
    assert.equal(e.method, 'GET');
    assert.equal(e.url, '/echo?x=1');
    assert.equal(e.headers.host, 'echo.test');
    const slow = await get(`${t.url}/slow-body?ms=50&chunks=5`);
    assert.equal(slow.body.toString(), '.....');
    const reset = await get(`${t.url}/reset`);
    assert.ok(reset.error, 'the socket was destroyed');
    assert.equal(t.stats().current, 0);
  } finally {
    await t.close();
  }
});

test('capacity is a knee: at most that many served at once, the rest wait in turn', async () => {
  const t = await startTarget({ delayMs: [50, 50], capacity: 2 });
  try {
    const t0 = performance.now();
    const times = await Promise.all(
      Array.from({ length: 6 }, () => get(`${t.url}/`).then((r) => (assert.equal(r.status, 200), performance.now() - t0))),
    );
    times.sort((x, y) => x - y);
    // All six were there at once, served in three waves of two, 50 ms each:
    // the last answer comes at least two delays after the first.
    assert.equal(t.stats().maxConcurrent, 6);
    assert.ok(times[5] - times[0] >= 95, `answers spread over ${times[5] - times[0]} ms only`);
  } finally {
    await t.close();
  }
});

test('options are validated and only loopback is allowed', async () => {
  await assert.rejects(startTarget({ capacity: 0 }), /capacity/);
  await assert.rejects(startTarget({ delayMs: [5, 1] }), /delayMs/);
  await assert.rejects(startTarget({ status429Rate: 2 }), /status429Rate/);
  await assert.rejects(startTarget({ host: '0.0.0.0' }), /host/);
  await assert.rejects(startTarget({ bogus: 1 }), /bogus/);
});

test('maxInWindow counts the busiest sliding window', () => {
  assert.equal(maxInWindow([], 1000), 0);
  assert.equal(maxInWindow([0, 100, 999, 1000, 1500, 1998], 1000), 4);
  assert.equal(maxInWindow([0, 2000, 4000], 1000), 1);
});
