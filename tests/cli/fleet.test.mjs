// Fleet mode (`weir fetch --redis URL`): several `weir` processes, native and
// Node, share one per-host quota through a real redis-server started here on
// a free port; a counting HTTP server on 127.0.0.1 is the judge. Runs both
// builds side by side, so it runs once, under WEIR_CLI=native
// (`npm run test:cli:native` builds the native binary first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { RedisServer, SKIP } from '../redis/helpers.mjs';
import { CLI, rowsOf, start, until, urlFile } from './helpers.mjs';

const skip = SKIP || (CLI !== 'native' && 'runs both builds: under WEIR_CLI=native (npm run test:cli:native)');

/**
 * An HTTP server on 127.0.0.1 that records each arrival (`{ ms, path }`)
 * and answers 200, or 429 with `Retry-After: 1` when `limited(path)` says so.
 */
async function countingServer(limited = () => false) {
  const arrivals = [];
  const server = createServer((req, res) => {
    arrivals.push({ ms: performance.now(), path: req.url });
    if (limited(req.url)) {
      res.writeHead(429, { 'retry-after': '1' });
      res.end('slow down');
      return;
    }
    res.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    arrivals,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const RATE = 50; // per second
const BURST = 5;

test('3 native + 1 Node weir share one per-host quota through --redis: every 1 s window within 50 + burst, ≥ 90 % of it used', { skip }, async () => {
  const redis = await RedisServer.start();
  const server = await countingServer();
  try {
    const builds = ['native', 'native', 'native', 'js'];
    const perProcess = 80; // 320 in all: ~6.3 s at 50/s
    const runs = [];
    for (const [i, cli] of builds.entries()) {
      const file = await urlFile(Array.from({ length: perProcess }, (_, j) => `${server.url}/p${i}/${j}`));
      const args = ['fetch', file, '--per-host-rate', `${RATE}/s,burst=${BURST}`, '--redis', redis.url, '--redis-prefix', 'fleet-test:', '--progress', 'none'];
      runs.push(start(args, { cli }));
    }
    const results = await Promise.all(runs.map((r) => r.done));
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, `process ${i} (${builds[i]}): ${r.stderr}`);
      const rows = rowsOf(r.stdout);
      assert.equal(rows.length, perProcess, `process ${i} rows`);
      assert.deepEqual(rows.filter((row) => row.status !== 200), [], `process ${i}: every row 200`);
    }
    const { arrivals } = server;
    assert.equal(arrivals.length, builds.length * perProcess, 'one request per URL');
    for (const i of builds.keys()) {
      const n = arrivals.filter((a) => a.path.startsWith(`/p${i}/`)).length;
      assert.equal(n, perProcess, `process ${i} (${builds[i]}) sent its ${perProcess}`);
    }
    const first = arrivals[0].ms;
    const last = arrivals.at(-1).ms;
    // Every whole 1-second window from the first arrival, after the first:
    // at most rate · 1 s + burst (GCRA's bound; four unshared limits would
    // allow 4×). The first window also holds the arrivals delayed by each
    // process's connection set-up, so it is only reported.
    const windows = [];
    for (let t = first; t + 1000 <= last; t += 1000) {
      windows.push(arrivals.filter((a) => a.ms >= t && a.ms < t + 1000).length);
    }
    assert.ok(windows.length >= 4, `${windows.length} whole windows`);
    for (const [k, n] of windows.entries()) {
      if (k === 0) continue;
      assert.ok(n <= RATE + BURST, `window ${k}: ${n} requests > ${RATE} + ${BURST} (windows: ${windows.join(', ')})`);
    }
    // The fleet used the quota: from the first arrival to the last, the
    // bound allows burst + rate · span.
    const bound = BURST + (RATE * (last - first)) / 1000;
    const used = arrivals.length / bound;
    assert.ok(used >= 0.9, `the fleet used ${(used * 100).toFixed(1)} % of the quota (${arrivals.length} of ${bound.toFixed(0)}; windows: ${windows.join(', ')})`);
    console.log(`fleet: ${arrivals.length} requests in ${((last - first) / 1000).toFixed(2)} s, ${(used * 100).toFixed(1)} % of the bound; windows ${windows.join(', ')}`);
  } finally {
    await server.close();
    await redis.stop();
  }
});

/**
 * One `weir fetch --redis` run of `n` URLs at 20/s whose redis-server is
 * SIGKILLed once `killAfter` requests have arrived; the rows, the exit and
 * the server's count.
 */
async function runKilled(cli, policy, { n = 40, killAfter = 5 } = {}) {
  const redis = await RedisServer.start();
  const server = await countingServer();
  try {
    const file = await urlFile(Array.from({ length: n }, (_, j) => `${server.url}/${j}`));
    const args = ['fetch', file, '--per-host-rate', '20/s,burst=1', '--redis', redis.url, '--progress', 'none'];
    if (policy !== undefined) args.push('--redis-policy', policy);
    const p = start(args, { cli });
    await until(() => server.arrivals.length >= killAfter || p.child.exitCode !== null, 10_000);
    const sentBefore = server.arrivals.length;
    await redis.stop();
    const r = await p.done;
    return { r, rows: rowsOf(r.stdout), sent: server.arrivals.length, sentBefore };
  } finally {
    await server.close();
    await redis.stop();
  }
}

test('Redis killed mid-run: closed (the default) fails the rest with the store error and exits; local finishes under local limits — both builds', { skip }, async () => {
  const runs = await Promise.all(
    ['native', 'js'].flatMap((cli) => [undefined, 'local'].map(async (policy) => ({ cli, policy, ...(await runKilled(cli, policy)) }))),
  );
  for (const { cli, policy, r, rows, sent, sentBefore } of runs) {
    const what = `${cli} --redis-policy ${policy ?? '(default)'}`;
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assert.equal(rows.length, 40, `${what}: one row per URL`);
    const ok = rows.filter((row) => row.status === 200);
    assert.ok(sentBefore >= 3, `${what}: ${sentBefore} requests before the kill`);
    if (policy === undefined) {
      const failed = rows.filter((row) => row.status === null);
      assert.ok(failed.length > 0, `${what}: no request failed after the kill`);
      for (const row of failed) {
        assert.match(row.error, /weir redis store: \w+ call/, `${what}: ${row.error}`);
        assert.equal(row.attempts, 0, `${what}: a failed admission sends nothing`);
      }
      assert.equal(sent, ok.length, `${what}: only admitted requests reached the server`);
    } else {
      assert.equal(ok.length, 40, `${what}: ${JSON.stringify(rows.find((row) => row.status !== 200))}`);
      assert.equal(sent, 40);
    }
  }
});

test('a Redis that accepts but never answers (SIGSTOP) at start: exit 2 after the 1 s check, the same message from both builds', { skip }, async () => {
  const redis = await RedisServer.start();
  try {
    redis.signal('SIGSTOP');
    const started = performance.now();
    const [native, js] = await Promise.all(
      ['native', 'js'].map((cli) => start(['fetch', '--redis', redis.url, '--progress', 'none'], { cli, input: 'http://127.0.0.1:1/\n' }).done),
    );
    const took = performance.now() - started;
    for (const r of [native, js]) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `weir fetch: --redis: cannot connect to ${redis.url} (no answer within 1000 ms)\n`);
      assert.equal(r.stdout, '');
    }
    assert.ok(took < 8000, `gave up after ${took.toFixed(0)} ms`);
  } finally {
    redis.signal('SIGCONT');
    await redis.stop();
  }
});

test("one process's 429 + Retry-After pauses the host for the whole fleet (native → Node and Node → native)", { skip }, async () => {
  // Two fleets side by side. In each, the first request of `first` (one
  // build) gets a 429 with Retry-After: 1; `other` (the other build),
  // started then, must not send inside that second (it learns of the pause
  // from Redis alone), nor `first` (after what was already on the wire).
  // Few URLs: after a pause the host eases back in slowly (core's ramp).
  const scenario = async (first, other) => {
    const redis = await RedisServer.start();
    let given = null;
    const server = await countingServer((path) => {
      if (given !== null || !path.startsWith(`/${first}/`)) return false;
      given = performance.now();
      return true;
    });
    const fetchArgs = async (cli, n) => {
      const file = await urlFile(Array.from({ length: n }, (_, j) => `${server.url}/${cli}/${j}`));
      return ['fetch', file, '--per-host-rate', '40/s,burst=1', '--redis', redis.url, '--progress', 'none'];
    };
    try {
      const a = start(await fetchArgs(first, 3), { cli: first });
      await until(() => given !== null, 10_000);
      const b = start(await fetchArgs(other, 4), { cli: other });
      const results = await Promise.all([a.done, b.done]);
      for (const [r, n] of [[results[0], 3], [results[1], 4]]) {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(rowsOf(r.stdout).filter((row) => row.status === 200).length, n, r.stdout);
      }
      const inside = server.arrivals.filter((a) => a.ms > given + 100 && a.ms < given + 950);
      assert.deepEqual(inside.map((a) => `${a.path} at +${(a.ms - given).toFixed(0)} ms`), [], `${first} → ${other}`);
      assert.equal(server.arrivals.filter((a) => a.path.startsWith(`/${other}/`)).length, 4, `${other} sent its 4 after the pause`);
    } finally {
      await server.close();
      await redis.stop();
    }
  };
  await Promise.all([scenario('native', 'js'), scenario('js', 'native')]);
});
