// A lazy URL generator through limitedAsCompleted + limiter.fetch keeps memory
// flat: peak RSS of a child process at 10⁵ requests stays within 1.5× (plus
// slack) of the same run at 10⁴.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { targets } from './helpers.mjs';

const [server] = await targets(1);
after(() => server.close());
const child = fileURLToPath(new URL('./memory-child.mjs', import.meta.url));

function run(n) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [child, server.url, String(n)], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

test('memory stays flat from 10^4 to 10^5 requests', { timeout: 180_000 }, async () => {
  const small = await run(10_000);
  const large = await run(100_000);
  const mb = (x) => (x / 2 ** 20).toFixed(1);
  console.log(`peak RSS: 10^4 → ${mb(small.peakRss)} MB, 10^5 → ${mb(large.peakRss)} MB`);
  assert.equal(small.count, 10_000);
  assert.equal(large.count, 100_000);
  assert.equal(large.bytes, 100_000 * 'Hello, World!'.length);
  assert.equal(large.inFlight + large.queued, 0);
  assert.ok(
    large.peakRss <= 1.5 * small.peakRss + 16 * 2 ** 20,
    `peak RSS grew from ${mb(small.peakRss)} MB to ${mb(large.peakRss)} MB`,
  );
});
