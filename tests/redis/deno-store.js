// The RedisStore under Deno (ioredis from node_modules): two limiters on
// separate connections share one quota. Run by tests/redis/deno.test.mjs
// (`npm run test:redis`); not named *.test.js, so that node --test skips it.
import { Limiter } from '../../bindings/js/index.js';
import { RedisStore } from '../../bindings/js/redis/index.js';
import Redis from 'ioredis';

const port = Number(Deno.env.get('WEIR_REDIS_PORT') ?? '0');

Deno.test({
  name: 'deno: two limiters share one quota through the store',
  ignore: port === 0,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const clients = [new Redis(port, '127.0.0.1'), new Redis(port, '127.0.0.1')];
    const stores = clients.map((c) => new RedisStore(c, { prefix: 'deno:', timeoutMs: 2000 }));
    const [a, b] = stores.map((store) => new Limiter({ store, perKeyRate: { limit: 10, interval: 1000, burst: 2 } }));
    try {
      const t0 = performance.now();
      await a.run(() => {}, { key: 'k' });
      await b.run(() => {}, { key: 'k' });
      await a.run(() => {}, { key: 'k' }); // the third unit waits for the shared quota
      const waited = performance.now() - t0;
      if (!(waited >= 95)) throw new Error(`the 3rd unit came ${waited} ms after the first (due 100 ms)`);
      if (a.stats().store.mode !== 'ok') throw new Error(JSON.stringify(a.stats().store));
    } finally {
      for (const s of stores) await s.close();
      for (const c of clients) c.disconnect();
    }
  },
});
