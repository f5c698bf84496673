#!/usr/bin/env node
// What a browser or bundler downloads: the wasm, the wasm-bindgen glue, the
// API glue and one loader, each gzipped at level 9 (as `gzip -9`), and the sum.
//
//   npm run build && node bench/js/tasks-size.mjs
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const root = new URL('../../', import.meta.url);
const files = ['js/wasm/weir_wasm_bg.wasm', 'js/wasm/weir_wasm.js', 'js/api.js', 'js/browser.js'];
let raw = 0;
let gz = 0;
for (const file of files) {
  const bytes = readFileSync(new URL(file, root));
  const packed = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gz += packed;
  console.log(`${file.padEnd(28)} ${String(bytes.length).padStart(7)} B  ${String(packed).padStart(6)} B gzipped`);
}
console.log(`${'total'.padEnd(28)} ${String(raw).padStart(7)} B  ${String(gz).padStart(6)} B gzipped (${(gz / 1024).toFixed(1)} KiB; budget 30 KiB)`);
