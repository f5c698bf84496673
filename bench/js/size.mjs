#!/usr/bin/env node
// Package size: the wasm and its glue, gzipped, against the budgets (the
// whole ≤ 45 KiB; the limiter part, without `limiter.fetch`'s retry brain
// and the guard's methods, ≤ 30 KiB), and every file each entry pulls in.
//
//   npm run build && npm run bench:size
//   node bench/js/size.mjs --entry bindings/js/node.js      # one entry only
//   node bench/js/size.mjs --parts                 # also build and measure the limiter part
//
// For each entry it follows the static relative imports from the loader
// and lists every file reached, raw and gzip level 9 (zlib, within ~0.3 %
// of `gzip -9`). "wasm + glue" is the wasm as that entry loads it (the
// .wasm file, or the inline DEFLATE/base64 module plus its inflater) and
// the wasm-bindgen glue. With esbuild installed it also prints one minified
// bundle of the entry's JS (what a bundler would ship). `--parts` builds the
// bindings with `--no-default-features --features as-completed` (scripts/build.sh into
// target/size-limiter/, a release wasm build: minutes) and measures that.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WHOLE_BUDGET = 45 * 1024;
const LIMITER_BUDGET = 30 * 1024;
const args = process.argv.slice(2);
const only = args.includes('--entry') ? args[args.indexOf('--entry') + 1] : null;
const entries = only ? [only] : ['bindings/js/index.js', 'bindings/js/node.js'];

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const verdict = (n, budget) => `${n <= budget ? 'PASS' : 'MISS'} (budget ${kib(budget)})`;

/** Files reached from `entry` through static relative imports (and a .wasm a loader reads). */
function closure(entry) {
  const seen = new Set();
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.endsWith('.js')) return;
    const src = readFileSync(join(root, file), 'utf8');
    const specs = [
      ...src.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*['"](\.[^'"]+)['"]/gms),
      ...src.matchAll(/^\s*import\s*['"](\.[^'"]+)['"]/gms),
      ...src.matchAll(/new URL\(\s*['"](\.[^'"]+\.wasm)['"]/g),
    ].map((m) => m[1]);
    for (const spec of specs) walk(relative(root, resolve(root, dirname(file), spec)));
  };
  walk(entry);
  return [...seen].sort();
}

/** The files that carry the wasm and its glue for an entry. */
const isWasmPart = (file) => /wasm\/|inflate\.js$/.test(file);

const esbuild = process.env.ESBUILD ?? join(root, 'node_modules/.bin/esbuild');
function minifiedBundle(entry) {
  if (!existsSync(esbuild)) return null;
  const out = execFileSync(esbuild, [entry, '--bundle', '--minify', '--format=esm', '--platform=neutral',
    '--external:node:*', '--external:*.wasm', '--log-level=error'], { cwd: root, maxBuffer: 1 << 26 });
  return { raw: out.length, gz: gz(out) };
}

for (const entry of entries) {
  console.log(`\n${entry}`);
  let raw = 0;
  let packed = 0;
  let wasmPart = 0;
  let wasmFileGz = 0;
  for (const file of closure(entry)) {
    const bytes = readFileSync(join(root, file));
    const g = gz(bytes);
    raw += bytes.length;
    packed += g;
    if (isWasmPart(file)) wasmPart += g;
    if (file.endsWith('.wasm')) wasmFileGz = g;
    console.log(`  ${file.padEnd(30)} ${String(bytes.length).padStart(7)} B ${String(g).padStart(7)} B gz`);
  }
  console.log(`  ${'all files'.padEnd(30)} ${String(raw).padStart(7)} B ${String(packed).padStart(7)} B gz = ${kib(packed)}`);
  console.log(`  ${'wasm + glue'.padEnd(30)} ${''.padStart(9)} ${String(wasmPart).padStart(7)} B gz = ${kib(wasmPart)}  ${verdict(wasmPart, WHOLE_BUDGET)}`);
  const bundle = minifiedBundle(entry);
  if (bundle) {
    const total = bundle.gz + wasmFileGz;
    console.log(`  ${'JS as one minified bundle'.padEnd(30)} ${String(bundle.raw).padStart(7)} B ${String(bundle.gz).padStart(7)} B gz${wasmFileGz ? `; + .wasm = ${kib(total)}` : ` = ${kib(total)}`}`);
  }
}

if (args.includes('--parts')) {
  const dest = join(root, 'target', 'size-limiter');
  execFileSync('bash', [join(root, 'scripts/build.sh')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    // limitedAsCompleted's class belongs to the limiter part.
    env: { ...process.env, WEIR_WASM_DEST: dest, WEIR_WASM_NO_DEFAULT_FEATURES: '1', WEIR_WASM_FEATURES: 'as-completed' },
  });
  const wasm = gz(readFileSync(join(dest, 'weir_wasm_bg.wasm')));
  const glue = gz(readFileSync(join(dest, 'weir_wasm.js')));
  console.log('\nthe limiter part (bindings built with --no-default-features --features as-completed: no fetch retry brain, no guard, no adaptive cap)');
  console.log(`  ${'weir_wasm_bg.wasm'.padEnd(30)} ${String(wasm).padStart(17)} B gz`);
  console.log(`  ${'weir_wasm.js'.padEnd(30)} ${String(glue).padStart(17)} B gz`);
  console.log(`  ${'wasm + glue'.padEnd(30)} ${String(wasm + glue).padStart(17)} B gz = ${kib(wasm + glue)}  ${verdict(wasm + glue, LIMITER_BUDGET)}`);
}
