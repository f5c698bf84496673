// Runs tests/redis/deno-store.js under Deno against a redis-server started here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RedisServer, SKIP } from './helpers.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the RedisStore under Deno', { skip: SKIP }, async () => {
  const server = await RedisServer.start();
  try {
    const r = spawnSync(`${root}node_modules/.bin/deno`, ['test', '--allow-all', '--no-lock', '--no-check', 'tests/redis/deno-store.js'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', WEIR_REDIS_PORT: String(server.port) },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /1 passed/);
  } finally {
    await server.stop();
  }
});
