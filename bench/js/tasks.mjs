#!/usr/bin/env node
// N trivial async tasks at concurrency 100: weir against its peers.
//
//   node bench/js/tasks.mjs [--n 1000000] [--big 10000000] [--bottleneck-n 5000]
//                           [--runs 1] [--only name,name] [--cpu]
//
// `--cpu` counts tasks per CPU-second of the child (user + system) instead
// of per wall-clock second: on a machine shared with other work the wall
// clock measures the load as much as the contender.
//
// Every contender runs in its own child process (fresh heap; peak RSS is the
// child's `process.resourceUsage().maxRSS`). bottleneck runs at a much smaller
// N (it manages ~400 tasks/s); weir's limitedAsCompleted also runs at --big to
// show its memory stays flat. With --runs > 1 the best throughput and the
// highest peak RSS over the runs are reported.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { contenders, modules, CONCURRENCY } from './lib/contenders.mjs';

const self = fileURLToPath(import.meta.url);
const args = parseArgs(process.argv.slice(2));

if (args.child) {
  await child(args.child, Number(args.n));
} else {
  parent();
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 1) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    // A flag with no value (`--cpu`) is followed by another flag or nothing.
    out[m[1]] = m[2] ?? (argv[i + 1] === undefined || argv[i + 1].startsWith('--') ? true : argv[++i]);
  }
  return out;
}

async function child(name, n) {
  const run = contenders[name];
  const expected = (n * (n - 1)) / 2;
  const loadStart = process.hrtime.bigint();
  if (modules[name]) await import(modules[name]);
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const loadMs = Number(start - loadStart) / 1e6;
  const sum = await run(n);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  if (sum !== expected) throw new Error(`${name}: sum ${sum}, expected ${expected}`);
  const rssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ name, n, ms, cpuMs, loadMs, rssMB })}\n`);
}

function measure(name, n, runs) {
  let best = null;
  for (let r = 0; r < runs; r += 1) {
    const res = spawnSync(process.execPath, [self, '--child', name, '--n', String(n)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (res.status !== 0) throw new Error(`${name} at N=${n} failed (exit ${res.status})`);
    const m = JSON.parse(res.stdout.trim().split('\n').pop());
    m.perSec = (m.n / (args.cpu ? m.cpuMs : m.ms)) * 1000;
    if (!best) best = m;
    else best = { ...best, perSec: Math.max(best.perSec, m.perSec), rssMB: Math.max(best.rssMB, m.rssMB), loadMs: Math.min(best.loadMs, m.loadMs) };
  }
  return best;
}

function parent() {
  const n = Number(args.n ?? 1_000_000);
  const big = Number(args.big ?? n * 10);
  const bottleneckN = Number(args['bottleneck-n'] ?? Math.min(n, 5_000));
  const runs = Number(args.runs ?? 1);
  const only = args.only ? new Set(args.only.split(',')) : null;
  const plan = [
    ['pool', n],
    ['p-map', n],
    ['p-limit', n],
    ['async-sema', n],
    ['p-queue', n],
    ['bottleneck', bottleneckN],
    ['weir limitedAsCompleted', n],
    ['weir limitedAsCompleted', big],
    ['weir limitedAsCompleted ordered', n],
    ['weir limiter.run', n],
  ].filter(([name, size]) => (!only || only.has(name)) && size > 0);

  console.log(`node ${process.version}, concurrency ${CONCURRENCY}, task = async (i) => i, runs ${runs}`);
  const results = [];
  for (const [name, size] of plan) {
    const m = measure(name, size, runs);
    results.push(m);
    console.error(`  ${name} N=${size}: ${fmtRate(m.perSec)}/s, ${m.rssMB.toFixed(0)} MB`);
  }

  const at = (name) => results.find((r) => r.name === name && r.n === n) ?? results.find((r) => r.name === name);
  const pool = at('pool');
  const header = ['contender', 'N', 'tasks/s', '× pool', '× p-map', '× p-limit', 'peak RSS', 'import'];
  const rows = results.map((r) => [
    r.name,
    fmtN(r.n),
    fmtRate(r.perSec),
    ratio(r, pool),
    ratio(r, at('p-map')),
    ratio(r, at('p-limit')),
    `${r.rssMB.toFixed(0)} MB`,
    r.loadMs > 0.05 ? `${r.loadMs.toFixed(1)} ms` : '-',
  ]);
  console.log(table(header, rows));
  console.log(args.cpu
    ? 'tasks/s: per CPU-second of the child (user + system), first task to last result; the import (last column) comes before.'
    : 'tasks/s: from the first task to the last result; the import of the library (last column) comes before the clock starts.');

  const lazy = results.find((r) => r.name === 'weir limitedAsCompleted' && r.n === n);
  const lazyBig = results.find((r) => r.name === 'weir limitedAsCompleted' && r.n === big);
  const eager = at('weir limiter.run');
  const pMap = at('p-map');
  const pLimit = at('p-limit');
  const checks = [];
  if (lazy && pMap) checks.push(check('limitedAsCompleted ≥ 3× p-map', lazy.perSec / pMap.perSec, 3, '×'));
  if (lazy && pool) checks.push(check('limitedAsCompleted ≥ 0.5× pool (aim)', lazy.perSec / pool.perSec, 0.5, '×'));
  if (lazy) checks.push(check(`limitedAsCompleted peak RSS ≤ 100 MB at N=${fmtN(n)}`, lazy.rssMB, 100, ' MB', true));
  if (lazy && lazyBig && big !== n) {
    checks.push(check(`limitedAsCompleted RSS at ${fmtN(big)} ≤ 1.2× RSS at ${fmtN(n)} (flat)`, lazyBig.rssMB / lazy.rssMB, 1.2, '×', true));
  }
  if (eager && pLimit) {
    checks.push(check('limiter.run eager ≥ 1.5× p-limit throughput', eager.perSec / pLimit.perSec, 1.5, '×'));
    checks.push(check('limiter.run eager ≤ 0.5× p-limit peak RSS', eager.rssMB / pLimit.rssMB, 0.5, '×', true));
  }
  if (checks.length) console.log(`\n${checks.join('\n')}`);
  if (bottleneckN !== n && results.some((r) => r.name === 'bottleneck')) {
    console.log(`\nbottleneck ran at N=${fmtN(bottleneckN)} (it is too slow for N=${fmtN(n)}).`);
  }
}

function check(label, value, bound, unit, atMost = false) {
  const ok = atMost ? value <= bound : value >= bound;
  const shown = unit === ' MB' ? value.toFixed(0) : value.toFixed(2);
  return `${ok ? 'PASS' : 'MISS'}  ${label}: ${shown}${unit}`;
}

function ratio(r, base) {
  return base ? `${(r.perSec / base.perSec).toFixed(2)}` : '-';
}

function fmtRate(x) {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(0)} k`;
  return x.toFixed(0);
}

function fmtN(x) {
  if (x >= 1e6 && x % 1e6 === 0) return `${x / 1e6}M`;
  if (x >= 1e3 && x % 1e3 === 0) return `${x / 1e3}k`;
  return String(x);
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
