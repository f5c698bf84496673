#!/usr/bin/env node
// Shared limits on one local redis-server, side by side: weir (JS RedisStore
// and the native weir-limiter-redis) against rate-limiter-flexible's
// RateLimiterRedis and bottleneck's Redis clustering.
//
//   node bench/js/redis.mjs                       # all, 3 rounds of 2 s per cell, 5 s exactness window
//   node bench/js/redis.mjs --ms 1000 --window 10000 --only 'weir JS,rate-limiter-flexible'
//
// Throughput: a quota nobody reaches (10^9 per second per key), so every
// decision admits; `callers` concurrent loops (1 and 64) over 1 key or 10^4
// keys for `--ms`. Printed: decisions/s, commands sent per decision (each a
// round trip unless pipelined; counted on the client, natively from the
// store's counters), p99 decision latency, and each contender ÷ weir JS and
// ÷ rate-limiter-flexible.
// Each cell runs `--rounds` times, the contenders interleaved, best round kept
// (the machine may be shared: the best round is the least disturbed).
// Exactness: 100 per second on one key, 64 callers for `--window` ms, each
// waiting as its limiter tells it; printed: admitted, the GCRA bound
// burst + rate·t (burst 100), and the worst excess over `100 + 100·w` in any
// window w of the admissions (0 = never more than the promise).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import Redis from 'ioredis';

const args = process.argv.slice(2);
const flag = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const MS = Number(flag('--ms', 2000));
const WINDOW = Number(flag('--window', 5000));
const only = flag('--only', undefined)?.split(',');
const ROUNDS = Number(flag('--rounds', 3));
const root = fileURLToPath(new URL('../../', import.meta.url));

// ------------------------------------------------------------------ server

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
for (;;) {
  const up = await new Promise((r) => {
    const c = connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
    c.on('error', () => r(false));
  });
  if (up) break;
  await new Promise((r) => setTimeout(r, 10));
}
const url = `redis://127.0.0.1:${port}/`;
const version = execFileSync('redis-server', ['--version']).toString().split(' ')[2];

/** An ioredis client whose commands are counted. */
function countedClient() {
  const c = new Redis(url);
  c.sent = 0;
  const send = c.sendCommand.bind(c);
  c.sendCommand = (cmd, stream) => {
    c.sent++;
    return send(cmd, stream);
  };
  return c;
}

// ------------------------------------------------------------- contenders

const BIG = 1_000_000_000;
let run = 0;

/** Each returns { decide(key) -> Promise, sent(), close() } for throughput, or { admit(key) -> Promise (waits), close() } for exactness. */
const contenders = {
  async 'weir JS'(exact) {
    const { Limiter } = await import('../../bindings/js/node.js');
    const { RedisStore } = await import('../../bindings/js/redis/index.js');
    const client = countedClient();
    const store = new RedisStore(client, { prefix: `bw${run++}:`, timeoutMs: 2000 });
    const limiter = new Limiter({ store, perKeyRate: exact ? { limit: 100, interval: 1000 } : { limit: BIG, interval: 1000 } });
    const noop = () => {};
    return {
      decide: (key) => limiter.run(noop, { key }),
      sent: () => client.sent,
      close: async () => {
        await store.close();
        client.disconnect();
      },
    };
  },
  async 'rate-limiter-flexible'(exact) {
    const { RateLimiterRedis } = await import('rate-limiter-flexible');
    const client = countedClient();
    const rl = new RateLimiterRedis({ storeClient: client, points: exact ? 100 : BIG, duration: 1, keyPrefix: `rlf${run++}` });
    const decide = exact
      ? async (key) => {
          for (;;) {
            try {
              return await rl.consume(key);
            } catch (r) {
              if (r instanceof Error) throw r;
              await new Promise((res) => setTimeout(res, r.msBeforeNext));
            }
          }
        }
      : (key) => rl.consume(key);
    return { decide, sent: () => client.sent, close: async () => client.disconnect() };
  },
  async 'bottleneck (Redis clustering)'(exact) {
    const { default: Bottleneck } = await import('bottleneck');
    const client = countedClient();
    const connection = new Bottleneck.IORedisConnection({ client });
    const id = `bn${run++}`;
    const opts = exact
      ? { reservoir: 100, reservoirRefreshAmount: 100, reservoirRefreshInterval: 1000 }
      : { reservoir: null };
    const group = new Bottleneck.Group({ id, datastore: 'ioredis', connection, clearDatastore: true, ...opts });
    group.on('error', () => {});
    const noop = () => undefined;
    return {
      decide: (key) => group.key(String(key)).schedule(noop),
      sent: () => client.sent,
      close: async () => {
        try {
          await group.disconnect(false);
        } catch {}
        client.disconnect();
      },
    };
  },
};

async function throughput(name, callers, keys) {
  const c = await contenders[name](false);
  await c.decide('warm');
  const sent0 = c.sent();
  const lat = [];
  let n = 0;
  const end = performance.now() + MS;
  const t0 = performance.now();
  let failed;
  await Promise.all(
    Array.from({ length: callers }, async (_, i) => {
      let k = i;
      while (performance.now() < end && failed === undefined) {
        const t = performance.now();
        try {
          await c.decide(k % keys);
        } catch (e) {
          failed = e;
          return;
        }
        lat.push(performance.now() - t);
        n++;
        k += callers;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const sent = c.sent() - sent0;
  await c.close();
  if (failed) return { error: String(failed.message ?? failed).slice(0, 60) };
  lat.sort((a, b) => a - b);
  return { perSec: n / secs, trips: sent / n, p99: lat[Math.ceil(lat.length * 0.99) - 1] };
}

function nativeBin() {
  const bin = `${process.env.CARGO_TARGET_DIR ?? `${root}target`}/release/redis_store`;
  {
    // Always: cargo is a no-op when the binary is current, and a stale one would measure old code.
    const r = spawnSync('cargo', ['build', '-q', '--release', '-p', 'weir-bench', '--bin', 'redis_store'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('cargo build --bin redis_store failed');
  }
  return bin;
}

function native(argv) {
  const out = execFileSync(nativeBin(), ['--url', url, '--prefix', `bn-native${run++}:`, ...argv]).toString();
  return JSON.parse(out.trim().split('\n').at(-1));
}

/** Worst excess of the admissions over `burst + rate·w` in any window (ms timestamps). */
function excess(times, burst, perMs) {
  times.sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      worst = Math.max(worst, j - i + 1 - (burst + perMs * (times[j] - times[i])));
    }
  }
  return Math.max(0, Math.floor(worst));
}

async function exactness(name) {
  const c = await contenders[name](true);
  const times = [];
  const end = performance.now() + WINDOW;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        const left = end - performance.now();
        const r = await Promise.race([c.decide('x').then(() => true), new Promise((res) => setTimeout(res, left, false))]);
        if (!r || performance.now() > end) return;
        times.push(performance.now());
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await c.close();
  return { admitted: times.length, bound: 100 + 100 * secs, excess: excess(times, 100, 0.1) };
}

// -------------------------------------------------------------------- run

const names = ['weir JS', 'weir native', 'rate-limiter-flexible', 'bottleneck (Redis clustering)'].filter((n) => !only || only.includes(n));
console.log(`redis-server ${version} on 127.0.0.1, ${MS} ms per cell, node ${process.version}\n`);
console.log('| callers | keys | contender | decisions/s | commands/decision | p99 ms | ÷ weir JS | ÷ rate-limiter-flexible |');
console.log('|--:|--:|:--|--:|--:|--:|--:|--:|');
for (const callers of [1, 64]) {
  for (const keys of [1, 10_000]) {
    const best = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names) {
        let r;
        if (name === 'weir native') {
          const o = native(['--mode', 'throughput', '--callers', String(callers), '--keys', String(keys), '--ms', String(MS)]);
          r = { perSec: o.decisions / o.seconds, trips: o.roundTrips / o.decisions, p99: o.p99Ms };
        } else {
          r = await throughput(name, callers, keys);
        }
        if (r.error || !(best[name]?.perSec >= r.perSec)) best[name] = r;
      }
    }
    const base = best['weir JS']?.perSec;
    const rlf = best['rate-limiter-flexible']?.perSec;
    for (const name of names) {
      const r = best[name];
      if (r.error) {
        console.log(`| ${callers} | ${keys} | ${name} | failed: ${r.error} | | | | |`);
        continue;
      }
      const ratio = base ? (r.perSec / base).toFixed(2) : '';
      const vsRlf = rlf ? (r.perSec / rlf).toFixed(2) : '';
      console.log(`| ${callers} | ${keys} | ${name} | ${Math.round(r.perSec).toLocaleString('en-US')} | ${r.trips.toFixed(2)} | ${r.p99.toFixed(2)} | ${ratio} | ${vsRlf} |`);
    }
  }
}

console.log(`\nExactness: 100/s on one key, 64 callers, ${WINDOW} ms\n`);
console.log('| contender | admitted | bound (100 + 100·t) | worst excess over 100 + 100·w |');
console.log('|:--|--:|--:|--:|');
for (const name of names) {
  let r;
  if (name === 'weir native') {
    const o = native(['--mode', 'exact', '--callers', '64', '--ms', String(WINDOW), '--limit', '100']);
    r = { admitted: o.admitted, bound: 100 + 100 * o.seconds, excess: o.excess };
  } else {
    r = await exactness(name);
  }
  console.log(`| ${name} | ${r.admitted} | ${r.bound.toFixed(0)} | ${r.excess} |`);
}
server.kill('SIGKILL');
