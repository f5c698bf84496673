// What a benchmark client keeps alive, by V8's own GC trace
// (`--trace-gc-nvp`), against one local server (0-300 ms delay), rounds
// interleaved:
//   node bench/js/gc-live.mjs fetch pool,weir [rounds] [requests]   # bench/js/fetch-client.mjs variants
//   node bench/js/gc-live.mjs cli pool,weir [rounds] [requests]     # bench/js/cli-contender.mjs contenders
// A variant may name another checkout's clients (`/work/main:weir`) and carry
// node flags after a space (`weir --max-semi-space-size=32`).
//
// Per run: req/s, client CPU µs per request, peak RSS (MB), bytes promoted
// per request (summed over scavenges), mark-compacts, the heap after them
// (MB, mean over all but the first: what stays alive — requests in flight,
// fixed state, and undici's FinalizationRegistry entries of requests ended
// since the previous one) and the largest heap before one (MB). V8 sets the
// next mark-compact's trigger at a multiple (here ~4×) of the heap after
// the last, so a byte still alive at a mark-compact costs several of peak
// old space; `oldAtPeak` is old space's size at the peak-RSS sample.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('..', import.meta.url)).replace(/\/bench\/$/, '');
const PROBE = fileURLToPath(new URL('./lib/mem-probe.mjs', import.meta.url));
const [kind, list, roundsText, nText] = process.argv.slice(2);
const client = { fetch: 'fetch-client.mjs', cli: 'cli-contender.mjs' }[kind];
if (!client || !list) throw new Error('usage: gc-live.mjs fetch|cli variant,variant [rounds] [requests]');
const rounds = Number(roundsText ?? 1);
const n = Number(nText ?? 20000);
const server = spawn(process.execPath, [`${HERE}/bench/js/fetch-server.mjs`, '0', '300'], { stdio: ['pipe', 'pipe', 'inherit'] });
const [first] = await once(server.stdout, 'data');
const url = String(first).trim().split('\n')[0];
const field = (line, name) => Number(line.match(new RegExp(` ${name}=([0-9.]+)`))?.[1] ?? 0);
const MB = 2 ** 20;
const sums = new Map();
for (let r = 0; r < rounds; r++) {
  for (const v of list.split(',')) {
    const [spec, ...flags] = v.split(' ');
    const at = spec.lastIndexOf(':');
    const root = at === -1 ? HERE : spec.slice(0, at);
    const name = at === -1 ? spec : spec.slice(at + 1);
    const run = spawnSync(
      process.execPath,
      ['--no-warnings', '--trace-gc-nvp', '--import', PROBE, ...flags, `${root}/bench/js/${client}`, name, url, String(n), '1000'],
      { encoding: 'utf8', cwd: root, maxBuffer: 1 << 30 },
    );
    let promoted = 0;
    const after = [];
    const before = [];
    for (const line of run.stdout.split('\n')) {
      const gc = line.match(/ gc=(\w+)/)?.[1];
      if (gc === 's') promoted += field(line, 'promoted');
      else if (gc !== undefined) {
        after.push(field(line, 'total_size_after') / MB);
        before.push(field(line, 'total_size_before') / MB);
      }
    }
    const out = JSON.parse(run.stdout.slice(run.stdout.lastIndexOf('{"')).split('\n')[0]);
    const probe = JSON.parse(run.stderr.match(/MEMPROBE (.*)/)[1]);
    const live = after.slice(1);
    const row = {
      rps: out.reqPerSec,
      cpu: out.cpuMsPerRequest !== undefined ? out.cpuMsPerRequest * 1000 : out.cpuUsPerReq,
      rss: out.peakRss !== undefined ? out.peakRss / MB : out.peakRssMB,
      promoted: promoted / n,
      mc: after.length,
      live: live.reduce((a, b) => a + b, 0) / Math.max(1, live.length),
      maxBefore: Math.max(0, ...before),
      old: probe.atPeak.old_space,
    };
    console.log(
      r,
      v.padEnd(24),
      `req/s ${row.rps.toFixed(0).padStart(5)}  cpu µs ${row.cpu.toFixed(0)}  rss ${row.rss.toFixed(1)}  promoted B/req ${row.promoted.toFixed(0)}`,
      ` mc ${row.mc}  heap after mc ${row.live.toFixed(1)}  max before mc ${row.maxBefore.toFixed(1)}  oldAtPeak ${row.old}`,
    );
    const list2 = sums.get(v) ?? [];
    list2.push(row);
    sums.set(v, list2);
  }
}
server.stdin.end();
console.log('means:');
for (const [v, rows] of sums) {
  const m = (k) => rows.reduce((a, x) => a + x[k], 0) / rows.length;
  console.log(
    v.padEnd(24),
    `req/s ${m('rps').toFixed(0)}  cpu µs ${m('cpu').toFixed(0)}  rss ${m('rss').toFixed(1)}  promoted B/req ${m('promoted').toFixed(0)}`,
    ` heap after mc ${m('live').toFixed(2)}  max before mc ${m('maxBefore').toFixed(1)}  oldAtPeak ${m('old').toFixed(1)}`,
  );
}
