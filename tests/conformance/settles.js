import { test } from './harness.js';

/** A small deterministic PRNG (mulberry32) so every host runs the same storm. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('settles: every promise settles under aborts, errors and rate limits; nothing leaks', async ({ weir, assert, sleep }) => {
  const random = prng(42);
  const limiter = new weir.Limiter({
    concurrency: 4,
    perKey: 2,
    perKeyRate: { limit: 50, interval: 100 },
    maxQueue: 150,
  });
  const sem = new weir.KeyedSemaphore({ global: 3, perKey: 1 });
  const promises = [];
  let running = 0;
  let maxRunning = 0;
  for (let i = 0; i < 120; i++) {
    const key = `k${Math.floor(random() * 5)}`;
    const controller = new AbortController();
    const roll = random();
    promises.push(limiter.run(async ({ signal }) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      try {
        await sleep(Math.floor(random() * 3));
        if (roll < 0.1) throw new Error('task failed');
        return i;
      } finally {
        running -= 1;
      }
    }, { key, signal: controller.signal }));
    if (roll > 0.8) setTimeout(() => controller.abort(new Error('aborted')), Math.floor(random() * 4));
    const semController = new AbortController();
    promises.push(
      sem.acquire(key, 1, { signal: semController.signal }).then(async (release) => {
        await sleep(0);
        release();
      }),
    );
    if (roll < 0.3) semController.abort(new Error('sem abort'));
  }
  const outcomes = await Promise.allSettled(promises);
  assert.equal(outcomes.length, 240, 'all settled');
  assert.atMost(maxRunning, 4);
  const fulfilled = outcomes.filter((o) => o.status === 'fulfilled').length;
  assert.ok(fulfilled > 100, `most work ran (${fulfilled})`);
  await sleep(5);
  const s = limiter.stats();
  assert.deepEqual([s.inFlight, s.queued, s.keys], [0, 0, 0], 'limiter holds nothing');
  const t = sem.stats();
  assert.deepEqual([t.inFlight, t.waiting, t.keys], [0, 0, 0], 'semaphore holds nothing');
});
