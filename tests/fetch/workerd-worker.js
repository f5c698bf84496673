// The Worker of workerd.test.mjs: limiter.fetch inside workerd against the
// local target server given as `?target=`. No concurrency is set, so the
// workerd default (6, the platform's connection limit) applies.
import { Limiter, limitedAsCompleted } from 'weir-limiter';

export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get('target');
    const limiter = new Limiter({ perKey: 20 });
    const urls = Array.from({ length: 24 }, (_, i) => `${target}/slow-body?ms=40&chunks=2&i=${i}`);
    const mapper = async (url, { signal }) => (await limiter.fetch(url, { signal })).text();
    let ok = 0;
    for await (const r of limitedAsCompleted(urls, mapper, { concurrency: 24 })) if (r.value === '..') ok += 1;
    // A 503 is retried (GET), then given up on.
    const retried = await limiter.fetch(`${target}/status/503`, { retry: { attempts: 2, baseDelay: 1 } });
    await retried.text();
    const stats = limiter.stats();
    return Response.json({
      ok,
      concurrency: stats.concurrency,
      inFlight: stats.inFlight,
      retriedAttempts: retried.attempts,
      fetchStats: limiter.fetchStats(),
    });
  },
};
