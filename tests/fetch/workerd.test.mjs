// limiter.fetch under workerd: the Worker (workerd-worker.js, importing the
// package with the "workerd" condition) fetches from a target server on
// 127.0.0.1; the server sees at most 6 requests at once (workerd's default
// concurrency) and every body arrives.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkerd } from '../hosts/workerd-host.mjs';
import { targets, hostStats } from './helpers.mjs';

const [server] = await targets(1);
let host;
after(async () => {
  await host?.stop();
  await server.close();
});

test('workerd: limiter.fetch caps a host at 6 by default and holds permits to the body end', { timeout: 60_000 }, async () => {
  host = await startWorkerd({ worker: 'tests/fetch/workerd-worker.js', network: true });
  const result = await host.json(`/?target=${encodeURIComponent(server.url)}`);
  assert.equal(result.ok, 24);
  assert.equal(result.concurrency, 6);
  assert.equal(result.inFlight, 0);
  assert.equal(result.retriedAttempts, 2);
  const s = hostStats(server);
  assert.equal(s.total, 24 + 2);
  assert.ok(s.maxConcurrent <= 6, `the server saw ${s.maxConcurrent} at once`);
  const key = Object.keys(result.fetchStats)[0];
  assert.equal(result.fetchStats[key].sent, 26);
  assert.equal(result.fetchStats[key].retried, 1);
});
