#!/usr/bin/env node
// What each feature costs in the built wasm: deletes a feature's exports
// from js/wasm/weir_wasm_bg.wasm, lets `wasm-opt -Oz` (npm `binaryen`) drop
// the code only they reached, and prints the gzip size (zlib level 9, as
// bench/js/size.mjs counts) with and without it.
//
//   npm run build && node bench/js/wasm-parts.mjs
//   node bench/js/wasm-parts.mjs --wasm other.wasm
//
// Parts are cumulative, in the order listed: each row drops its exports on
// top of the rows above it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const input = args.includes('--wasm')
  ? resolve(args[args.indexOf('--wasm') + 1])
  : join(root, 'js/wasm/weir_wasm_bg.wasm');
const wasmOpt = join(root, 'node_modules/.bin/wasm-opt');

/** Rows: a name and the export names it drops (on top of the rows before). */
const PARTS = [
  ['the retry brain of limiter.fetch (RawRetry, RawRetryPolicy)', /^(rawretry|__wbg_rawretry)/],
  ["the guard's methods (RawLimiter admit/status/evictIdle)", /^rawlimiter_(admit|status|evictIdle)$/],
];

/** Reads an unsigned LEB128 at `at.p`, advancing it. */
function uleb(bytes, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at.p++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
}

function leb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
}

/** The module with every export whose name matches one of `drops` removed. */
function withoutExports(bytes, drops) {
  const parts = [bytes.subarray(0, 8)];
  const at = { p: 8 };
  while (at.p < bytes.length) {
    const start = at.p;
    const id = bytes[at.p++];
    const size = uleb(bytes, at);
    const end = at.p + size;
    if (id !== 7) {
      parts.push(bytes.subarray(start, end));
    } else {
      const count = uleb(bytes, at);
      const kept = [];
      for (let i = 0; i < count; i++) {
        const from = at.p;
        const length = uleb(bytes, at);
        const name = bytes.subarray(at.p, at.p + length).toString();
        at.p += length + 1; // name, kind
        uleb(bytes, at); // index
        if (!drops.some((re) => re.test(name))) kept.push(bytes.subarray(from, at.p));
      }
      const body = Buffer.concat([leb(kept.length), ...kept]);
      parts.push(Buffer.from([7]), leb(body.length), body);
    }
    at.p = end;
  }
  return Buffer.concat(parts);
}

const dir = mkdtempSync(join(tmpdir(), 'weir-wasm-parts-'));
function optimizedGz(bytes) {
  const from = join(dir, 'in.wasm');
  const to = join(dir, 'out.wasm');
  writeFileSync(from, bytes);
  // The features scripts/build.sh enables; -Oz drops what nothing reaches.
  execFileSync(wasmOpt, [
    '-Oz', '--converge', '-ocimfs', '100', '--zero-filled-memory', '--strip-debug', '--strip-producers',
    '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
    '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
    from, '-o', to,
  ]);
  return gzipSync(readFileSync(to), { level: 9 }).length;
}

try {
  const bytes = readFileSync(input);
  const whole = optimizedGz(bytes);
  console.log(`${input}: ${whole} B gz after another wasm-opt -Oz pass (as built: ${gzipSync(bytes, { level: 9 }).length})`);
  const drops = [];
  let before = whole;
  for (const [name, re] of PARTS) {
    drops.push(re);
    const without = optimizedGz(withoutExports(bytes, drops));
    console.log(`  without ${name}: ${without} B gz (the part: ${before - without} B)`);
    before = without;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
