#!/usr/bin/env node
// The uncontended admit + release pair, in CPU ns per pair (process.cpuUsage,
// so other load on the machine inflates it less than wall time would).
//
//   node bench/js/admit.mjs                         # the built bindings/js/wasm/
//   node bench/js/admit.mjs --wasm A.wasm,B.wasm    # interleaved rounds, one child per round
//   node bench/js/admit.mjs --rounds 5 --n 2000000
//
// Two loops per round:
//   raw   RawLimiter.tryAcquireUnkeyed(1) + release(id): the two wasm calls only
//   run   limiter.run(() => 1) over 100 at a time: the same pair plus api.js's
//         glue and the Promise the caller gets
// Several --wasm files must come from the same source (same wasm-bindgen glue:
// bindings/js/wasm/weir_wasm.js, through bindings/js/boundary.js, is used for all of them), e.g. opt-level variants.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const n = Number(flag('--n', 1_000_000));
const wasmFlag = flag('--wasm', undefined);

if (process.env.WEIR_ADMIT_CHILD) {
  const { initWasm, RawLimiter } = await import('../../bindings/js/boundary.js');
  initWasm(readFileSync(process.env.WEIR_ADMIT_CHILD));
  const { Limiter } = await import('../../bindings/js/api.js');
  const cpu = (f) => {
    const t = process.cpuUsage();
    f();
    const d = process.cpuUsage(t);
    return ((d.user + d.system) * 1000) / n;
  };
  const raw = new RawLimiter(100, undefined, new Float64Array(0), new Float64Array(0), undefined);
  const rawLoop = () => {
    for (let i = 0; i < n; i++) raw.release(raw.tryAcquireUnkeyed(1));
  };
  rawLoop(); // warm up
  const rawNs = cpu(rawLoop);
  const limiter = new Limiter({ concurrency: 100 });
  const task = () => 1;
  const runBatches = async (count) => {
    const batch = new Array(100);
    for (let i = 0; i < count; i += 100) {
      for (let j = 0; j < 100; j++) batch[j] = limiter.run(task);
      await Promise.all(batch);
    }
  };
  await runBatches(n / 10);
  const t = process.cpuUsage();
  await runBatches(n);
  const d = process.cpuUsage(t);
  const runNs = ((d.user + d.system) * 1000) / n;
  console.log(JSON.stringify({ rawNs, runNs }));
} else {
  const rounds = Number(flag('--rounds', 3));
  const wasms = wasmFlag ? wasmFlag.split(',') : [fileURLToPath(new URL('../../bindings/js/wasm/weir_wasm_bg.wasm', import.meta.url))];
  const results = wasms.map(() => []);
  for (let r = 0; r < rounds; r++) {
    wasms.forEach((wasm, i) => {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--n', String(n)], {
        env: { ...process.env, WEIR_ADMIT_CHILD: wasm },
        stdio: ["ignore", "pipe", "inherit"],
      });
      results[i].push(JSON.parse(out));
    });
  }
  const fmt = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
  wasms.forEach((wasm, i) => {
    const raw = results[i].map((x) => x.rawNs);
    const run = results[i].map((x) => x.runNs);
    console.log(`${wasm}\n  raw pair ns: min ${Math.min(...raw).toFixed(0)} (${fmt(raw)})\n  run() ns:    min ${Math.min(...run).toFixed(0)} (${fmt(run)})`);
  });
}
