// End-to-end tests of `weir fetch` (real processes, 127.0.0.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { maxInWindow, startTarget } from '../../bindings/js/server/target.js';
import { childTarget } from '../../js/cli/demo.js';
import { CLI, HEAP_PROBE, liveHeapOf, peakRssOf, rowsOf, run, start, tempDir, until, urlFile } from './helpers.mjs';

const ROW_KEYS = ['attempts', 'bytes', 'error', 'ms', 'status', 'url'];

test('NDJSON rows: one per URL, complete and correct; blanks, comments and bad URLs handled', async () => {
  const t = await startTarget({ delayMs: [0, 20] });
  try {
    const urls = Array.from({ length: 20 }, (_, i) => `${t.url}/hello/${i}`);
    const file = await urlFile([
      '# a comment',
      '',
      ...urls,
      '   ',
      `${t.url}/bytes?n=1234`,
      `  ${t.url}/status/503  `,
      'not a url',
      'ftp://example.com/file',
      '#another',
    ]);
    const r = await run(['fetch', file, '--retries', '0', '--concurrency', '4']);
    assert.equal(r.code, 0, r.stderr);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 24);
    for (const row of rows) assert.deepEqual(Object.keys(row).sort(), ROW_KEYS);
    const byUrl = new Map(rows.map((row) => [row.url, row]));
    for (const u of urls) {
      const row = byUrl.get(u);
      assert.equal(row.status, 200);
      assert.equal(row.bytes, 'Hello, World!'.length);
      assert.equal(row.attempts, 1);
      assert.equal(row.error, null);
      assert.ok(row.ms >= 0);
    }
    assert.equal(byUrl.get(`${t.url}/bytes?n=1234`).bytes, 1234);
    assert.equal(byUrl.get(`${t.url}/status/503`).status, 503);
    assert.equal(byUrl.get('not a url').error, 'invalid URL');
    assert.equal(byUrl.get('not a url').status, null);
    assert.match(byUrl.get('ftp://example.com/file').error, /unsupported protocol/);
    assert.equal(t.stats().total, 22, 'invalid URLs never reach the network');
    assert.match(r.stderr, /done: 24 URLs/);
    assert.match(r.stderr, /status: .*200: 21/);
    assert.match(r.stderr, /p50 .*p95 .*p99/);
  } finally {
    await t.close();
  }
});

test('URLs from stdin (`-` and no argument); --method, --header and --output', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    const input = `${t.url}/echo\n${t.url}/echo\n`;
    const a = await run(['fetch', '-', '--method', 'head'], { input });
    assert.equal(a.code, 0, a.stderr);
    assert.equal(rowsOf(a.stdout).length, 2);
    assert.ok(rowsOf(a.stdout).every((row) => row.status === 200 && row.bytes === 0));

    const dir = await tempDir();
    const out = join(dir, 'rows.ndjson');
    const b = await run(['fetch', '--header', 'X-Test: yes', '--save', dir, '--output', out], { input });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, '');
    const rows = rowsOf(await readFile(out, 'utf8'));
    assert.equal(rows.length, 2);
    const saved = (await readdir(dir)).filter((f) => f !== 'rows.ndjson');
    assert.equal(saved.length, 1, 'the same URL maps to the same file');
    const echo = JSON.parse(await readFile(join(dir, saved[0]), 'utf8'));
    assert.equal(echo.headers['x-test'], 'yes');
    assert.equal(echo.method, 'GET');
  } finally {
    await t.close();
  }
});

test('--per-host caps in-flight requests per host as counted by each server', async () => {
  const a = await startTarget({ delayMs: [30, 60] });
  const b = await startTarget({ delayMs: [30, 60] });
  try {
    const urls = [];
    for (let i = 0; i < 30; i++) urls.push(`${a.url}/a/${i}`, `${b.url}/b/${i}`);
    const file = await urlFile(urls);
    const r = await run(['fetch', file, '--per-host', '3', '--concurrency', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(rowsOf(r.stdout).length, 60);
    for (const t of [a, b]) {
      const s = t.stats();
      assert.equal(s.total, 30);
      assert.ok(s.maxConcurrent <= 3, `server saw ${s.maxConcurrent} concurrent > --per-host 3`);
      assert.ok(s.maxConcurrent >= 2, `server saw only ${s.maxConcurrent}: the cap is not used`);
    }
  } finally {
    await a.close();
    await b.close();
  }
});

test('--concurrency caps the total in flight', async () => {
  const t = await startTarget({ delayMs: [20, 40] });
  try {
    const file = await urlFile(Array.from({ length: 60 }, (_, i) => `${t.url}/${i}`));
    const r = await run(['fetch', file, '--concurrency', '7']);
    assert.equal(r.code, 0, r.stderr);
    const s = t.stats();
    assert.equal(s.total, 60);
    assert.ok(s.maxConcurrent <= 7 && s.maxConcurrent >= 5, `server saw ${s.maxConcurrent} concurrent`);
  } finally {
    await t.close();
  }
});

test('--concurrency auto finds a server capacity below its maximum', async () => {
  // A knee at 8 served at once, 20 ms each: the adaptive cap starts at 10,
  // climbs past the knee, sees the queueing and comes back near 8.
  const t = await startTarget({ delayMs: [18, 22], capacity: 8 });
  try {
    const file = await urlFile(Array.from({ length: 1200 }, (_, i) => `${t.url}/${i}`));
    const r = await run(['fetch', file, '--concurrency', 'auto', '--output', '/dev/null']);
    assert.equal(r.code, 0, r.stderr);
    const s = t.stats();
    assert.equal(s.total, 1200);
    // Never near the 1,000 a fixed cap of that size would send at once.
    assert.ok(s.maxConcurrent < 60, `the server saw ${s.maxConcurrent} at once`);
    assert.ok(s.maxConcurrent >= 8, `the server saw only ${s.maxConcurrent}: the capacity is not used`);
  } finally {
    await t.close();
  }
});

test('--per-host auto finds a host its capacity under a global cap that never binds', async () => {
  // As --concurrency auto above, but the cap is the host's own (its key's
  // controller), under a fixed global cap of 1,000.
  const t = await startTarget({ delayMs: [18, 22], capacity: 8 });
  try {
    const file = await urlFile(Array.from({ length: 1200 }, (_, i) => `${t.url}/${i}`));
    const r = await run(['fetch', file, '--concurrency', '1000', '--per-host', 'auto', '--output', '/dev/null']);
    assert.equal(r.code, 0, r.stderr);
    const s = t.stats();
    assert.equal(s.total, 1200);
    assert.ok(s.maxConcurrent < 60, `the server saw ${s.maxConcurrent} at once`);
    assert.ok(s.maxConcurrent >= 8, `the server saw only ${s.maxConcurrent}: the capacity is not used`);
  } finally {
    await t.close();
  }
});

test("1,000-class concurrency is real: Node's fetch pool opens a connection per request in flight", async () => {
  const t = await startTarget({ delayMs: [1000, 1000] });
  try {
    const file = await urlFile(Array.from({ length: 300 }, (_, i) => `${t.url}/${i}`));
    const r = await run(['fetch', file, '--concurrency', '300', '--output', '/dev/null']);
    assert.equal(r.code, 0, r.stderr);
    const s = t.stats();
    assert.equal(s.total, 300);
    assert.ok(s.maxConcurrent >= 250, `the server saw at most ${s.maxConcurrent} of 300 at once`);
  } finally {
    await t.close();
  }
});

test('--rate and --per-host-rate bound arrivals in every 1 s window at the server', async () => {
  const a = await startTarget({ delayMs: 0 });
  const b = await startTarget({ delayMs: 0 });
  try {
    const urls = [];
    for (let i = 0; i < 16; i++) urls.push(`${a.url}/${i}`, `${b.url}/${i}`);
    const file = await urlFile(urls);
    // Global 10/s (burst 10): at most 10 + 10 in any 1 s window over both servers.
    const r = await run(['fetch', file, '--rate', '10/s', '--rate', '600/min', '--concurrency', '50']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(rowsOf(r.stdout).length, 32);
    const both = [...a.stats().hosts[`127.0.0.1:${a.port}`].timestamps, ...b.stats().hosts[`127.0.0.1:${b.port}`].timestamps]
      .sort((x, y) => x - y);
    assert.equal(both.length, 32);
    // GCRA admits at most burst + rate·w = 20 in any 1 s window; arrivals at
    // the server jitter by a few ms against admissions, hence a slack of 2.
    const busiest = maxInWindow(both, 1000);
    assert.ok(busiest <= 22, `${busiest} arrivals in one second at --rate 10/s`);
    assert.ok(both[31] - both[0] >= 1800, `32 requests at 10/s (burst 10) took only ${both[31] - both[0]} ms`);

    a.reset();
    b.reset();
    // Per host 4/s (burst 4): at most 8 per host in any 1 s window.
    const p = await run(['fetch', file, '--per-host-rate', '4/s', '--concurrency', '50']);
    assert.equal(p.code, 0, p.stderr);
    for (const t of [a, b]) {
      const ts = t.stats().hosts[`127.0.0.1:${t.port}`].timestamps;
      assert.equal(ts.length, 16);
      const n = maxInWindow(ts, 1000);
      assert.ok(n <= 10, `${n} arrivals in one second at --per-host-rate 4/s (burst 4)`);
      assert.ok(ts[15] - ts[0] >= 2500, `16 requests at 4/s (burst 4) took only ${ts[15] - ts[0]} ms`);
    }
  } finally {
    await a.close();
    await b.close();
  }
});

test('429 with Retry-After is retried after the pause; final 429s are reported', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    const file = await urlFile([`${t.url}/status/429?retry-after=1`]);
    const r = await run(['fetch', file, '--retries', '1']);
    assert.equal(r.code, 0, r.stderr);
    const [row] = rowsOf(r.stdout);
    assert.equal(row.status, 429);
    assert.equal(row.attempts, 2);
    const ts = t.stats().hosts[`127.0.0.1:${t.port}`].timestamps;
    assert.equal(ts.length, 2);
    assert.ok(ts[1] - ts[0] >= 900, `retried after ${ts[1] - ts[0]} ms despite Retry-After: 1`);
    assert.match(r.stderr, /429s seen: 2/);
  } finally {
    await t.close();
  }
  const busy = await startTarget({ delayMs: 0, status429Rate: 0.3, retryAfter: 1 });
  try {
    const file = await urlFile(Array.from({ length: 20 }, (_, i) => `${busy.url}/${i}`));
    const r = await run(['fetch', file, '--retries', '8', '--concurrency', '5']);
    assert.equal(r.code, 0, r.stderr);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 20);
    // Retries are budgeted (limiter.fetch: about 10% of requests per host), so
    // some URLs may end on a 429; every row is a 200 or a 429, never an error.
    assert.ok(rows.every((row) => row.status === 200 || row.status === 429), r.stdout);
    const statuses = busy.stats().hosts[`127.0.0.1:${busy.port}`].statuses;
    const final429 = rows.filter((row) => row.status === 429).length;
    assert.equal(rows.filter((row) => row.status === 200).length, statuses[200]);
    const retried = rows.reduce((n, row) => n + row.attempts - 1, 0);
    assert.equal(retried, (statuses[429] ?? 0) - final429, 'one retry per 429 that was not final');
    assert.ok(statuses[429] > 0, 'the server sent 429s');
    assert.match(r.stderr, new RegExp(`retries: ${retried}, 429s seen: ${statuses[429]}`));
  } finally {
    await busy.close();
  }
});

test('--timeout bounds each attempt (headers and body) but not time queued for a host', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    const slow = await urlFile([`${t.url}/delay?ms=5000`, `${t.url}/slow-body?ms=5000&chunks=5`]);
    const r = await run(['fetch', slow, '--timeout', '400ms', '--retries', '1']);
    assert.equal(r.code, 0, r.stderr);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.match(row.error ?? '', /TimeoutError/, JSON.stringify(row));
      assert.ok(row.ms < 4000, `gave up after ${row.ms} ms`);
    }
    assert.equal(rows.find((row) => row.url.includes('/delay')).attempts, 2, 'a timed-out attempt is retried');
    assert.equal(t.stats().total, 4, 'two attempts each');

    t.reset();
    // Five 300 ms requests one at a time: the last waits ~1.2 s for its turn,
    // longer than --timeout, and still succeeds.
    const queued = await urlFile(Array.from({ length: 5 }, (_, i) => `${t.url}/delay?ms=300&i=${i}`));
    const q = await run(['fetch', queued, '--timeout', '1s', '--per-host', '1', '--retries', '0']);
    assert.equal(q.code, 0, q.stderr);
    const qrows = rowsOf(q.stdout);
    assert.ok(qrows.every((row) => row.status === 200), q.stdout);
    assert.ok(Math.max(...qrows.map((row) => row.ms)) > 1000, 'the last URL waited longer than --timeout');
    assert.equal(t.stats().maxConcurrent, 1);
  } finally {
    await t.close();
  }
});

test('--timeout: attempts sharing a deadline group; fast ones finish, slow ones are cut off, with retries', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    // Started together, so in the same group(s): the group's abort at the
    // deadline must not touch the attempts that already finished.
    const fast = Array.from({ length: 30 }, (_, i) => `${t.url}/delay?ms=${i % 3}&i=${i}`);
    const slow = Array.from({ length: 4 }, (_, i) => `${t.url}/delay?ms=5000&s=${i}`);
    const file = await urlFile([...fast.slice(0, 15), ...slow, ...fast.slice(15)]);
    for (const retries of ['0', '1']) {
      t.reset();
      const r = await run(['fetch', file, '--timeout', '500ms', '--retries', retries, '--concurrency', '50']);
      assert.equal(r.code, 0, r.stderr);
      const rows = rowsOf(r.stdout);
      assert.equal(rows.length, fast.length + slow.length);
      for (const row of rows) {
        if (row.url.includes('ms=5000')) {
          assert.match(row.error ?? '', /TimeoutError/, JSON.stringify(row));
          assert.equal(row.attempts, Number(retries) + 1, JSON.stringify(row));
          // Each attempt is cut off at 500 ms plus at most one group epoch (25 ms here).
          assert.ok(row.ms >= 500 * (Number(retries) + 1), `cut off early: ${row.ms} ms`);
          assert.ok(row.ms < 4000, `gave up after ${row.ms} ms`);
        } else {
          assert.equal(row.status, 200, JSON.stringify(row));
          assert.equal(row.error, null);
        }
      }
      assert.equal(t.stats().total, fast.length + slow.length * (Number(retries) + 1));
    }
  } finally {
    await t.close();
  }
});

test('--save never writes outside DIR: .., encoded .., query strings, very long names', async () => {
  const t = await startTarget({ delayMs: 0 });
  const parent = await tempDir();
  const dir = join(parent, 'bodies');
  try {
    const long = 'x'.repeat(3000);
    const urls = [
      `${t.url}/a/../../../etc/passwd`,
      `${t.url}/%2e%2e/%2e%2e/escape`,
      `${t.url}/..%2F..%2Fescape2`,
      `${t.url}/q?path=../../../x&y=/etc/shadow`,
      `${t.url}/q?path=../../../z`,
      `${t.url}/${long}`,
      `${t.url}/${long}?v=2`,
      `${t.url}/`,
      `${t.url}/.hidden`,
    ];
    const file = await urlFile(urls);
    const r = await run(['fetch', file, '--save', dir]);
    assert.equal(r.code, 0, r.stderr);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, urls.length);
    assert.ok(rows.every((row) => row.status === 200 && row.error === null), r.stdout);
    const names = await readdir(dir);
    assert.equal(names.length, urls.length, `one distinct file per URL: ${names}`);
    for (const name of names) {
      assert.ok(name.length <= 255, `name of ${name.length} chars`);
      assert.ok(!name.startsWith('.') && !name.includes('..') && !name.includes('/'), name);
      assert.equal(await readFile(join(dir, name), 'utf8'), 'Hello, World!');
    }
    assert.deepEqual(await readdir(parent), ['bodies'], 'nothing written beside DIR');
  } finally {
    await t.close();
    await rm(parent, { recursive: true, force: true });
  }
});

test('bad arguments: a message naming the argument, exit 2', async () => {
  const cases = [
    [['fetch', '--concurrency', '0'], /--concurrency/],
    [['fetch', '--concurrency', 'many'], /--concurrency/],
    [['fetch', '--per-host', '-3'], /--per-host/],
    [['fetch', '--rate', '20/fortnight'], /--rate/],
    [['fetch', '--per-host-rate', 'fast'], /--per-host-rate/],
    [['fetch', '--retries', '1.5'], /--retries/],
    [['fetch', '--timeout', 'soon'], /--timeout/],
    [['fetch', '--header', 'no colon here'], /--header/],
    [['fetch', '--method', 'G E T'], /--method/],
    [['fetch', '--bogus'], /--bogus/],
    [['fetch', 'a.txt', 'b.txt'], /b\.txt/],
    [['fetch', '--timeout'], /--timeout/],
    [['fetch', '/no/such/file.txt'], /no\/such\/file\.txt/],
    [['serve', '--delay', '300-0ms'], /--delay/],
    [['serve', '--429-rate', '2'], /--429-rate/],
    [['demo', '--requests', 'x'], /--requests/],
    [['frobnicate'], /frobnicate/],
  ];
  await Promise.all(
    cases.map(async ([args, pattern]) => {
      const r = await run(args, { input: '' });
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, pattern, args.join(' '));
    }),
  );
});

test('Ctrl-C: stops pulling, in-flight requests finish, summary printed, rows valid', async () => {
  const t = await startTarget({ delayMs: [200, 300] });
  try {
    const file = await urlFile(Array.from({ length: 500 }, (_, i) => `${t.url}/${i}`));
    const p = start(['fetch', file, '--concurrency', '10']);
    await until(() => p.stdout().split('\n').length > 15);
    p.child.kill('SIGINT');
    const r = await p.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted after \d+ URLs/);
    assert.match(r.stderr, /p50/);
    const rows = rowsOf(r.stdout);
    assert.ok(rows.length < 500, 'stopped pulling');
    assert.equal(rows.length, t.stats().total, 'every request sent has its row (in-flight ones finished)');
    assert.ok(rows.every((row) => row.status === 200), 'in-flight requests finished, not aborted');
  } finally {
    await t.close();
  }
});

test('Ctrl-C while stdin stays open: exits with the rows so far', async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    const p = start(['fetch', '-']);
    p.child.stdin.write(`${t.url}/a\n${t.url}/b\n`); // and never closed
    // (Rows of finished requests may wait for the next line: limitedAsCompleted
    // awaits the source while it has room, so wait for the server instead.)
    await until(() => t.stats().total === 2 && t.stats().current === 0);
    p.child.kill('SIGINT');
    const r = await p.done;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(rowsOf(r.stdout).length, 2);
    assert.match(r.stderr, /interrupted after 2 URLs/);
  } finally {
    await t.close();
  }
});

for (const extra of [[], ['--timeout', 'none']]) {
test(`a second Ctrl-C aborts in-flight requests; each still gets a row ${extra.join(' ')}`, async () => {
  const t = await startTarget({ delayMs: 0 });
  try {
    const urls = [...Array.from({ length: 3 }, (_, i) => `${t.url}/${i}`), ...Array.from({ length: 5 }, () => `${t.url}/delay?ms=60000`)];
    const began = performance.now();
    const p = start(['fetch', '-', '--concurrency', '10', ...extra], { input: `${urls.join('\n')}\n` });
    await until(() => t.stats().current === 5 && p.stdout().split('\n').length > 3);
    p.child.kill('SIGINT');
    await until(() => /interrupted/.test(p.stderr()));
    p.child.kill('SIGINT');
    const r = await p.done;
    assert.equal(r.code, 130, r.stderr);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 8);
    const aborted = rows.filter((row) => row.error !== null);
    assert.equal(aborted.length, 5);
    assert.ok(aborted.every((row) => /abort|interrupt/i.test(row.error)), JSON.stringify(aborted));
    assert.match(r.stderr, /interrupted after 8 URLs/);
    // The requests to /delay (60 s) are aborted or, with --timeout none,
    // abandoned and their connections closed: never waited for.
    const ms = performance.now() - began;
    assert.ok(ms < 30_000, `exited ${ms.toFixed(0)} ms after start`);
  } finally {
    await t.close();
  }
});
}

// The JS CLI: 10^4 / 10^5 lines, one in ten to the network, 200 in flight.
// The native one: 10^5 / 3·10^5 lines, one in a hundred, 20 in flight — each
// of its connections takes ~9 KB more after 32 requests (hyper's request
// channel, bench/README.md), which says nothing about lines but would swamp
// a 200-connection run.
const MEM = CLI === 'js'
  ? { sizes: [10_000, 100_000], every: 10, concurrency: '200' }
  : { sizes: [100_000, 300_000], every: 100, concurrency: '20' };
const SIZES = MEM.sizes;

test(`memory stays flat: ${SIZES[1]} input lines vs ${SIZES[0]} (${CLI === 'js' ? 'live heap and ' : ''}peak RSS)`, async () => {
  // A 10-30 ms answer: both runs fill all their slots (a connection each).
  // For the native CLI the server runs in a process of its own, as in bench/.
  const t = CLI === 'js' ? await startTarget({ delayMs: [10, 30] }) : await childTarget('10-30ms');
  const dir = await tempDir();
  const [small, big] = SIZES;
  try {
    const rss = {};
    const heap = {};
    for (const n of SIZES) {
      const path = join(dir, `urls-${n}.txt`);
      // Every line is read and becomes a row; one in MEM.every goes to the network.
      const lines = [];
      for (let i = 0; i < n; i++) lines.push(i % MEM.every === 0 ? `${t.url}/${i}` : `invalid url ${i}`);
      await writeFile(path, `${lines.join('\n')}\n`);
      const r = await run(['fetch', path, '--concurrency', MEM.concurrency, '--output', '/dev/null'], {
        nodeArgs: ['--expose-gc'],
        jsBin: HEAP_PROBE,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`done: ${n} URLs`));
      rss[n] = peakRssOf(r.stderr);
      if (CLI === 'js') heap[n] = liveHeapOf(r.stderr);
    }
    // (a child server counts the stats request too)
    assert.equal((await t.stats()).total - (CLI === 'js' ? 0 : 1), (small + big) / MEM.every);
    if (CLI === 'js') {
      const seen = `live heap ${heap[small]} / ${heap[big]} MB, peak RSS ${rss[small]} / ${rss[big]} MB at ${small} / ${big} lines`;
      // Nothing per URL survives: a leak of even 50 bytes a line would add 4.5 MB.
      assert.ok(heap[big] <= heap[small] + 4, seen);
      // Peak RSS also reflects when V8 chooses to collect: bounded ratio with slack.
      assert.ok(rss[big] <= rss[small] * 2, seen);
      console.log(`# ${seen}`);
    } else {
      // No garbage collector: memory is what is held. 200,000 more rows and
      // 2,000 more requests may not add 1 MB (a leak of 5 bytes a line would).
      const seen = `peak RSS ${rss[small]} / ${rss[big]} MB at ${small} / ${big} lines`;
      assert.ok(rss[big] <= rss[small] + 1, seen);
      console.log(`# ${seen}`);
    }
  } finally {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  }
});
