// Per-host caps as the server sees them, permits held to the end of the body.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter, limitedAsCompleted } from 'weir-limiter';
// Internal: how the workerd default (6) is set, not part of the public API.
import { setHostConnectionLimit } from '../../bindings/js/fetch.js';
import { targets, hostStats, atRest, until } from './helpers.mjs';

const [a, b] = await targets(2);
after(() => Promise.all([a.close(), b.close()]));

test('per-host in-flight never exceeds perKey at the server, bodies held to the end', async () => {
  a.reset();
  b.reset();
  const limiter = new Limiter({ concurrency: 8, perKey: 3 });
  // Headers at once, body over 60 ms: only holding the permit until the body
  // ends keeps the server-side count at perKey.
  const urls = [];
  for (let i = 0; i < 24; i++) urls.push(`${i % 2 ? a.url : b.url}/slow-body?ms=60&chunks=3`);
  const bodies = await Promise.all(urls.map((u) => limiter.fetch(u).then((r) => r.text())));
  assert.ok(bodies.every((t) => t === '...'));
  for (const t of [a, b]) {
    const s = hostStats(t);
    assert.equal(s.total, 12);
    assert.equal(s.maxConcurrent, 3, `server saw ${s.maxConcurrent} at once`);
  }
  assert.ok(atRest(limiter), JSON.stringify([limiter.stats(), limiter.fetchStats()]));
});

test("releaseOn: 'headers' frees the permit as soon as the response arrives", async () => {
  const limiter = new Limiter({ perKey: 1 });
  const first = await limiter.fetch(`${a.url}/slow-body?ms=200&chunks=2`, { releaseOn: 'headers' });
  assert.equal(limiter.stats().inFlight, 0);
  // The second request is admitted while the first body is still streaming.
  const second = await limiter.fetch(`${a.url}/delay?ms=0`, { releaseOn: 'headers' });
  assert.equal(await second.text(), 'Hello, World!');
  assert.equal(await first.text(), '..');
});

test('the permit is held until the body is read, cancelled or errored', async () => {
  const limiter = new Limiter({ perKey: 1 });
  const read = await limiter.fetch(`${a.url}/bytes?n=100000`);
  assert.equal(limiter.stats().inFlight, 1);
  assert.equal((await read.arrayBuffer()).byteLength, 100_000);
  assert.equal(limiter.stats().inFlight, 0);

  const cancelled = await limiter.fetch(`${a.url}/slow-body?ms=5000&chunks=5`);
  assert.equal(limiter.stats().inFlight, 1);
  await cancelled.body.cancel();
  assert.equal(limiter.stats().inFlight, 0);

  const aborter = new AbortController();
  const errored = await limiter.fetch(`${a.url}/slow-body?ms=5000&chunks=5`, { signal: aborter.signal });
  const reading = errored.text();
  aborter.abort();
  await assert.rejects(reading, { name: 'AbortError' });
  assert.ok(atRest(limiter), JSON.stringify([limiter.stats(), limiter.fetchStats()]));
});

test('bodyTimeout releases and errors a body nobody reads', async () => {
  const limiter = new Limiter({ perKey: 1 });
  const ignored = await limiter.fetch(`${a.url}/delay?ms=0`, { bodyTimeout: 100 });
  assert.equal(limiter.stats().inFlight, 1);
  // The next request for the key waits for the idle body to time out.
  const started = performance.now();
  const next = await limiter.fetch(`${a.url}/delay?ms=0`);
  assert.ok(performance.now() - started >= 90);
  assert.equal(await next.text(), 'Hello, World!');
  await assert.rejects(ignored.text(), { name: 'BodyTimeoutError' });
  assert.ok(atRest(limiter), JSON.stringify([limiter.stats(), limiter.fetchStats()]));
});

test('responses look like fetch responses', async () => {
  const limiter = new Limiter({ perKey: 2 });
  const r = await limiter.fetch(new URL(`${a.url}/echo?x=1`), { method: 'PUT', body: 'hi', headers: { 'x-weir': '1' } });
  assert.equal(r.status, 200);
  assert.equal(r.ok, true);
  assert.equal(r.url, `${a.url}/echo?x=1`);
  assert.equal(r.attempts, 1);
  assert.equal(r.headers.get('content-type'), 'application/json');
  const echo = await r.json();
  assert.equal(echo.method, 'PUT');
  assert.equal(echo.headers['x-weir'], '1');
  const head = await limiter.fetch(`${a.url}/delay?ms=0`, { method: 'HEAD' });
  assert.equal(head.body, null);
  assert.ok(atRest(limiter), JSON.stringify([limiter.stats(), limiter.fetchStats()]));
});

test('the key is host:port by default and keyOf overrides it', async () => {
  const limiter = new Limiter({ perKey: 1 });
  const r = await limiter.fetch(`${a.url}/delay?ms=0`);
  await r.text();
  assert.deepEqual(Object.keys(limiter.fetchStats()), [new URL(a.url).host]);
  const one = new Limiter({ perKey: 1 });
  const keyOf = () => 'everyone';
  a.reset();
  b.reset();
  await Promise.all(
    [a, b, a, b].map((t) => one.fetch(`${t.url}/slow-body?ms=40&chunks=2`, { keyOf }).then((x) => x.text())),
  );
  assert.deepEqual(Object.keys(one.fetchStats()), ['everyone']);
  // One key for both servers: never two requests at once anywhere.
  assert.equal(a.stats().maxConcurrent + b.stats().maxConcurrent, 2);
});

test('a limiter without a concurrency cap takes the host connection limit (workerd: 6)', async () => {
  setHostConnectionLimit(6);
  try {
    const free = new Limiter();
    await (await free.fetch(`${a.url}/delay?ms=0`)).text();
    assert.equal(free.stats().concurrency, 6);
    const set = new Limiter({ concurrency: 50 });
    await (await set.fetch(`${a.url}/delay?ms=0`)).text();
    assert.equal(set.stats().concurrency, 50);
  } finally {
    setHostConnectionLimit(undefined);
  }
  const node = new Limiter();
  await (await node.fetch(`${a.url}/delay?ms=0`)).text();
  assert.equal(node.stats().concurrency, Infinity);
});

test('limitedAsCompleted + limiter.fetch', async () => {
  a.reset();
  const limiter = new Limiter({ perKey: 4 });
  function* urls() {
    for (let i = 0; i < 200; i++) yield `${a.url}/delay?ms=${i % 5}`;
  }
  let n = 0;
  for await (const r of limitedAsCompleted(urls(), async (u, { signal }) => (await limiter.fetch(u, { signal })).text(), { concurrency: 16 })) {
    assert.deepEqual(r, { status: 'fulfilled', value: 'Hello, World!' });
    n += 1;
  }
  assert.equal(n, 200);
  assert.ok(hostStats(a).maxConcurrent <= 4);
  await until(() => atRest(limiter), 1_000, 'rest');
  const s = limiter.fetchStats()[new URL(a.url).host];
  assert.equal(s.sent, 200);
  assert.ok(s.p50 >= 0 && s.p50 <= s.p95 && s.p95 <= s.p99);
});

test('reading response.body as a stream releases at its end; an unpulled stream times out', async () => {
  const limiter = new Limiter({ perKey: 1 });
  const r = await limiter.fetch(`${a.url}/slow-body?ms=60&chunks=3`);
  assert.ok(r instanceof Response);
  const reader = r.body.getReader();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    assert.equal(limiter.stats().inFlight, 1);
    text += new TextDecoder().decode(value);
  }
  assert.equal(text, '...');
  assert.equal(limiter.stats().inFlight, 0);

  const idle = await limiter.fetch(`${a.url}/slow-body?ms=60&chunks=3`, { bodyTimeout: 80 });
  const idleReader = idle.body.getReader();
  await idleReader.read(); // one pull, then nobody reads
  await until(() => limiter.stats().inFlight === 0, 1_000, 'the idle body to time out');
  await assert.rejects(idleReader.read(), { name: 'BodyTimeoutError' });
  assert.ok(atRest(limiter));
});

test('fetchKeyOf: host:port with the default port, same as the URL parser', async () => {
  const { fetchKeyOf } = await import('weir-limiter');
  const cases = {
    'http://example.com/': 'example.com:80',
    'https://example.com': 'example.com:443',
    'https://example.com:8443/x?y#z': 'example.com:8443',
    'http://example.com:80/': 'example.com:80',
    'http://example.com:0080/': 'example.com:80',
    'HTTP://EXAMPLE.com/': 'example.com:80',
    'http://user:pw@example.com:81/': 'example.com:81',
    'http://[::1]:3000/': '[::1]:3000',
    'https://[::1]/': '[::1]:443',
    'http://127.0.0.1:9/?q': '127.0.0.1:9',
    'http://ex%61mple.com/': 'example.com:80',
    'http://a..b/': 'a..b:80',
  };
  for (const [input, key] of Object.entries(cases)) {
    assert.equal(fetchKeyOf(input), key, input);
    assert.equal(fetchKeyOf(new URL(input)), key, `URL ${input}`);
  }
  assert.throws(() => fetchKeyOf('http://example.com:99999/'), TypeError);
});
