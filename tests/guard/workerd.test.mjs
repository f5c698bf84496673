// workerd: serves tests/guard/workerd-worker.js with the package as a bundler
// hands it over ("workerd" condition, the .wasm as a wasm module) on
// 127.0.0.1, runs the host-neutral guard cases inside it, then checks the
// guard over real HTTP: keyed by CF-Connecting-IP, 429 + Retry-After, the
// permit held while the body streams and returned when the client cancels.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { guardCases } from './cases.js';
import { startWorkerd } from '../hosts/workerd-host.mjs';

let host;
let base;
let results;

before(async () => {
  host = await startWorkerd({
    worker: 'tests/guard/workerd-worker.js',
    moduleDirs: ['tests/conformance', 'tests/guard'],
  });
  base = host.url;
  results = await host.json('/cases');
});

after(() => host?.stop());

for (const c of guardCases) {
  test(`workerd: ${c.name}`, () => {
    const result = results.find((r) => r.name === c.name);
    if (!result?.ok) throw new Error(result ? result.error : 'not run');
  });
}

const from = (ip) => ({ headers: { 'CF-Connecting-IP': ip } });
const stats = async () => (await fetch(`${base}/stats`)).json();

/** A GET whose socket the test can destroy (a client walking away). */
function open(ip) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/`, { agent: false, headers: { 'CF-Connecting-IP': ip } }, (res) => {
      res.once('data', (chunk) => resolve({ res, req, first: String(chunk) }));
    });
    req.on('error', (e) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

test('workerd: keyed by CF-Connecting-IP; 429 + Retry-After; held while streaming, released on disconnect', async () => {
  const a = await open('192.0.2.1');
  assert.equal(a.res.statusCode, 200);
  assert.equal(a.res.headers['ratelimit-limit'], '1000');
  assert.equal(a.first, 'hello 192.0.2.1\n');
  assert.equal((await stats()).inFlight, 1, 'held while the body streams');
  const same = await fetch(`${base}/`, from('192.0.2.1'));
  assert.equal(same.status, 429);
  assert.equal(same.headers.get('retry-after'), '1');
  assert.match(await same.text(), /^Too Many Requests/);
  const other = await open('192.0.2.2');
  assert.equal(other.res.statusCode, 200, 'another client address has its own cap');
  assert.equal((await stats()).inFlight, 2);
  a.req.destroy();
  other.req.destroy();
  // The disconnect reaches workerd, which cancels the body; poll (bounded).
  let s;
  for (let i = 0; i < 400; i++) {
    s = await stats();
    if (s.inFlight === 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(s.inFlight, 0, `released after the clients left: ${JSON.stringify(s)}`);
  const again = await open('192.0.2.1');
  assert.equal(again.res.statusCode, 200);
  again.req.destroy();
});

test('workerd: a client that hangs up before the answer never leaks a permit, however the response ends', async () => {
  const net = await import('node:net');
  const { port } = new URL(base);
  for (const path of ['/late', '/late/empty', '/late/throw', '/late/stream']) {
    await Promise.all([0, 1].map(() => new Promise((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
      s.on('error', () => {});
      s.on('close', resolve);
      setTimeout(() => s.destroy(), 30);
    })));
    let s;
    for (let i = 0; i < 400; i++) {
      s = await (await fetch(`${base}/late-stats`)).json();
      if (s.inFlight === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(s.inFlight, 0, `${path}: released after the clients left: ${JSON.stringify(s)}`);
  }
  const res = await fetch(`${base}/late`);
  assert.equal(await res.text(), 'late', 'still serving');
});
