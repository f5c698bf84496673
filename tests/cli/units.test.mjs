// Unit tests of the CLI's pure parts: argument parsing, safe names, the
// latency histogram, the streaming line count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, parseDelayRange, parseDuration, parseFetchArgs, parseHeader, parseRate, splitArgs } from '../../js/cli/args.js';
import { Histogram } from '../../js/cli/histogram.js';
import { formatSummary } from '../../js/cli/progress.js';
import { Readable } from 'node:stream';
import { countUrlLines, urlLines } from '../../js/cli/lines.js';
import { fileNameFor, savePathFor } from '../../js/cli/names.js';
import { tempDir } from './helpers.mjs';

test('parseRate: units /ms /s /min /h and multiples', () => {
  assert.deepEqual(parseRate('20/s', '--rate'), { limit: 20, interval: 1000 });
  assert.deepEqual(parseRate('600/min', '--rate'), { limit: 600, interval: 60_000 });
  assert.deepEqual(parseRate('5/h', '--rate'), { limit: 5, interval: 3_600_000 });
  assert.deepEqual(parseRate('1/ms', '--rate'), { limit: 1, interval: 1 });
  assert.deepEqual(parseRate('10/2s', '--rate'), { limit: 10, interval: 2000 });
  for (const bad of ['0/s', '20', '20/fortnight', '-1/s', 'x/s']) {
    assert.throws(() => parseRate(bad, '--rate'), (e) => e instanceof UsageError && /--rate/.test(e.message), bad);
  }
});

test('parseRate: ,burst=N, and the bounds of a u32 count and a 365-day interval', () => {
  assert.deepEqual(parseRate('20/s,burst=5', '--rate'), { limit: 20, interval: 1000, burst: 5 });
  assert.deepEqual(parseRate('20/s, burst = 40', '--rate'), { limit: 20, interval: 1000, burst: 40 });
  assert.deepEqual(parseRate('4294967295/s', '--rate'), { limit: 4294967295, interval: 1000 });
  for (const bad of ['4294967296/s', '5000000000/s', '20/s,burst=0', '20/s,burst', '20/s,bust=3', '1/9999999h', '20/0s']) {
    assert.throws(() => parseRate(bad, '--rate'), (e) => e instanceof UsageError && /^--rate: /.test(e.message), bad);
  }
});

test('splitArgs (node:util parseArgs): each mistake names its argument', () => {
  const spec = { '--n': { value: true }, '--r': { value: true, repeat: true }, '--flag': { value: false } };
  assert.deepEqual(splitArgs(['a', '--n=1', '--r', 'x', '--r', 'y', '--flag', '-', '--', '--n'], spec, 'fetch'), {
    values: { '--n': '1', '--r': ['x', 'y'], '--flag': true },
    positionals: ['a', '-', '--n'],
  });
  for (const [argv, message] of [
    [['--bogus'], /^--bogus: unknown option for 'weir fetch'/],
    [['--n'], /^--n: missing value$/],
    [['--n', '-3'], /^--n: missing value \(to give a value starting with '-', write --n=VALUE\)$/],
    [['--n', '1', '--n', '2'], /^--n: given more than once$/],
  ]) {
    assert.throws(() => splitArgs(argv, spec, 'fetch'), (e) => e instanceof UsageError && message.test(e.message), argv.join(' '));
  }
});

test('urlLines: lines over the cap are one item each, in linear time; the rest survive any chunking', async () => {
  const lines = async (chunks, max) => {
    const out = [];
    for await (const l of urlLines(Readable.from(chunks.map((c) => Buffer.from(c))), undefined, max)) out.push(l);
    return out;
  };
  const input = `# c\n a \r\nb\rc\r\r\n\n  \n#x\n${'h'.repeat(50)}\nd\n${'h'.repeat(30)}`;
  for (let size = 1; size <= input.length; size += 3) {
    const chunks = [];
    for (let i = 0; i < input.length; i += size) chunks.push(input.slice(i, i + size));
    const got = await lines(chunks, 20);
    assert.deepEqual(got.filter((l) => typeof l === 'string'), ['a', 'b', 'c', 'd'], `chunks of ${size}`);
    const long = got.filter((l) => typeof l !== 'string');
    assert.deepEqual(long.map((l) => l.length), [50, 30], `chunks of ${size}`);
    assert.ok(long.every((l) => l.tooLong && l.prefix.startsWith('hhh') && l.prefix.endsWith('…')));
  }
});

test('parseDuration, parseDelayRange, parseHeader', () => {
  assert.equal(parseDuration('20s', '--timeout'), 20_000);
  assert.equal(parseDuration('500ms', '--timeout'), 500);
  assert.equal(parseDuration('2m', '--timeout'), 120_000);
  assert.equal(parseDuration('3', '--timeout'), 3000);
  assert.throws(() => parseDuration('0s', '--timeout'), /--timeout/);
  assert.deepEqual(parseDelayRange('0-300ms', '--delay'), [0, 300]);
  assert.deepEqual(parseDelayRange('1-3s', '--delay'), [1000, 3000]);
  assert.deepEqual(parseDelayRange('50', '--delay'), [50, 50]);
  assert.throws(() => parseDelayRange('300-0ms', '--delay'), /--delay/);
  assert.deepEqual(parseHeader('X-A:  b: c ', '--header'), ['X-A', 'b: c']);
  assert.throws(() => parseHeader('bad header: x', '--header'), /--header/);
});

test('parseFetchArgs: defaults, repeatable options, --opt=value', () => {
  const o = parseFetchArgs(['urls.txt', '--rate=20/s', '--rate', '600/min', '--header', 'A: 1', '--header', 'B: 2', '--per-host', '4']);
  assert.equal(o.input, 'urls.txt');
  assert.equal(o.concurrency, 100);
  assert.equal(o.perHost, 4);
  assert.equal(o.rate.length, 2);
  assert.deepEqual(o.headers, [['A', '1'], ['B', '2']]);
  assert.equal(o.retries, 2);
  assert.equal(parseFetchArgs([]).input, '-');
  assert.equal(parseFetchArgs([]).timeout, 30_000, 'default --timeout');
  assert.equal(parseFetchArgs(['--timeout', 'none']).timeout, Infinity);
  assert.equal(parseFetchArgs(['--timeout', '20s']).timeout, 20_000);
  assert.throws(() => parseFetchArgs(['--timeout', 'never']), /--timeout/);
  assert.throws(() => parseFetchArgs(['--concurrency', '1', '--concurrency', '2']), /--concurrency: given more than once/);
});

test('fileNameFor: no separators, no leading dots, bounded, distinct per URL', () => {
  const urls = [
    'http://h/a/../../etc/passwd',
    'http://h/%2e%2e/%2e%2e/x',
    'http://h/q?x=../../y',
    'http://h/q?x=../../z',
    `http://h/${'a'.repeat(5000)}`,
    'http://h/',
    'not a url/../..',
  ];
  const names = urls.map(fileNameFor);
  assert.equal(new Set(names).size, urls.length);
  for (const n of names) {
    assert.match(n, /^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    assert.ok(!n.includes('..'), n);
    assert.ok(n.length <= 120, `${n.length}`);
  }
  assert.ok(savePathFor('/tmp/out', urls[0]).startsWith('/tmp/out/'));
});

test('Histogram percentiles within 2% and bounded size', () => {
  const h = new Histogram();
  for (let i = 1; i <= 10_000; i++) h.record(i / 10); // 0.1 … 1000 ms
  for (const [p, want] of [[50, 500], [95, 950], [99, 990]]) {
    const got = h.percentile(p);
    assert.ok(Math.abs(got - want) / want < 0.02, `p${p} = ${got}, want ~${want}`);
  }
  assert.ok(Math.abs(h.mean - 500.05) < 1e-6);
  assert.equal(new Histogram().percentile(50), 0);
});

test('countUrlLines counts what urlLines yields, without holding the file', async () => {
  const dir = await tempDir();
  const path = join(dir, 'u.txt');
  await writeFile(path, 'http://a\n\n  # c\n   http://b  \r\n#x\nhttp://c');
  assert.equal(await countUrlLines(path), 3);
  assert.equal(await countUrlLines('-'), undefined);
  assert.equal(await countUrlLines(dir), undefined);
});

test('checkedUrl accepts and rejects what new URL does, also once an origin is known', async () => {
  const { checkedUrl } = await import('../../js/cli/fetch.js');
  const lines = [
    'http://example.com/a', 'http://example.com', 'http://example.com?q=1', 'http://example.com#f',
    'http://example.com/a b', 'http://example.com/..%2f..', 'http://example.com\\x', 'http://example.com:80/',
    'http://example.com:99999/', 'http://example.com.:8080/x', 'http://example.com@evil/', 'http://example.comx/',
    'https://127.0.0.1:8443/p', 'https://127.0.0.1:8443', 'http://1.2.3.999/', 'http://foo.123/', 'http://a..b/',
    'HTTP://Example.COM/x', 'ftp://example.com/f', 'not a url', 'http://', 'http:///x', 'http://[::1]:8080/',
    'http://example.com:8080/ok', 'http://example.com:8080', 'http://example.com:80800/', 'http://ex ample.com/',
  ];
  const outcome = (fn) => {
    try {
      return { href: new URL(fn()).href };
    } catch (error) {
      return { error: error.code === 'ERR_INVALID_URL' ? 'invalid URL' : error.message };
    }
  };
  const expected = (line) =>
    outcome(() => {
      const u = new URL(line);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`unsupported protocol ${u.protocol}`);
      return line;
    });
  // Twice over: the second pass meets every valid origin already known.
  for (const pass of [1, 2]) {
    for (const line of lines) {
      assert.deepEqual(outcome(() => checkedUrl(line, false)), expected(line), `${line} (pass ${pass})`);
      assert.deepEqual(outcome(() => checkedUrl(line, true)), expected(line), `${line} with href (pass ${pass})`);
    }
  }
  assert.equal(checkedUrl('http://example.com/a b', true), 'http://example.com/a%20b');
});

test('ndjsonRow is JSON.stringify(row) plus a newline', async () => {
  const { ndjsonRow } = await import('../../js/cli/fetch.js');
  const rows = [
    { url: 'http://a/"q"\u2028\\', status: 200, bytes: 13, ms: 12.3, attempts: 1, error: null },
    { url: null, status: null, bytes: 0, ms: 0, attempts: 0, error: 'TypeError: bad "thing"\n' },
    { url: 'not a url', status: null, bytes: 0, ms: 0, attempts: 0, error: 'invalid URL' },
    { url: 'http://b/', status: 429, bytes: 1e21, ms: 1234567.8, attempts: 3, error: null },
  ];
  for (const row of rows) assert.equal(ndjsonRow(row), `${JSON.stringify(row)}\n`);
});

test('formatSummary: percentiles when responses were timed, "no response" when none', () => {
  const base = { done: 1, elapsedMs: 100, reqPerSec: 10, byStatus: { error: 1 }, retries: 2, status429: 0, peakRssBytes: 50 * 2 ** 20, interrupted: false };
  const none = formatSummary({ ...base, timed: 0, p50: 0, p95: 0, p99: 0 });
  assert.equal(none[2], 'latency: no response');
  assert.match(none[1], /^status: error: 1$/);
  const some = formatSummary({ ...base, byStatus: { 200: 3 }, timed: 3, p50: 12.3, p95: 40, p99: 41 });
  assert.match(some[2], /^latency: p50 12\.3 ms, p95 40\.0 ms, p99 41\.0 ms$/);
});

test('the progress line shows the adaptive cap of --concurrency auto, and nothing without it', async () => {
  const { Progress } = await import('../../js/cli/progress.js');
  const base = { inFlight: 9, queued: 0, retries: 0, status429: 0, hosts: [] };
  const auto = new Progress({ stderr: null, mode: 'none', sample: () => ({ ...base, cap: 12 }) });
  assert.match(auto.line(), /9 in flight \| cap 12 \(auto\)/);
  const fixed = new Progress({ stderr: null, mode: 'none', sample: () => base });
  assert.doesNotMatch(fixed.line(), /cap/);
});

test("parseFetchArgs: --concurrency auto is an adaptive cap up to 1,000; a number is fixed", () => {
  const auto = parseFetchArgs(['--concurrency', 'auto']);
  assert.deepEqual([auto.concurrency, auto.adaptive], [1000, true]);
  const fixed = parseFetchArgs(['--concurrency', '7']);
  assert.deepEqual([fixed.concurrency, fixed.adaptive], [7, false]);
  assert.throws(() => parseFetchArgs(['--concurrency', 'automatic']), UsageError);
});

test("parseFetchArgs: --per-host auto is an adaptive cap per host; a number is fixed", () => {
  assert.equal(parseFetchArgs(['--per-host', 'auto']).perHost, 'auto');
  assert.equal(parseFetchArgs(['--per-host', '4']).perHost, 4);
  assert.throws(() => parseFetchArgs(['--per-host', 'automatic']), UsageError);
});
