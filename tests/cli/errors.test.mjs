// User errors and hostile input end cleanly in both CLIs (issue 16, items 6
// and 7): a message naming the argument and exit 2, never a stack trace; a
// closed stdout ends the run quietly; an over-long line is one row with an
// error (linear time, bounded memory); `--rate N/s,burst=B` bounds bursts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { maxInWindow, startTarget } from '../../bindings/js/server/target.js';
import { CLI, rowsOf, run, start, tempDir, until, urlFile } from './helpers.mjs';

/** A stack trace line of V8 (`    at f (file:1:2)`) or a Rust panic. */
const STACK = /^\s+at .+[:)]|panicked at|RUST_BACKTRACE/m;

async function usageError(args, pattern, opts) {
  const r = await run(args, { input: '', ...opts });
  assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, pattern, args.join(' '));
  assert.doesNotMatch(r.stderr, STACK, `${args.join(' ')} printed a stack trace:\n${r.stderr}`);
}

test('rates beyond 2^32 - 1 are usage errors naming the option, not stack traces', async () => {
  await usageError(['fetch', '--rate', '4294967296/s'], /--rate.*4294967295/);
  await usageError(['fetch', '--per-host-rate', '5000000000/s'], /--per-host-rate.*4294967295/);
  await usageError(['fetch', '--rate', '20/s,burst=0'], /--rate/);
  await usageError(['fetch', '--rate', '1/9999999h'], /--rate.*365 days/);
  await usageError(['fetch', '--timeout', '9000h'], /--timeout.*365 days/);
});

test('--save naming an existing file, and a directory as FILE, exit 2 naming them', async () => {
  const dir = await tempDir();
  try {
    const file = join(dir, 'hostname');
    await writeFile(file, 'not a directory\n');
    await usageError(['fetch', '--save', file], /--save.*hostname.*not a directory/);
    const urls = join(dir, 'urls.d');
    await mkdir(urls);
    await usageError(['fetch', urls], /urls\.d.*directory/);
    await usageError(['fetch', '--output', join(dir, 'no', 'such', 'dir', 'rows.ndjson')], /--output/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('`weir serve` on a port in use exits 2 naming --port', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    await usageError(['serve', '--port', String(t.port)], /--port/);
  } finally {
    await t.close();
  }
});

test('a closed stdout (| head -1) ends the run quietly and at once', async () => {
  const t = await startTarget({ delayMs: [50, 100] });
  try {
    const file = await urlFile(Array.from({ length: 2000 }, (_, i) => `${t.url}/${i}`));
    const p = start(['fetch', file, '--concurrency', '10', '--progress', 'none']);
    await until(() => p.stdout().includes('\n'));
    // What `head -1` does after its line: close the pipe.
    p.child.stdout.destroy();
    const began = performance.now();
    const r = await p.done;
    const ms = performance.now() - began;
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, STACK, r.stderr);
    assert.doesNotMatch(r.stderr, /EPIPE|Broken pipe/i, r.stderr);
    // 2,000 URLs at 10 in flight and 50-100 ms each would take ~15 s more.
    assert.ok(ms < 8000, `ended ${ms.toFixed(0)} ms after stdout closed`);
    assert.ok(t.stats().total < 1000, `${t.stats().total} requests sent after the reader left`);
  } finally {
    await t.close();
  }
});

test('a 6 MB line is one row with a clear error; the lines around it are fetched', async () => {
  const t = await startTarget({ delayMs: 0 });
  const dir = await tempDir();
  try {
    const path = join(dir, 'urls.txt');
    const huge = `${t.url}/${'x'.repeat(6 << 20)}`;
    await writeFile(path, `${t.url}/before\n${huge}\n${t.url}/after\n${'y'.repeat(3 << 20)}`);
    const r = await run(['fetch', path, '--progress', 'none']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, STACK, r.stderr);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 4, r.stdout.slice(0, 2000));
    const ok = rows.filter((row) => row.status === 200).map((row) => row.url).sort();
    assert.deepEqual(ok, [`${t.url}/after`, `${t.url}/before`]);
    const long = rows.filter((row) => row.error !== null);
    assert.equal(long.length, 2);
    for (const row of long) {
      assert.match(row.error, /line too long \((6291|3145)\d* (bytes|characters); the limit is 1048576, 1 MiB\)/);
      assert.ok(row.url.length <= 201, `the row shows ${row.url.length} characters of the line`);
      assert.equal(row.attempts, 0);
    }
    assert.equal(t.stats().total, 2, 'the long lines never reach the network');
  } finally {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('--rate 20/s,burst=5 and --per-host-rate 20/s,burst=5 admit bursts of 5, not 20', async () => {
  for (const flag of ['--rate', '--per-host-rate']) {
    const t = await startTarget({ delayMs: 0 });
    try {
      const file = await urlFile(Array.from({ length: 25 }, (_, i) => `${t.url}/${i}`));
      const r = await run(['fetch', file, flag, '20/s,burst=5', '--concurrency', '50', '--progress', 'none']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(rowsOf(r.stdout).length, 25);
      const ts = t.stats().hosts[`127.0.0.1:${t.port}`].timestamps;
      // GCRA: at most burst + rate·w = 5 + 20 × 0.1 = 7 admitted in any
      // 100 ms (a burst of 20 would put 20 in the first); 3 of slack for
      // arrivals bunched by connection set-up on a busy machine.
      const busiest = maxInWindow(ts, 100);
      assert.ok(busiest <= 10, `${busiest} arrivals in 100 ms at ${flag} 20/s,burst=5`);
      // 25 at 20/s after a burst of 5: 1 s from the first admission to the
      // last (a burst of 20 would take 250 ms); the first arrival may be late.
      assert.ok(ts[24] - ts[0] >= 600, `25 requests took only ${ts[24] - ts[0]} ms`);
    } finally {
      await t.close();
    }
  }
});

test('--timeout beyond 2^31 ms (600h) neither fires early nor floods warnings', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    const file = await urlFile([`${t.url}/delay?ms=300`]);
    const r = await run(['fetch', file, '--timeout', '600h', '--progress', 'none']);
    assert.equal(r.code, 0, r.stderr);
    const [row] = rowsOf(r.stdout);
    assert.equal(row.status, 200, JSON.stringify(row));
    assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning|Warning/, r.stderr);
  } finally {
    await t.close();
  }
});

test(`${CLI}: --help prints the usage (exit 0); no command prints it with exit 2`, async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: weir <command>/);
  assert.match(help.stdout, /--rate 20\/s,burst=5/);
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.stdout, /usage: weir <command>/);
});

test(`${CLI}: --redis that cannot be reached at start exits 2 naming the URL (password masked), before any request`, async () => {
  const t = await startTarget({ delayMs: 0 });
  const { createServer } = await import('node:net');
  // A port nothing listens on: bound, then closed.
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  try {
    const file = await urlFile([`${t.url}/a`, `${t.url}/b`]);
    const url = `redis://127.0.0.1:${port}/0`;
    const started = Date.now();
    await usageError(['fetch', file, '--redis', url], new RegExp(`^weir fetch: --redis: cannot connect to redis://127\\.0\\.0\\.1:${port}/0 \\(.+\\)\\n$`));
    assert.ok(Date.now() - started < 5000, 'the start check gives up within its second');
    const r = await run(['fetch', file, '--redis', `redis://:hunter2@127.0.0.1:${port}/0`], { input: '' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--redis: cannot connect to redis:\/\/:\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch(r.stderr, /hunter2/);
    assert.equal(r.stdout, '', 'no rows');
    assert.equal(t.stats().total, 0, 'no request was sent');
  } finally {
    await t.close();
  }
});

test(`${CLI}: bad --redis arguments exit 2 naming them`, async () => {
  await usageError(['fetch', '--redis', 'http://127.0.0.1:6379'], /--redis.*redis:\/\/host:6379\/0/);
  await usageError(['fetch', '--redis', 'localhost'], /--redis/);
  await usageError(['fetch', '--redis-prefix', 'a:'], /--redis-prefix/);
  await usageError(['fetch', '--redis-policy', 'open'], /--redis-policy/);
  await usageError(['fetch', '--redis', 'redis://127.0.0.1:1/', '--redis-policy', 'lax'], /--redis-policy.*closed, open or local/);
  await usageError(['fetch', '--redis', 'redis://127.0.0.1:1/', '--redis-prefix', ''], /--redis-prefix/);
});
