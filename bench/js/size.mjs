#!/usr/bin/env node
// Package size (issue #3: wasm + JS glue <= 30 KiB gzipped). For each entry
// a user can load, follows the static relative imports from the loader and
// lists every file it pulls in, raw and `gzip -9`, then the sum against the
// budget. The wasm counts once per entry.
//
//   npm run build && npm run bench:size
//   node bench/js/size.mjs --entry js/node.js      # one entry only
//
// Entries: the browser and Node loaders of the `weir` entry (a loader +
// api.js, which imports fetch.js and guard.js for limitedFetch and guard). If
// esbuild is installed (a devDependency that scripts/build.sh also uses; or
// ESBUILD=/path/to/esbuild), it also prints one minified bundle of the entry
// and of an entry that re-exports only Limiter and limitedAsCompleted: what a
// bundler would ship. Figures are zlib level 9 (within ~0.3% of `gzip -9`).
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUDGET = 30 * 1024;
const args = process.argv.slice(2);
const only = args.includes('--entry') ? args[args.indexOf('--entry') + 1] : null;
const entries = only ? [only] : ['js/index.js', 'js/node.js'];

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** Files reached from `entry` through static relative imports (incl. the wasm a loader reads). */
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
  return [...seen].sort((a, b) => (a.endsWith('.wasm') ? -1 : b.endsWith('.wasm') ? 1 : a.localeCompare(b)));
}

const esbuild = process.env.ESBUILD ?? join(root, 'node_modules/.bin/esbuild');
function minifiedBundle(entry, names) {
  if (!existsSync(esbuild)) return null;
  const input = names ? `export { ${names} } from './${entry}';` : `export * from './${entry}';`;
  const out = execFileSync(esbuild, ['--bundle', '--minify', '--format=esm', '--platform=neutral',
    '--external:node:*', '--external:*.wasm', '--log-level=error'],
  { input, cwd: root, maxBuffer: 1 << 26 });
  return { raw: out.length, gz: gz(out) };
}

for (const entry of entries) {
  console.log(`\n${entry}`);
  let raw = 0;
  let packed = 0;
  let wasmGz = 0;
  for (const file of closure(entry)) {
    const bytes = readFileSync(join(root, file));
    const g = gz(bytes);
    raw += bytes.length;
    packed += g;
    if (file.endsWith('.wasm')) wasmGz = g;
    console.log(`  ${file.padEnd(28)} ${String(bytes.length).padStart(7)} B ${String(g).padStart(7)} B gz`);
  }
  const verdict = packed <= BUDGET ? 'PASS' : 'MISS';
  console.log(`  ${'total'.padEnd(28)} ${String(raw).padStart(7)} B ${String(packed).padStart(7)} B gz = ${kib(packed)}  ${verdict} (budget ${kib(BUDGET)})`);
  for (const [label, names] of [['JS as one minified bundle', null], ['same, Limiter+lAC only', 'Limiter, limitedAsCompleted']]) {
    const bundle = minifiedBundle(entry, names);
    if (!bundle) break;
    const total = bundle.gz + wasmGz;
    console.log(`  ${label.padEnd(28)} ${String(bundle.raw).padStart(7)} B ${String(bundle.gz).padStart(7)} B gz; + wasm = ${kib(total)}  ${total <= BUDGET ? 'PASS' : 'MISS'}`);
  }
}
