// Child process of memory.test.mjs: N requests from a lazy URL generator
// through limitedAsCompleted + limiter.fetch; prints {count, peakRss} as JSON.
import { Limiter, limitedAsCompleted } from 'weir-limiter';

const [base, nText] = process.argv.slice(2);
const n = Number(nText);
const limiter = new Limiter({ perKey: 64 });
function* urls() {
  for (let i = 0; i < n; i++) yield `${base}/delay?ms=0&i=${i}`;
}
let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 20);
let count = 0;
let bytes = 0;
const mapper = async (url, { signal }) => (await limiter.fetch(url, { signal })).text();
for await (const result of limitedAsCompleted(urls(), mapper, { concurrency: 64 })) {
  if (result.status !== 'fulfilled') throw result.reason;
  count += 1;
  bytes += result.value.length;
}
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
const stats = limiter.stats();
process.stdout.write(JSON.stringify({ count, bytes, peakRss, inFlight: stats.inFlight, queued: stats.queued }));
