// Preloaded by bench/js/gc-live.mjs (`node --import`): samples memory every
// 10 ms and, at exit, prints to stderr one line `MEMPROBE {json}`: the
// breakdown (MB) at the sample with the highest RSS, and each figure's max.
import v8 from 'node:v8';

let peak = { rss: 0 };
const max = {};
function sample() {
  const m = process.memoryUsage();
  const s = { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
  for (const space of v8.getHeapSpaceStatistics()) s[space.space_name] = space.physical_space_size;
  for (const k in s) max[k] = Math.max(max[k] ?? 0, s[k]);
  if (s.rss > peak.rss) peak = s;
}
setInterval(sample, 10).unref();
process.on('exit', () => {
  sample();
  const mb = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v / 2 ** 17) / 8]));
  process.stderr.write(`MEMPROBE ${JSON.stringify({ atPeak: mb(peak), max: mb(max) })}\n`);
});
