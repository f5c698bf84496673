// Where the eager `limiter.run` benchmark's memory goes: 1,000,000
// `limiter.run(() => task(i))` calls at concurrency 100 (as in tasks.mjs),
// then `Promise.all`. Prints the JS heap and external (wasm memory) growth
// after submission, and the peak RSS.
//
//   node bench/js/eager-mem.mjs [n]
const { Limiter } = await import('weir-limiter');

const n = Number(process.argv[2] ?? 1e6);
const limiter = new Limiter({ concurrency: 100 });
const task = async (i) => i;
const all = new Array(n);
const mb = (x) => (x / 1048576).toFixed(0);
const before = process.memoryUsage();
for (let i = 0; i < n; i++) all[i] = limiter.run(() => task(i));
const after = process.memoryUsage();
console.log(`after submitting ${n}: JS heap +${mb(after.heapUsed - before.heapUsed)} MB, external (wasm memory) +${mb(after.external - before.external)} MB, RSS ${mb(after.rss)} MB`);
let sum = 0;
for (const v of await Promise.all(all)) sum += v;
if (sum !== (n * (n - 1)) / 2) throw new Error('wrong sum');
const end = process.memoryUsage();
console.log(`at the end: peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} MB, JS heap ${mb(end.heapUsed)} MB, external ${mb(end.external)} MB`);
