// One Node process of a fleet (spawned by the tests): `quota` admits as fast
// as a shared quota allows from WEIR_START for WEIR_RUN_MS and prints each
// admission (`WEIR <ns since epoch>`); `holder` takes the only permit of a
// key, says `WEIR held`, and sleeps until killed.
import { Limiter } from '../../bindings/js/node.js';
import { RedisStore } from '../../bindings/js/redis/index.js';
import Redis from 'ioredis';

const env = process.env;
const client = new Redis(env.WEIR_URL);
client.on('error', () => {});
const wallNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;

if (env.WEIR_CHILD === 'quota') {
  // A generous timeout: this test is about sharing, not about a loaded machine's latency.
  const store = new RedisStore(client, { prefix: env.WEIR_PREFIX, timeoutMs: 2000 });
  const limiter = new Limiter({
    store,
    perKeyRate: { limit: Number(env.WEIR_LIMIT), interval: 1000, burst: Number(env.WEIR_BURST) },
  });
  const start = Number(BigInt(env.WEIR_START) / 1_000_000n);
  await new Promise((r) => setTimeout(r, Math.max(0, start - Date.now())));
  const end = performance.now() + Number(env.WEIR_RUN_MS);
  const admitted = [];
  const worker = async () => {
    for (;;) {
      const left = end - performance.now();
      if (left <= 0) return;
      const signal = AbortSignal.timeout(Math.max(1, Math.ceil(left)));
      try {
        await limiter.run(() => admitted.push(wallNs()), { key: 'shared', signal });
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  process.stdout.write(admitted.map((t) => `WEIR ${t}\n`).join(''));
  await store.close();
  client.disconnect();
} else if (env.WEIR_CHILD === 'holder') {
  const store = new RedisStore(client, { prefix: env.WEIR_PREFIX, leaseMs: Number(env.WEIR_LEASE_MS), timeoutMs: 1000 });
  const limiter = new Limiter({ store, perKey: 1 });
  await limiter.acquire({ key: 'only' });
  process.stdout.write('WEIR held\n');
  setInterval(() => {}, 60_000);
} else {
  throw new Error(`unknown WEIR_CHILD ${env.WEIR_CHILD}`);
}
