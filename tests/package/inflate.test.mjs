// The inflater behind the universal entry (bindings/js/inflate.js) against zlib's
// raw DEFLATE at every level and strategy (stored, fixed and dynamic
// Huffman blocks), on the built wasm and on made-up data; malformed input
// throws instead of hanging or writing past the stated size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { constants, deflateRawSync } from 'node:zlib';
import { inflateRaw, fromBase64 } from '../../bindings/js/inflate.js';
import { size, deflated } from '../../bindings/js/wasm/weir_wasm_inline.js';

function random(n, seed) {
  const bytes = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i += 1) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

const wasm = readFileSync(new URL('../../bindings/js/wasm/weir_wasm_bg.wasm', import.meta.url));
const inputs = {
  wasm,
  empty: Buffer.alloc(0),
  'one byte': Buffer.from('a'),
  'long runs': Buffer.alloc(100_000, 7),
  'short period': Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) & 255)),
  incompressible: random(200_000, 1),
  text: Buffer.from('the limiter admits at most N in flight; '.repeat(3000)),
};

test('inflateRaw decodes zlib output at every level and strategy', () => {
  const strategies = [constants.Z_DEFAULT_STRATEGY, constants.Z_FIXED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE];
  for (const [name, input] of Object.entries(inputs)) {
    for (const level of [0, 1, 6, 9]) {
      for (const strategy of strategies) {
        const out = inflateRaw(deflateRawSync(input, { level, strategy }), input.length);
        assert.ok(Buffer.from(out).equals(input), `${name}, level ${level}, strategy ${strategy}`);
      }
    }
  }
});

test('the inline wasm module inflates to the built wasm', () => {
  assert.equal(size, wasm.length);
  assert.ok(Buffer.from(inflateRaw(fromBase64(deflated), size)).equals(wasm));
});

test('malformed input throws a named error, never hangs or overruns', () => {
  const good = deflateRawSync(inputs.text, { level: 9 });
  assert.throws(() => inflateRaw(good.subarray(0, good.length >> 1), inputs.text.length), /inflate: truncated/);
  assert.throws(() => inflateRaw(good, inputs.text.length - 1), /inflate: too long/);
  assert.throws(() => inflateRaw(good, inputs.text.length + 1), /inflate: too short/);
  assert.throws(() => inflateRaw(Uint8Array.of(0b111), 10), /inflate: bad block type/);
  // A stored block whose length check does not match.
  assert.throws(() => inflateRaw(Uint8Array.of(1, 5, 0, 0, 0, 1, 2, 3, 4, 5), 5), /inflate: bad stored length/);
  // A fixed block whose first code is a distance before any output.
  const back = deflateRawSync(Buffer.alloc(300, 1), { level: 9, strategy: constants.Z_FIXED });
  assert.throws(() => inflateRaw(back.subarray(1), 300), /inflate: /);
  // Random garbage: an error, whatever it is, and promptly.
  for (let seed = 1; seed <= 200; seed += 1) {
    const garbage = random(64, seed);
    try {
      inflateRaw(garbage, 1000);
    } catch (error) {
      assert.match(error.message, /^inflate: /);
    }
  }
});
