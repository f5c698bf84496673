// `weir serve` and `weir demo` end to end, on either CLI (WEIR_CLI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTarget } from '../../bindings/js/server/target.js';
import { CLI, run, start, until } from './helpers.mjs';

test(`${CLI}: weir serve answers on 127.0.0.1, counts, and stops on SIGTERM`, async () => {
  const p = start(['serve', '--port', '0', '--delay', '0-10ms']);
  await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(p.stdout()));
  const url = /listening on (http:\/\/\S+)/.exec(p.stdout())[1];
  const hello = await fetch(`${url}/hello`);
  assert.equal(hello.status, 200);
  assert.equal(await hello.text(), 'Hello, World!');
  const limited = await fetch(`${url}/status/429?retry-after=3`);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '3');
  await limited.arrayBuffer();
  assert.equal((await (await fetch(`${url}/bytes?n=1000`)).arrayBuffer()).byteLength, 1000);
  const stats = await (await fetch(`${url}/__weir/stats`)).json();
  assert.equal(stats.total, 4, 'three requests and this one');
  assert.equal(stats.current, 1, 'this one');
  p.child.kill('SIGTERM');
  const r = await p.done;
  assert.ok(r.code === 0 || r.signal === 'SIGTERM', `exit ${r.code} ${r.signal}`);
});

test(`${CLI}: weir demo --json runs the scenario against its own server`, async () => {
  for (const server of ['child', 'in-process']) {
    const r = await run(['demo', '--requests', '300', '--concurrency', '50', '--delay', '0-20ms', '--server', server, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.equal(d.requests, 300);
    assert.deepEqual(d.byStatus, { 200: 300 });
    assert.ok(d.serverMaxConcurrent <= 50 && d.serverMaxConcurrent >= 10, `server saw ${d.serverMaxConcurrent}`);
    assert.ok(d.reqPerSec > 0 && d.peakRssMB > 0 && d.clientCpuMsPerRequest > 0, JSON.stringify(d));
    assert.ok(d.ofServerDelayBound > 0 && d.ofServerDelayBound <= 1.2, JSON.stringify(d));
  }
});

test(`${CLI}: weir demo --target uses a server already running`, async () => {
  const t = await startTarget({ delayMs: [0, 20] });
  try {
    const r = await run(['demo', '--requests', '200', '--concurrency', '20', '--delay', '0-20ms', '--target', t.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(t.stats().total, 200 + 1, 'the 200 requests and one stats read');
    assert.ok(t.stats().maxConcurrent <= 21, `${t.stats().maxConcurrent} concurrent`);
    assert.match(r.stdout, /requests\/s: +\d+/);
    assert.match(r.stdout, /Little's-law bound: \d+ req\/s/);
    assert.match(r.stdout, /server-delay bound: \d+ req\/s .*achieved [\d.]+%/);
    assert.match(r.stdout, /peak RSS: +[\d.]+ MB/);
  } finally {
    await t.close();
  }
});

test(`${CLI}: weir --version prints the package version; both builds agree`, async () => {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const cargo = readFileSync(new URL('../../cli/Cargo.toml', import.meta.url), 'utf8');
  assert.equal(/^version = "([^"]+)"/m.exec(cargo)?.[1], pkg.version, 'cli/Cargo.toml and package.json versions');
  for (const flag of ['--version', '-V']) {
    const r = await run([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `weir ${pkg.version}\n`);
  }
});

test(`${CLI}: weir serve --capacity N serves N at once, the rest in turn`, async () => {
  const p = start(['serve', '--port', '0', '--delay', '200ms', '--capacity', '2']);
  try {
    await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(p.stdout()));
    assert.match(p.stdout(), /capacity 2, /);
    const url = /listening on (http:\/\/\S+)/.exec(p.stdout())[1];
    const started = performance.now();
    const done = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const r = await fetch(`${url}/`);
        await r.text();
        return performance.now() - started;
      }),
    );
    done.sort((a, b) => a - b);
    // 6 requests, 2 at a time, 200 ms each: the last ends after ~600 ms
    // (all at once would end them all after ~200 ms).
    assert.ok(done[5] >= 550, `the last answer after ${done[5].toFixed(0)} ms`);
    assert.ok(done[1] < 500, `the first two after ${done[1].toFixed(0)} ms`);
  } finally {
    p.child.kill('SIGTERM');
    await p.done;
  }
});
