// `guard(handler, { store })`: two guards on separate connections (two
// "servers" of a fleet) shed one client by one shared quota and one shared
// cap, with the exact Retry-After and RateLimit-* figures; a store failure
// answers as onStoreError says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guard } from '../../bindings/js/node.js';
import { RedisStore } from '../../bindings/js/redis/index.js';
import { RedisServer, CLIENTS, SKIP, sleep } from './helpers.mjs';

const ok = () => new Response('ok');
const request = () => new Request('http://127.0.0.1/');

async function fleet(server, n, opts, storeOpts = {}) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const { client, close } = await CLIENTS.ioredis(server.url);
    const store = new RedisStore(client, { prefix: 'g:', timeoutMs: 2000, ...storeOpts });
    out.push({ handler: opts(store), close: async () => { await store.close(); await close(); } });
  }
  return out;
}

test('guards share one quota per client: the 4th request is shed, with the server\'s figures', { skip: SKIP }, async () => {
  const server = await RedisServer.start();
  const guards = await fleet(server, 2, (store) =>
    guard(ok, { store, key: () => 'client', perKeyRate: { limit: 3, interval: 1000 } }));
  try {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await guards[i % 2].handler(request()));
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 429]);
    assert.deepEqual(answers.slice(0, 3).map((r) => r.headers.get('ratelimit-remaining')), ['2', '1', '0']);
    assert.equal(answers[0].headers.get('ratelimit-limit'), '3');
    assert.equal(answers[0].headers.get('ratelimit-policy'), '3;w=1');
    const shed = answers[3];
    assert.equal(shed.headers.get('retry-after'), '1'); // 333 ms, rounded up to seconds
    assert.equal(shed.headers.get('ratelimit-remaining'), '0');
    for (const r of answers) await r.text();
  } finally {
    for (const g of guards) await g.close();
    await server.stop();
  }
});

test('guards share one cap: a request in flight on one sheds the client on the other', { skip: SKIP }, async () => {
  const server = await RedisServer.start();
  let releaseBody;
  const slow = () =>
    new Response(new ReadableStream({ start: (c) => { releaseBody = () => { c.enqueue(new TextEncoder().encode('done')); c.close(); }; } }));
  const guards = await fleet(server, 2, (store) => guard(slow, { store, key: () => 'client', perKey: 1 }), { leaseMs: 5000 });
  try {
    const first = await guards[0].handler(request());
    assert.equal(first.status, 200);
    const second = await guards[1].handler(request());
    assert.equal(second.status, 429, 'the client has its one request in flight on the other server');
    assert.equal(second.headers.get('retry-after'), '1');
    releaseBody();
    assert.equal(await first.text(), 'done'); // the body ends: the lease is released
    await sleep(50);
    const third = await guards[1].handler(request());
    assert.equal(third.status, 200);
    releaseBody();
    await third.text();
  } finally {
    for (const g of guards) await g.close();
    await server.stop();
  }
});

test('a store failure: closed sheds (503 when asked), open serves, local guards in memory', { skip: SKIP }, async () => {
  const server = await RedisServer.start();
  const modes = ['closed', 'open', 'local'];
  const guards = await fleet(server, 3, (store) => {
    const mode = modes.shift();
    return guard(ok, { store, key: () => 'c', onStoreError: mode, status: 503, perKeyRate: { limit: 2, interval: 1000 } });
  }, { timeoutMs: 150 });
  try {
    await server.stop();
    const statuses = [];
    for (const g of guards) {
      const r = await g.handler(request());
      statuses.push(r.status);
      await r.text();
    }
    assert.deepEqual(statuses, [503, 200, 200]);
    // 'local': the in-memory guard has the same quota: 2 per second per client.
    const more = [];
    for (let i = 0; i < 2; i++) more.push((await guards[2].handler(request())).status);
    assert.deepEqual(more, [200, 429].map((s) => (s === 429 ? 503 : s)));
    assert.equal(guards[0].handler.stats().store.mode, 'degraded');
  } finally {
    for (const g of guards) await g.close();
    await server.stop();
  }
});
