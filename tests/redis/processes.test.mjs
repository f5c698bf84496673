// Processes share one store: three Node processes and one native (the
// weir-limiter-redis example `share_quota`) admit from one quota; a Node
// holder killed with SIGKILL gets its permit reclaimed within leaseMs + 10%.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Limiter } from '../../bindings/js/node.js';
import { RedisStore } from '../../bindings/js/redis/index.js';
import { RedisServer, CLIENTS, SKIP } from './helpers.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const child = fileURLToPath(new URL('./child.mjs', import.meta.url));

/** The native example, built when missing (`cargo test` builds it too). */
function nativeExample() {
  const bin = `${process.env.CARGO_TARGET_DIR ?? `${root}target`}/debug/examples/share_quota`;
  if (!existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '-q', '-p', 'weir-limiter-redis', '--example', 'share_quota'], { cwd: root, stdio: 'inherit' });
    assert.equal(r.status, 0, 'cargo build --example share_quota');
  }
  return bin;
}

function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

test('three Node processes and one native share one quota', { skip: SKIP }, async () => {
  const server = await RedisServer.start();
  try {
    const bin = nativeExample();
    const RUN_MS = 5000;
    const LIMIT = 100;
    const BURST = 10;
    const start = BigInt(Date.now() + 1500) * 1_000_000n; // after every process is up
    const env = {
      WEIR_URL: server.url,
      WEIR_PREFIX: 'x:',
      WEIR_START: String(start),
      WEIR_RUN_MS: String(RUN_MS),
      WEIR_LIMIT: String(LIMIT),
      WEIR_BURST: String(BURST),
    };
    const outs = await Promise.all([
      run(process.execPath, [child], { ...env, WEIR_CHILD: 'quota' }),
      run(process.execPath, [child], { ...env, WEIR_CHILD: 'quota' }),
      run(process.execPath, [child], { ...env, WEIR_CHILD: 'quota' }),
      run(bin, [], env),
    ]);
    const per = outs.map((o) => o.split('\n').filter((l) => l.startsWith('WEIR ')).map((l) => BigInt(l.slice(5))));
    const all = per.flat().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.ok(per.every((p) => p.length > 0), `every process was admitted: ${per.map((p) => p.length)}`);
    // Sliding windows: at most burst + rate·w. The instants are the clients'
    // (taken when the reply was handled, after the server decided), so a
    // window may look shorter by their jitter: allowed 50 ms of it (rate·0.05).
    const jitter = LIMIT * 0.05;
    for (let i = 0; i < all.length; i++) {
      for (let j = i; j < all.length; j++) {
        const w = Number(all[j] - all[i]) / 1e9;
        assert.ok(j - i + 1 <= BURST + LIMIT * w + jitter, `${j - i + 1} admitted within ${w} s`);
      }
    }
    // Over the whole run (first to last admission, about RUN_MS when every
    // process started on time): the bound, and at least 95% of it.
    const span = Number(all.at(-1) - all[0]) / 1e9;
    assert.ok(span >= (0.9 * RUN_MS) / 1000 && span <= (1.5 * RUN_MS) / 1000, `admissions spanned ${span} s`);
    const bound = BURST + LIMIT * span;
    assert.ok(all.length <= bound + 1, `${all.length} admitted, bound ${bound}`);
    assert.ok(all.length >= 0.95 * bound, `${all.length} admitted: ${((100 * all.length) / bound).toFixed(1)}% of ${bound}`);
  } finally {
    await server.stop();
  }
});

test('a SIGKILLed holder\'s permit comes back within leaseMs + 10%', { skip: SKIP }, async () => {
  const server = await RedisServer.start();
  const LEASE = 600;
  const holder = spawn(process.execPath, [child], {
    env: { ...process.env, WEIR_CHILD: 'holder', WEIR_URL: server.url, WEIR_PREFIX: 'h:', WEIR_LEASE_MS: String(LEASE) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const { client, close } = await CLIENTS.ioredis(server.url);
  const store = new RedisStore(client, { prefix: 'h:', leaseMs: LEASE, timeoutMs: 1000 });
  try {
    await new Promise((resolve, reject) => {
      let out = '';
      holder.stdout.on('data', (d) => {
        out += d;
        if (out.includes('WEIR held')) resolve();
      });
      holder.on('exit', () => reject(new Error('the holder exited before holding')));
    });
    const limiter = new Limiter({ store, perKey: 1 });
    // Held past one lease: the holder renews it.
    await new Promise((r) => setTimeout(r, 900));
    const early = await limiter.acquire({ key: 'only', signal: AbortSignal.timeout(100) }).then(() => 'got', (e) => e.name);
    assert.equal(early, 'TimeoutError');
    const exited = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    const killed = performance.now();
    await exited;
    const release = await limiter.acquire({ key: 'only', signal: AbortSignal.timeout(5000) });
    const took = performance.now() - killed;
    assert.ok(took <= LEASE * 1.1, `reclaimed after ${took} ms (lease ${LEASE} ms)`);
    release();
  } finally {
    holder.kill('SIGKILL');
    await store.close();
    await close();
    await server.stop();
  }
});
