// weir against third-party software installed on this machine, on 127.0.0.1
// (free ports only), with contract checks; prints markdown tables.
//
//   node bench/js/peers.mjs          # or: npm run bench:peers
//   PEERS_KEEP=1 node bench/js/peers.mjs   # keep the temp dir (nginx's log, the clients' records)
//
// Needs /usr/sbin/nginx, /usr/bin/wrk, python3 with aiohttp, and for the
// native rows target/cli/weir (or WEIR_NATIVE_BIN; `bash scripts/build-cli.sh`;
// its rows are skipped when absent). About a minute on 2 cores.
//
// 1. nginx `limit_req` (its own config, pid, logs and temp paths in a temp
//    dir; `worker_processes 1`, `daemon off`; a 429 carries `Retry-After: 1`;
//    the access log has `$msec` and `$status` of every request). The first
//    path segment of a URL is the `limit_req` key and names the run: every
//    run starts from a fresh nginx bucket, so runs can share the server.
//    a. `rate=5r/s` (burst=0): 40 URLs at concurrency 10 with the default
//       retries (3 attempts), through `limiter.fetch`, the Node CLI
//       (`node bin/weir.js fetch FILE`) and the native CLI, at once; and
//       `limiter.fetch` with `perKeyRate` 5/s, burst 1, for comparison.
//    b. `rate=20r/s burst=5 nodelay`: 100 URLs through both CLIs with
//       `--rate 20/s,burst=5` (no 429 expected; 1 or 2 is a warning) and with
//       `--rate 20/s` (bursts of 20: 429s expected).
//    Checks: every URL ends in 200 (1a; 1b with burst=5); weir's attempts =
//    the requests nginx logged; nothing sent inside the 1 s cooldown a 429
//    declared; weir's rate promise (burst + rate·t in every window). The
//    Node clients are judged by their own record of what they sent and when
//    they read each 429 (`limiter.fetch`'s `fetch` option; the Node CLI gets
//    a `node --import` preload wrapping `globalThis.fetch`); the native CLI by
//    nginx's log (a request arriving more than GRACE_MS after a 429, within
//    1 s of it, breaks the cooldown).
// 2. wrk (`-t2 -c400 -d5s --timeout 2s`) against a Node server
//    `toNodeHandler(guard(handler, { concurrency: 50 }))` whose handler sleeps
//    20 ms, plus 20 clients that hang up 5 ms after sending (10 during the
//    load, 10 once the server is idle, so that those are admitted first);
//    before it, wrk against a bare Node listener answering 429 (a baseline:
//    the socket errors wrk sees without weir). Checks: at most 50 handlers at
//    once; once drained `stats().inFlight` is 0 (no permit leaked); the next
//    request gets 200.
// 3. aiohttp (python3): 2,000 GETs over 200 connections to the same guard.
//    Checks: every answer a 200 or a 429; at most 50 handlers at once;
//    inFlight 0 afterwards; the next request gets 200.
//
// The guard server is this file run with `--guard-server CAP` (a process of
// its own, so wrk and the server never share an event loop). Every loop and
// child is bounded in time; children are stopped and the temp dir removed at
// the end, also on an error or Ctrl-C. Exit code 1 when a check fails.
import { fork, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxInWindow } from '../../bindings/js/server/target.js';
import { NATIVE_BIN, rowsOf, start as startCli } from '../../tests/cli/helpers.mjs';
import { freePort } from '../../tests/hosts/free-port.mjs';

const NGINX = '/usr/sbin/nginx';
const WRK = '/usr/bin/wrk';
const GUARD_CAP = 50;
/**
 * After nginx logs a 429, how long the client may take to read it: requests
 * it sends meanwhile are no breach. Only the native CLI is judged by nginx's
 * log; the Node clients by their own send times (exact).
 */
const GRACE_MS = 250;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ helpers

const children = new Set();

/** Remember `child` so that it is stopped at the end, whatever happens. */
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM (nginx: fast shutdown, workers included), SIGKILL after 3 s. */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Resolve once 127.0.0.1:`port` accepts a connection (polled, up to `ms`). */
async function listening(port, ms = 5000, child = null) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before listening on ${port}`);
    const up = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (up) return;
    await sleep(20);
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${ms} ms`);
}

/** Run `file args` to the end (killed after `ms`): { code, stdout, stderr }. */
function runBounded(file, args, ms) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? `${signal} (killed after ${ms} ms?)` : code, stdout, stderr });
    });
  });
}

const checks = [];
/**
 * Record a check: `ok` true (passed), false (a contract broken: exit 1) or
 * 'warn' (outside what is expected, not a broken contract). Returns its mark.
 */
function check(name, ok, detail = '') {
  checks.push({ name, ok, detail });
  return ok === true ? 'ok' : ok === 'warn' ? 'warn' : '**FAIL**';
}

/** The mark of a row: its worst check. */
const verdict = (marks) => marks.find((m) => m === '**FAIL**') ?? marks.find((m) => m === 'warn') ?? 'ok';

const table = (header, rows) => [
  `| ${header.join(' | ')} |`,
  `|${header.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');

const s1 = (ms) => (ms / 1000).toFixed(1);

// ------------------------------------------------------------------ 1. nginx

/** nginx with its own prefix in `dir`: { url5, url20, log(), close() }. */
async function startNginx(dir) {
  const [port5, port20] = [await freePort(), await freePort()];
  await mkdir(join(dir, 'www'));
  await writeFile(join(dir, 'www/ok.txt'), 'ok\n');
  // The worker may run as `nobody` (when started by root): it reads www/.
  await chmod(dir, 0o755);
  // `try_files` (not `return`, which runs before limit_req's phase) serves
  // the file, so limit_req applies; the key is the first path segment.
  const limited = `error_page 429 = @limited; root ${dir}/www; default_type text/plain; try_files /ok.txt =500;`;
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format weir '$msec $request_time $status $server_port $request_uri';
  access_log ${dir}/access.log weir;
  map $uri $run { "~^/(?<r>[a-z0-9-]+)/" $r; default none; }
  limit_req_zone $run zone=r5:1m rate=5r/s;
  limit_req_zone $run zone=r20:1m rate=20r/s;
  limit_req_status 429;
  limit_req_log_level warn;
  server {
    listen 127.0.0.1:${port5};
    location / { limit_req zone=r5; ${limited} }
    location @limited { add_header Retry-After 1 always; return 429 "Too Many Requests\\n"; }
  }
  server {
    listen 127.0.0.1:${port20};
    location / { limit_req zone=r20 burst=5 nodelay; ${limited} }
    location @limited { add_header Retry-After 1 always; return 429 "Too Many Requests\\n"; }
  }
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const child = track(spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  }));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  try {
    await listening(port5, 5000, child);
    await listening(port20, 5000, child);
  } catch (error) {
    throw new Error(`nginx: ${error.message}\n${stderr}${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`);
  }
  return {
    url5: `http://127.0.0.1:${port5}`,
    url20: `http://127.0.0.1:${port20}`,
    /** The access log lines of run `run`: { at (arrival, ms), status }, by arrival. */
    async log(run) {
      const text = await readFile(join(dir, 'access.log'), 'utf8');
      return text.split('\n').filter((l) => l.includes(` /${run}/`)).map((l) => {
        const [msec, took, status] = l.split(' ');
        return { at: Math.round(Number(msec) * 1000 - Number(took) * 1000), status: Number(status) };
      }).sort((a, b) => a.at - b.at);
    },
    close: () => stop(child),
  };
}

/** What nginx saw of one run. */
function serverView(lines) {
  const rejected = lines.filter((l) => l.status === 429).map((l) => l.at);
  // Arrivals after a 429 was logged and inside its 1 s cooldown, past the
  // GRACE_MS the client may have needed to read it.
  const late = lines.filter((l) => rejected.some((t) => l.at > t + GRACE_MS && l.at < t + 1000));
  // For each: how long after the latest 429 before it (ms).
  const lateBy = late.map((l) => l.at - Math.max(...rejected.filter((t) => t < l.at)));
  return {
    requests: lines.length,
    rejected: rejected.length,
    inCooldown: late.length,
    lateBy,
    maxOkPerSecond: maxInWindow(lines.filter((l) => l.status === 200).map((l) => l.at), 1000),
    maxPerSecond: maxInWindow(lines.map((l) => l.at), 1000),
    arrivals: lines.map((l) => l.at),
  };
}

/**
 * The cooldown check of a run: the client's own record when there is one
 * (the Node clients), else nginx's log past GRACE_MS (the native CLI).
 */
function cooldownCheck(name, view, seen) {
  const atNginx = `${view.inCooldown} at nginx (${view.lateBy.map((ms) => `${ms} ms`).join(', ') || 'none'} after a 429)`;
  if (seen) return check(`${name}: nothing sent in a declared cooldown`, sentInCooldown(seen) === 0, `${sentInCooldown(seen)} by the client's record; ${atNginx}`);
  return check(`${name}: nothing sent in a declared cooldown`, view.inCooldown === 0, atNginx);
}

/**
 * The most requests in any window beyond weir's promise for `burst` and
 * `perSecond` (burst + rate·t), from sorted times in ms, as "+x (n in t ms)",
 * or "none" when no window exceeds it by more than a tenth of a request (the
 * times are taken a little after admission, and nginx's in whole ms).
 */
function beyondBound(times, burst, perSecond) {
  let worst = { excess: 0.1 };
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const t = times[j] - times[i];
      const excess = j - i + 1 - (burst + (perSecond * (t + 1)) / 1000);
      if (excess > worst.excess) worst = { excess, n: j - i + 1, t };
    }
  }
  return worst.n ? `+${worst.excess.toFixed(2)} (${worst.n} in ${worst.t.toFixed(0)} ms)` : 'none';
}

/**
 * The same record from inside the Node CLI: preloaded with `node --import`,
 * it wraps `globalThis.fetch` (which limiter.fetch calls) and writes the
 * record to $PEERS_RECORD at exit.
 */
const RECORDER = `import { writeFileSync } from 'node:fs';
const seen = { sent: [], got429: [] };
const now = () => performance.timeOrigin + performance.now();
const platformFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  // (Requests only: not the CLI's warm-up fetch of a data: URL.)
  if (String(input instanceof Request ? input.url : input).startsWith('http')) seen.sent.push(now());
  const response = await platformFetch(input, init);
  if (response.status === 429) seen.got429.push(now());
  return response;
};
process.on('exit', () => writeFileSync(process.env.PEERS_RECORD, JSON.stringify(seen)));
`;

/** Attempts a client sent after it had read a 429 and inside that 429's 1 s cooldown. */
const sentInCooldown = (seen) => seen.sent.filter((t) => seen.got429.some((g) => t > g && t < g + 1000)).length;

/**
 * `fetch` that records when each attempt goes out and when each 429 comes
 * back (ms on the monotonic clock: a step of the wall clock cannot fake a
 * burst or a breach).
 */
function recordingFetch() {
  const seen = { sent: [], got429: [] };
  const now = () => performance.timeOrigin + performance.now();
  const recorded = async (input, init) => {
    seen.sent.push(now());
    const response = await fetch(input, init);
    if (response.status === 429) seen.got429.push(now());
    return response;
  };
  return { seen, fetch: recorded };
}

/** `n` URLs through `limiter.fetch` at concurrency 10 (default retries), every attempt recorded. */
async function viaLimiterFetch(base, run, n, dir, limiterOptions) {
  const { Limiter } = await import('weir-limiter');
  const limiter = new Limiter({ concurrency: 10, ...limiterOptions });
  const client = recordingFetch();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => limiter.fetch(`${base}/${run}/${i}`, { fetch: client.fetch })
    .then(async (r) => { await r.arrayBuffer(); return { status: r.status, attempts: r.attempts }; })
    .catch((error) => ({ status: String(error?.name ?? error), attempts: 0 }))));
  const wall = performance.now() - t0;
  await writeFile(join(dir, `record-${run}.json`), JSON.stringify(client.seen)); // (kept with PEERS_KEEP=1)
  return { results, wall, seen: client.seen };
}

/** `n` URLs through a `weir fetch` build ('js' or 'native'), killed after 90 s. */
async function viaCli(cli, base, run, n, args, dir) {
  const file = join(dir, `urls-${run}.txt`);
  await writeFile(file, Array.from({ length: n }, (_, i) => `${base}/${run}/${i}\n`).join(''));
  const record = join(dir, `record-${run}.json`);
  const recorder = join(dir, 'recorder.mjs');
  if (cli === 'js' && !existsSync(recorder)) await writeFile(recorder, RECORDER);
  const t0 = performance.now();
  const { child, done } = startCli(['fetch', file, '--progress', 'none', ...args], {
    cli,
    ...(cli === 'js' ? { nodeArgs: ['--import', recorder], env: { PEERS_RECORD: record } } : {}),
  });
  track(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const { code, stdout, stderr } = await done;
  clearTimeout(timer);
  const wall = performance.now() - t0;
  if (code !== 0) throw new Error(`weir fetch (${cli}) exited ${code}: ${stderr.slice(-500)}`);
  const results = rowsOf(stdout).map((row) => ({ status: row.status ?? row.error, attempts: row.attempts ?? 0 }));
  const seen = cli === 'js' ? JSON.parse(await readFile(record, 'utf8')) : null;
  return { results, wall, seen };
}

function tally(results) {
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  return { statuses, attempts: results.reduce((a, r) => a + r.attempts, 0) };
}

const statusText = (statuses) => Object.entries(statuses).map(([s, n]) => `${s}: ${n}`).join(', ');

async function nginxScenarios(dir) {
  const nginx = await startNginx(dir);
  const native = existsSync(NATIVE_BIN);
  const out = [];
  try {
    // a. rate=5r/s, burst=0: the clients at once (each its own bucket).
    const N = 40;
    const clientsA = [
      ['limiter.fetch (concurrency 10)', 'a-lib', () => viaLimiterFetch(nginx.url5, 'a-lib', N, dir)],
      ['node bin/weir.js --concurrency 10', 'a-node', () => viaCli('js', nginx.url5, 'a-node', N, ['--concurrency', '10'], dir)],
      ...(native ? [['native weir --concurrency 10', 'a-native', () => viaCli('native', nginx.url5, 'a-native', N, ['--concurrency', '10'], dir)]] : []),
      ['limiter.fetch + perKeyRate 5/s burst 1 (for comparison)', 'a-paced',
        () => viaLimiterFetch(nginx.url5, 'a-paced', N, dir, { perKeyRate: { limit: 5, interval: 1000, burst: 1 } })],
    ];
    const runsA = await Promise.all(clientsA.map(([, , go]) => go()));
    const rowsA = [];
    for (const [i, [label, run]] of clientsA.entries()) {
      const r = runsA[i];
      const { statuses, attempts } = tally(r.results);
      const v = serverView(await nginx.log(run));
      const all200 = check(`1a ${label}: all ${N} URLs 200`, statuses[200] === N, statusText(statuses));
      const cooldown = cooldownCheck(`1a ${label}`, v, r.seen);
      const counted = check(`1a ${label}: weir's attempts = requests nginx logged`, attempts === v.requests, `${attempts} vs ${v.requests}`);
      rowsA.push([label, statusText(statuses), v.rejected, `${attempts} (${v.requests})`, v.maxOkPerSecond,
        `${r.seen ? sentInCooldown(r.seen) : '-'} / ${v.inCooldown}`, s1(r.wall), (N / (r.wall / 1000)).toFixed(1),
        verdict([all200, cooldown, counted])]);
    }
    if (!native) rowsA.push(['native weir', `skipped: no ${NATIVE_BIN} (bash scripts/build-cli.sh)`, '', '', '', '', '', '', '']);
    out.push(`### 1a. nginx \`limit_req rate=5r/s\` (burst=0), 429 + \`Retry-After: 1\`; ${N} URLs, default retries (3 attempts)\n`);
    out.push(table(['client', 'final statuses', 'nginx 429s', 'attempts (nginx saw)', 'max 200s in 1 s at nginx', `sent in a 1 s cooldown: client's record / nginx (>${GRACE_MS} ms after a 429)`, 'wall s', 'URLs/s', 'check'], rowsA));

    // b. rate=20r/s burst=5 nodelay: --rate 20/s,burst=5 vs --rate 20/s.
    const M = 100;
    const builds = [['js', 'node bin/weir.js'], ...(native ? [['native', 'native weir']] : [])];
    const rowsB = [];
    for (const [rate, burst] of [['20/s,burst=5', 5], ['20/s', 20]]) {
      const runs = builds.map(([cli, label]) => [label, `b-${cli}-${burst}`, cli]);
      const results = await Promise.all(runs.map(([, run, cli]) => viaCli(cli, nginx.url20, run, M, ['--rate', rate], dir)));
      for (const [i, [label, run]] of runs.entries()) {
        const r = results[i];
        const { statuses, attempts } = tally(r.results);
        const v = serverView(await nginx.log(run));
        const bound = burst + 20; // weir's promise: burst + limit·w/interval in any window w (w = 1 s)
        const over = beyondBound(v.arrivals, burst, 20);
        const sent = r.seen ? [...r.seen.sent].sort((x, y) => x - y) : null;
        const overSent = sent ? beyondBound(sent, burst, 20) : '-';
        const maxSent = sent ? maxInWindow(sent, 1000) : '-';
        // weir's rate promise, where weir keeps it: the Node CLI's sends (its
        // record: every window), the native CLI's arrivals at nginx (1 s windows).
        const marks = [
          cooldownCheck(`1b ${label} --rate ${rate}`, v, r.seen),
          sent
            ? check(`1b ${label} --rate ${rate}: sent at most burst + 20·t in every window`, overSent === 'none', `sent ${overSent}; at nginx ${over}`)
            : check(`1b ${label} --rate ${rate}: at most ${bound} arrivals in any 1 s`, v.maxPerSecond <= bound, `${v.maxPerSecond}; beyond burst + 20·t at nginx: ${over}`),
        ];
        if (burst === 5) {
          // nginx `burst=5 nodelay` takes 6 at once: weir's bursts of 5 fit,
          // unless requests reach nginx closer together than weir sent them
          // (the column "beyond burst + 20·t": sent / at nginx): 1 or 2 429s
          // are a warning, more a failure.
          marks.push(check(`1b ${label} --rate ${rate}: no 429 (weir's bursts fit nginx's burst=5)`,
            v.rejected === 0 || (v.rejected <= 2 ? 'warn' : false), `${v.rejected} 429s; beyond burst + 20·t: sent ${overSent}, at nginx ${over}`));
          marks.push(check(`1b ${label} --rate ${rate}: all ${M} URLs 200`, statuses[200] === M, statusText(statuses)));
        }
        rowsB.push([label, `--rate ${rate}`, statusText(statuses), v.rejected, `${attempts} (${v.requests})`,
          `${maxSent} / ${v.maxPerSecond} (≤ ${bound})`, `${overSent} / ${over}`, `${r.seen ? sentInCooldown(r.seen) : '-'} / ${v.inCooldown}`, s1(r.wall), verdict(marks)]);
      }
    }
    out.push(`\n### 1b. nginx \`limit_req rate=20r/s burst=5 nodelay\`; ${M} URLs, default concurrency and retries\n`);
    out.push(table(['client', 'rate', 'final statuses', 'nginx 429s', 'attempts (nginx saw)', 'most in any 1 s: sent / at nginx (weir bound)', 'beyond burst + 20·t, worst window: sent / at nginx',
      `sent in a 1 s cooldown: client's record / nginx (>${GRACE_MS} ms)`, 'wall s', 'check'], rowsB));
  } finally {
    await nginx.close();
  }
  return out.join('\n');
}

// ------------------------------------------------------------------ 2, 3. guard

/** The guard server (child process): reports its port, answers 'stats', 'reset' and 'quit'. */
async function guardServer(cap) {
  const { guard, toNodeHandler } = await import('weir-limiter');
  let running = 0;
  const fresh = () => ({ maxRunning: running, cut: 0, goneSeen: 0, goneAdmitted: 0 });
  let counters = fresh();
  const guarded = guard(async (request) => {
    if (new URL(request.url).pathname.startsWith('/gone-')) counters.goneAdmitted += 1;
    running += 1;
    counters.maxRunning = Math.max(counters.maxRunning, running);
    await sleep(20);
    running -= 1;
    return new Response('hello\n', { headers: { 'content-type': 'text/plain' } });
  }, { concurrency: cap });
  const listener = toNodeHandler(guarded);
  const server = http.createServer((req, res) => {
    const c = counters;
    if (req.url.startsWith('/gone-')) c.goneSeen += 1;
    // A response the client did not wait for (it hung up, or wrk stopped).
    res.once('close', () => { if (!res.writableFinished) c.cut += 1; });
    listener(req, res);
  });
  // The baseline for wrk: a bare Node listener answering 429 at once (no weir).
  const bare = http.createServer((req, res) => {
    res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' });
    res.end('Too Many Requests\n');
  });
  const listen = (s) => new Promise((r) => s.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => r(s.address().port)));
  process.send({ port: await listen(server), barePort: await listen(bare) });
  process.on('message', (msg) => {
    if (msg === 'stats') process.send({ stats: guarded.stats(), counters: { ...counters } });
    if (msg === 'reset') {
      counters = fresh();
      process.send({ reset: true });
    }
    if (msg === 'quit') {
      bare.closeAllConnections();
      bare.close();
      server.closeAllConnections();
      server.close(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0)); // the parent went away
}

async function startGuard() {
  const child = track(fork(fileURLToPath(import.meta.url), ['--guard-server', String(GUARD_CAP)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const { port, barePort } = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('guard server did not start in 10 s')), 10_000);
    child.once('message', (m) => { clearTimeout(timer); resolve(m); });
    child.once('exit', (code) => reject(new Error(`guard server exited ${code}`)));
  });
  const ask = (msg) => new Promise((resolve) => { child.once('message', resolve); child.send(msg); });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    bareUrl: `http://127.0.0.1:${barePort}`,
    stats: () => ask('stats'),
    reset: () => ask('reset'),
    /** Wait (up to 5 s) until no permit is held or waited for; the last stats. */
    async drained() {
      const t0 = Date.now();
      let s;
      do {
        s = await ask('stats');
        if (s.stats.inFlight === 0 && s.stats.queued === 0) break;
        await sleep(50);
      } while (Date.now() - t0 < 5000);
      return { ...s, waitedMs: Date.now() - t0 };
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send('quit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A client that sends a GET and hangs up `afterMs` later; resolves with what it read. */
function hangUp(port, path, afterMs) {
  return new Promise((resolve) => {
    let got = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      setTimeout(() => { socket.destroy(); resolve(got); }, afterMs);
    });
    socket.on('data', (d) => { got += d; });
    socket.on('error', () => resolve(got));
  });
}

/** One plain request: its status. */
async function nextStatus(url) {
  const r = await fetch(`${url}/after`, { signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  return r.status;
}

/** wrk's figures from its output. */
function wrkFigures(stdout) {
  const num = (re) => Number(re.exec(stdout)?.[1] ?? 0);
  const requests = num(/(\d+) requests in/);
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requests,
    ok: requests - non2xx,
    non2xx,
    socketErrors: /Socket errors: (.*)/.exec(stdout)?.[1] ?? 'none',
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN).toFixed(0),
  };
}

const WRK_ARGS = ['-t2', '-c400', '-d5s', '--timeout', '2s'];

/** wrk against the guard, with hang-ups; its rows: the bare 429 listener (baseline), the guard. */
async function wrkScenario(server) {
  const baseline = await runBounded(WRK, [...WRK_ARGS, `${server.bareUrl}/`], 20_000);
  if (baseline.code !== 0) throw new Error(`wrk exited ${baseline.code}: ${baseline.stderr}`);
  const b = wrkFigures(baseline.stdout);
  const rows = [['baseline, no weir: wrk -t2 -c400 -d5s against a bare Node listener answering 429', b.requests, b.ok, `${b.non2xx} (non-2xx)`,
    b.socketErrors, b.rps, '-', '-', '-', '-', '-', '-']];

  await server.reset();
  const loading = runBounded(WRK, [...WRK_ARGS, `${server.url}/wrk`], 20_000);
  // 10 early hang-ups during the load (mostly shed), 10 once the server is
  // idle again (admitted: the client leaves while the handler sleeps).
  const hangUps = [];
  await sleep(1000);
  for (let i = 0; i < 10; i++) {
    hangUps.push(hangUp(server.port, `/gone-during-${i}`, 5));
    await sleep(300);
  }
  const wrk = await loading;
  if (wrk.code !== 0) throw new Error(`wrk exited ${wrk.code}: ${wrk.stderr}`);
  await sleep(300);
  for (let i = 0; i < 10; i++) hangUps.push(hangUp(server.port, `/gone-after-${i}`, 5));
  await Promise.all(hangUps);
  // Until the server has read all 20 (up to 3 s), then until nothing is held.
  for (let t = 0; t < 60 && (await server.stats()).counters.goneSeen < hangUps.length; t++) await sleep(50);
  const after = await server.drained();
  const next = await nextStatus(server.url);
  const w = wrkFigures(wrk.stdout);
  const c = after.counters;
  const marks = [
    check(`2 wrk: at most ${GUARD_CAP} handlers at once`, c.maxRunning <= GUARD_CAP, `${c.maxRunning}`),
    check('2 wrk: inFlight 0 once drained (no leaked permit)', after.stats.inFlight === 0, `inFlight ${after.stats.inFlight}, queued ${after.stats.queued}`),
    check('2 wrk: the next request gets 200', next === 200, `${next}`),
  ];
  rows.push(['guard: wrk -t2 -c400 -d5s, + 20 clients hanging up 5 ms after sending', w.requests, w.ok, `${w.non2xx} (non-2xx)`, w.socketErrors, w.rps,
    c.maxRunning, `${c.goneSeen} / ${c.goneAdmitted}`, c.cut, `${after.stats.inFlight} (drained in ${after.waitedMs} ms)`, next, verdict(marks)]);
  return rows;
}

const AIOHTTP_CLIENT = `
import asyncio, collections, json, sys, time
import aiohttp

async def main(url, n, conc):
    counts = collections.Counter()
    sem = asyncio.Semaphore(conc)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc), timeout=timeout) as session:
        async def one(i):
            async with sem:
                try:
                    async with session.get(f"{url}/aio/{i}") as r:
                        await r.read()
                        counts[str(r.status)] += 1
                except Exception as e:
                    counts[type(e).__name__] += 1
        await asyncio.gather(*(one(i) for i in range(n)))
    return counts

t0 = time.perf_counter()
counts = asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
print(json.dumps({"counts": counts, "seconds": time.perf_counter() - t0, "aiohttp": aiohttp.__version__}))
`;

async function aiohttpScenario(server) {
  const N = 2000;
  const C = 200;
  await server.reset();
  const py = await runBounded('python3', ['-c', AIOHTTP_CLIENT, server.url, String(N), String(C)], 60_000);
  if (py.code !== 0) throw new Error(`python3 aiohttp client exited ${py.code}: ${py.stderr.slice(-800)}`);
  const { counts, seconds, aiohttp } = JSON.parse(py.stdout.trim().split('\n').pop());
  const after = await server.drained();
  const next = await nextStatus(server.url);
  const ok = counts['200'] ?? 0;
  const shed = counts['429'] ?? 0;
  const other = Object.entries(counts).filter(([k]) => k !== '200' && k !== '429');
  const marks = [
    check('3 aiohttp: every answer a 200 or a 429', ok + shed === N, JSON.stringify(counts)),
    check(`3 aiohttp: at most ${GUARD_CAP} handlers at once`, after.counters.maxRunning <= GUARD_CAP, `${after.counters.maxRunning}`),
    check('3 aiohttp: inFlight 0 afterwards', after.stats.inFlight === 0, `inFlight ${after.stats.inFlight}`),
    check('3 aiohttp: the next request gets 200', next === 200, `${next}`),
  ];
  return [`aiohttp ${aiohttp}: ${N} GETs, ${C} connections`, N, ok, shed, other.length ? other.map(([k, v]) => `${k}: ${v}`).join(', ') : 'none',
    (N / seconds).toFixed(0), after.counters.maxRunning, '-', after.counters.cut, `${after.stats.inFlight} (drained in ${after.waitedMs} ms)`, next,
    verdict(marks)];
}

async function guardScenarios() {
  const server = await startGuard();
  try {
    const rows = [];
    if (existsSync(WRK)) rows.push(...(await wrkScenario(server)));
    else rows.push([`wrk: skipped (no ${WRK})`, '', '', '', '', '', '', '', '', '', '', '']);
    if (spawnSync('python3', ['-c', 'import aiohttp'], { stdio: 'ignore', timeout: 10_000 }).status === 0) rows.push(await aiohttpScenario(server));
    else rows.push(['aiohttp: skipped (python3 with aiohttp not found)', '', '', '', '', '', '', '', '', '', '', '']);
    return `### 2, 3. \`toNodeHandler(guard(handler, { concurrency: ${GUARD_CAP} }))\`, handler sleeps 20 ms\n\n` +
      table(['load', 'requests', '200', '429', 'client errors (wrk: socket errors)', 'req/s', `handlers at once (cap ${GUARD_CAP})`, 'hang-ups read by the server / admitted',
        'responses cut short by the client', 'stats().inFlight after', 'next request', 'check'], rows);
  } finally {
    await server.close();
  }
}

// ------------------------------------------------------------------ main

function versions() {
  const v = (file, args, re) => {
    const r = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000 });
    return r.error ? 'absent' : re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? '?';
  };
  return `Node ${process.version}, nginx ${v(NGINX, ['-v'], /nginx\/(\S+)/)}, wrk ${v(WRK, ['--version'], /wrk (\S+)/)}, ` +
    `python3 aiohttp ${v('python3', ['-c', 'import aiohttp; print(aiohttp.__version__)'], /(\S+)/)}, ` +
    `native weir ${existsSync(NATIVE_BIN) ? NATIVE_BIN : 'absent'}; ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`;
}

let dir = null;

async function cleanup() {
  await Promise.all([...children].map(stop));
  if (dir && process.env.PEERS_KEEP === '1') console.error(`peers: kept ${dir} (PEERS_KEEP=1): nginx.conf, access.log, URL files, the clients' records`);
  else if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
}

async function main() {
  const t0 = performance.now();
  dir = await mkdtemp(join(os.tmpdir(), 'weir-peers-'));
  console.log('## weir against peers (bench/js/peers.mjs)\n');
  console.log(`${versions()}\n`);
  if (existsSync(NGINX)) console.log(`${await nginxScenarios(dir)}\n`);
  else console.log(`### 1. nginx: skipped (no ${NGINX})\n`);
  console.log(`${await guardScenarios()}\n`);
  const failed = checks.filter((c) => c.ok === false);
  const warned = checks.filter((c) => c.ok === 'warn');
  console.log(`${checks.length - failed.length - warned.length} of ${checks.length} checks passed, ${warned.length} warnings, ` +
    `${failed.length} failed, in ${s1(performance.now() - t0)} s.`);
  for (const c of warned) console.log(`- warn ${c.name}: ${c.detail}`);
  for (const c of failed) console.log(`- FAIL ${c.name}: ${c.detail}`);
  return failed.length === 0 ? 0 : 1;
}

if (process.argv[2] === '--guard-server') {
  guardServer(Number(process.argv[3]));
} else {
  // Stop everything on Ctrl-C, a kill, or after 4 minutes whatever happens.
  let stopping = null; // the exit code once stopping
  const abort = (why, code) => {
    stopping = code;
    console.error(`peers: ${why}; stopping`);
    cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted', 130));
  process.once('SIGTERM', () => abort('terminated', 143));
  const watchdog = setTimeout(() => abort('over 4 minutes', 1), 240_000);
  watchdog.unref();
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    if (stopping === null) console.error(`peers: ${error.stack ?? error}`); // (else: a child stopped by the abort)
  } finally {
    await cleanup();
  }
  process.exit(stopping ?? code);
}
