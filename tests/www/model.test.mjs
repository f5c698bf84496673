// The live view's pure parts, without a browser: the simulated hosts' state
// machine (what the browser test's server-side checks rely on), the quota
// syntax of the form, and the bounded time series behind the charts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostModel } from '../../www/shared/host-model.js';
import { profileOf, sampleLatency } from '../../www/shared/profiles.js';
import { parseQuotas, planOf } from '../../www/app/settings.js';
import { Columns } from '../../www/app/recorder.js';

test('host model: limited accepts 25 in a second, then 429 + Retry-After and a 1 s cooldown', () => {
  const host = new HostModel(profileOf('limited'));
  for (let i = 0; i < 25; i++) {
    const a = host.arrive(i * 10);
    assert.equal(a.status, 200, `arrival ${i}`);
    host.leave(200);
  }
  const refused = host.arrive(300);
  assert.deepEqual([refused.status, refused.retryAfter], [429, 1]);
  host.leave(429);
  // Inside the cooldown: 429 again, counted with its offset into the cooldown.
  const inside = host.arrive(350);
  assert.equal(inside.status, 429);
  host.leave(429);
  // After it (and with the last second's 25 gone): accepted.
  const after = host.arrive(1301);
  assert.equal(after.status, 200);
  host.leave(200);
  const s = host.stats();
  assert.deepEqual(s.cooldowns, [[300, 1300]]);
  assert.equal(s.cooldownArrivals, 1);
  assert.deepEqual(s.cooldownOffsets, [50]);
  assert.deepEqual(s.statuses, { 200: 26, 429: 2 });
  assert.equal(s.total, 28);
  assert.equal(s.current, 0);
});

test('host model: a steady 25/s never gets a 429; the remaining cooldown is rounded up', () => {
  const host = new HostModel(profileOf('limited'));
  for (let i = 0; i < 200; i++) {
    assert.equal(host.arrive(i * 40).status, 200, `arrival at ${i * 40} ms`);
    host.leave(200);
  }
  const cooling = new HostModel({ ...profileOf('limited'), limit: { rate: 1, retryAfter: 3 } });
  cooling.arrive(0);
  assert.equal(cooling.arrive(10).retryAfter, 3);
  assert.equal(cooling.arrive(1100).retryAfter, 2, '1.91 s left → 2');
});

test('host model: counts the largest number in flight at once', () => {
  const host = new HostModel(profileOf('api'));
  host.arrive(0);
  host.arrive(1);
  host.arrive(2);
  host.leave(200);
  host.arrive(3);
  host.leave(200);
  host.leave(200);
  host.leave(200);
  const s = host.stats();
  assert.equal(s.maxConcurrent, 3);
  assert.equal(s.current, 0);
  assert.deepEqual(s.arrivals, [0, 1, 2, 3]);
});

test('host model: arrival stamps are a bounded ring', () => {
  const host = new HostModel(profileOf('cdn'), { ring: 8 });
  for (let i = 0; i < 20; i++) host.arrive(i);
  const s = host.stats();
  assert.deepEqual(s.arrivals, [12, 13, 14, 15, 16, 17, 18, 19]);
  assert.equal(s.arrivalsDropped, 12);
});

test('profiles: latency stays within [median/5, median*10] and grows past the knee', () => {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const knee = profileOf('knee');
  const median = (inFlight) => {
    const xs = Array.from({ length: 2001 }, () => sampleLatency(knee, inFlight, random)).sort((a, b) => a - b);
    return xs[1000];
  };
  const at3 = median(3);
  const at6 = median(6);
  assert.ok(at3 > 15 && at3 < 25, `median at the knee ${at3}`);
  assert.ok(at6 / at3 > 2.4 && at6 / at3 < 3.3, `(6/3)^1.5 ≈ 2.83, got ${at6 / at3}`);
  for (let i = 0; i < 5000; i++) {
    const ms = sampleLatency(profileOf('api'), 1, random);
    assert.ok(ms >= 6 && ms <= 300, `${ms}`);
  }
});

test('settings: quotas in the weir command syntax, with an optional burst', () => {
  assert.deepEqual(parseQuotas('30/s burst 30, 100/5s', 'q'), [
    { limit: 30, interval: 1000, burst: 30 },
    { limit: 100, interval: 5000 },
  ]);
  assert.equal(parseQuotas('  ', 'q'), undefined);
  assert.throws(() => parseQuotas('30 per second', 'global quota'), { name: 'RangeError', message: /global quota.*30 per second/ });
  assert.throws(() => parseQuotas('30/s burst 0', 'per-host quota'), { name: 'RangeError', message: /per-host quota: burst/ });
});

test('settings: a plan names the bad field', () => {
  const ok = { hosts: ['cdn'], requests: '1,000', window: 10, concurrency: '', perKey: 2, rate: '', perKeyRate: '5/s', retries: 0 };
  const plan = planOf(ok, ['cdn']);
  assert.deepEqual(plan.limiter, { perKey: 2, perKeyRate: [{ limit: 5, interval: 1000 }] });
  assert.equal(plan.requests, 1000);
  assert.equal(plan.attempts, 1);
  assert.throws(() => planOf({ ...ok, hosts: [] }, ['cdn']), /hosts: pick at least one/);
  assert.throws(() => planOf({ ...ok, hosts: ['nope'] }, ['cdn']), /unknown host 'nope'/);
  assert.throws(() => planOf({ ...ok, perKey: '0' }, ['cdn']), /per-host cap/);
  assert.throws(() => planOf({ ...ok, requests: 'x' }, ['cdn']), /requests/);
});

test('time series: bounded; compaction keeps peaks and means', () => {
  const c = new Columns({ t: 'last', peak: 'max', rate: 'mean' }, 8);
  for (let i = 0; i < 100; i++) c.add({ t: i, peak: i === 37 ? 1000 : 1, rate: 10 });
  assert.ok(c.n <= 8);
  const peaks = Array.from(c.cols.peak.subarray(0, c.n));
  assert.ok(peaks.includes(1000), 'a one-tick peak survives compaction');
  assert.deepEqual(Array.from(c.cols.rate.subarray(0, c.n)), new Array(c.n).fill(10));
  const ts = Array.from(c.cols.t.subarray(0, c.n));
  assert.deepEqual(ts, [...ts].sort((a, b) => a - b), 'times stay in order');
  assert.ok(ts[c.n - 1] >= 90, `the series reaches the last ticks (${ts[c.n - 1]})`);
});

test('host model: a request from before a reset leaves uncounted', () => {
  const host = new HostModel(profileOf('api'));
  const old = host.arrive(0);
  host.arrive(1);
  host.reset();
  const fresh = host.arrive(2);
  host.leave(200, old.epoch);
  assert.equal(host.stats().current, 1, 'the old request did not lower the new count');
  host.leave(200, fresh.epoch);
  const s = host.stats();
  assert.deepEqual([s.current, s.maxConcurrent, s.total], [0, 1, 1]);
  assert.deepEqual(s.statuses, { 200: 1 });
});
