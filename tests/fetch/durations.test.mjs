// Durations beyond one host timer (2^31 - 1 ms, ~24.8 days): accepted up to
// the documented maximum (10^12 ms) and never firing early; beyond it, a
// RangeError naming the option. Real server on 127.0.0.1.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter } from 'weir-limiter';
import { targets, atRest, until } from './helpers.mjs';

const [t] = await targets(1, { delayMs: 30 });
after(() => t.close());

const LONG = 2 ** 31; // one past what a host setTimeout keeps
const warnings = [];
process.on('warning', (w) => warnings.push(w.name));

test('timeout, queueTimeout and bodyTimeout of 2^31 ms and more do not fire early', async () => {
  const limiter = new Limiter({ concurrency: 1 });
  for (const ms of [LONG, 30 * 86_400_000, 1e12]) {
    const res = await limiter.fetch(t.url, { timeout: ms, queueTimeout: ms, bodyTimeout: ms });
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 20)); // past where an overflowed timer fires
    assert.equal((await res.text()).length > 0, true, 'the body is still readable');
  }
  // A queued request with a long queueTimeout waits for its permit.
  const first = await limiter.fetch(t.url, { queueTimeout: LONG });
  const second = limiter.fetch(t.url, { queueTimeout: LONG, timeout: LONG });
  await new Promise((r) => setTimeout(r, 50));
  await first.text();
  assert.equal((await second).status, 200);
  await (await second).text();
  await until(() => atRest(limiter), 5_000, 'limiter at rest');
  assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
});

test('durations past the documented maximum are RangeErrors naming the option', async () => {
  const limiter = new Limiter({ concurrency: 1 });
  for (const name of ['timeout', 'queueTimeout', 'bodyTimeout']) {
    await assert.rejects(limiter.fetch(t.url, { [name]: 1e12 + 1 }), (e) => e instanceof RangeError && e.message.includes(`'${name}'`));
    if (name !== 'bodyTimeout') await assert.rejects(limiter.fetch(t.url, { [name]: Infinity }), RangeError);
  }
  // bodyTimeout: Infinity means "never" (documented).
  await (await limiter.fetch(t.url, { bodyTimeout: Infinity })).text();
  await assert.rejects(limiter.fetch(t.url, { retry: { maxDelay: 2e12 } }), (e) => e instanceof RangeError && e.message.includes('retry.maxDelay'));
  assert.throws(() => limiter.pause('k', 1e13), (e) => e instanceof RangeError && e.message.includes("'ms'"));
  assert.throws(() => new Limiter({ rate: { limit: 1, interval: Infinity } }), (e) => e instanceof RangeError && e.message.includes("'rate.interval'"));
  assert.equal(limiter.stats().inFlight, 0);
});
