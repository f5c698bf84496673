// The floor of eager submission in this harness: a FIFO limiter in plain JS
// (no wasm, no options, no abort) running N `run(() => task(i))` calls then
// `Promise.all`, like the `p-limit` and `weir limiter.run` contenders of
// bench/js/tasks.mjs. Two ways to hold a waiter:
//   exec:   a Promise made by an executor per waiter (resolve kept in an array)
//   cohort: waiters share a gate Promise per 256 (`gate.then(step)`, no
//           resolving functions until their cohort opens)
//
//   node bench/js/eager-floor.mjs exec|cohort
//
// Neither gets peak RSS to half of p-limit's (912 MB at 1 M): the harness's
// own closure per task, the returned Promise and `Promise.all` are most of it.
const mode = process.argv[2]; const n = 1e6; const C = 100;
const task = async (i) => i;
let inflight = 0;
const fns = []; let head = 0;
// executor mode
const resolves = [];
function releaseExec() {
  inflight--;
  if (head < fns.length) { const fn = fns[head]; const r = resolves[head]; fns[head] = undefined; resolves[head] = undefined; head++; inflight++; const w = fn(); r(w.then(v => { releaseExec(); return v; })); }
}
function runExec(fn) {
  if (inflight < C) { inflight++; return fn().then(v => { releaseExec(); return v; }); }
  fns.push(fn); return new Promise(r => resolves.push(r));
}
// cohort mode: waiters get gate.then(step); cohort opened when its first waiter is admitted
const SIZE = 256;
let cohort = null; // open for joining
const cohorts = []; let ch = 0; // FIFO of cohorts
const granted = [];
function newCohort() { const c = { open: null, gate: null, first: fns.length, i: 0, step: null }; c.gate = new Promise(r => { c.open = r; }); c.step = () => stepOf(c); return c; }
function stepOf(c) {
  const idx = c.first + c.i++;
  const g = granted[idx];
  if (g !== undefined) { granted[idx] = undefined; return g; }
  return new Promise(r => { resolves[idx] = r; });
}
function start(idx) { const fn = fns[idx]; fns[idx] = undefined; return fn().then(v => { releaseCoh(); return v; }); }
function releaseCoh() {
  inflight--;
  if (head < fns.length) {
    const idx = head++; inflight++;
    const r = resolves[idx];
    if (r !== undefined) { resolves[idx] = undefined; r(start(idx)); return; }
    granted[idx] = start(idx);
    // open the cohort containing idx
    while (ch < cohorts.length && cohorts[ch].first + SIZE <= idx) ch++;
    const c = cohorts[ch]; if (c.open) { c.open(); c.open = null; if (cohort === c) cohort = null; }
  }
}
function runCoh(fn) {
  if (inflight < C && head === fns.length) { inflight++; return fn().then(v => { releaseCoh(); return v; }); }
  if (cohort === null || fns.length - cohort.first >= SIZE) { cohort = newCohort(); cohorts.push(cohort); }
  fns.push(fn);
  return cohort.gate.then(cohort.step);
}
const run = mode === 'exec' ? runExec : runCoh;
const t0 = performance.now(); const c0 = process.cpuUsage();
const all = new Array(n);
for (let i = 0; i < n; i++) all[i] = run(() => task(i));
const mid = process.memoryUsage().heapUsed;
let sum = 0; for (const v of await Promise.all(all)) sum += v;
const c = process.cpuUsage(c0); const t = performance.now() - t0;
console.log(mode, (n / t * 1000 / 1e3).toFixed(0), 'k/s cpu', ((c.user + c.system) * 1000 / n).toFixed(0), 'ns/item heap after submit', (mid / 1048576).toFixed(0), 'MB peak rss', (process.resourceUsage().maxRSS / 1024).toFixed(0), 'ok', sum === n * (n - 1) / 2);
