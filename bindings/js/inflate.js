// Raw DEFLATE (RFC 1951) decoding, synchronous, for the wasm that the
// universal entry (index.js) carries inline. Kept small: it ships inside
// that entry (minified by scripts/inline-wasm.mjs).
//
// Guarantees:
// - Decodes every stream RFC 1951 allows (stored, fixed and dynamic Huffman
//   blocks) into exactly `size` bytes, the size the encoder recorded.
// - Malformed input throws an Error naming the problem; it never reads past
//   the input, never writes past `size`, and every loop is bounded by the
//   input or the output, so it cannot hang.
// - No host API but `atob`: runs wherever the entry runs (browsers, workers,
//   Deno, Node, bundlers' output of any format).

function fail(problem) {
  throw new Error(`inflate: ${problem}`);
}

/**
 * Base values and extra-bit counts of the length (29) or distance (30)
 * codes: a code's extra bits grow by one every `step` codes after the first
 * `2 * step`; each base follows the previous code's range.
 */
function codeTable(n, step, first) {
  const base = new Uint16Array(n);
  const extra = new Uint8Array(n);
  for (let i = 0, value = first; i < n; i += 1) {
    extra[i] = i < 2 * step ? 0 : i / step - 1;
    base[i] = value;
    value += 1 << extra[i];
  }
  return { base, extra };
}
const LENGTHS = codeTable(29, 4, 3);
// Length code 284 ends at 257; code 285 is exactly 258, with no extra bits.
LENGTHS.base[28] = 258;
LENGTHS.extra[28] = 0;
const DISTANCES = codeTable(30, 2, 1);
/** The order in which a dynamic block lists the code-length code's lengths. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * A canonical Huffman code from `n` code lengths at `lengths[from]`, as a
 * lookup table indexed by the next `bits` input bits (least significant
 * first): each entry is `symbol << 4 | length`, 0 where no code starts.
 */
function huffman(lengths, from, n) {
  const counts = new Uint16Array(16);
  let bits = 0;
  for (let i = 0; i < n; i += 1) {
    counts[lengths[from + i]] += 1;
    bits = Math.max(bits, lengths[from + i]);
  }
  counts[0] = 0;
  const next = new Uint16Array(16);
  for (let len = 1; len < 16; len += 1) next[len] = (next[len - 1] + counts[len - 1]) << 1;
  const table = new Uint32Array(1 << bits);
  for (let symbol = 0; symbol < n; symbol += 1) {
    const len = lengths[from + symbol];
    if (len === 0) continue;
    const code = next[len]++;
    if (code >= 1 << len) fail('over-subscribed code');
    let reversed = 0;
    for (let i = 0; i < len; i += 1) reversed |= ((code >> i) & 1) << (len - 1 - i);
    for (let i = reversed; i < table.length; i += 1 << len) table[i] = (symbol << 4) | len;
  }
  return { table, bits };
}

/**
 * Decode raw DEFLATE `input` into `size` bytes.
 * @param {Uint8Array} input
 * @param {number} size
 * @returns {Uint8Array}
 */
export function inflateRaw(input, size) {
  const out = new Uint8Array(size);
  const lengths = new Uint8Array(320);
  let at = 0; // next output byte
  let pos = 0; // next input byte
  let buffer = 0; // bits read but not used, least significant first
  let count = 0; // how many

  const bits = (n) => {
    while (count < n) {
      if (pos === input.length) fail('truncated');
      buffer |= input[pos++] << count;
      count += 8;
    }
    const value = buffer & ((1 << n) - 1);
    buffer >>>= n;
    count -= n;
    return value;
  };
  const decode = ({ table, bits: width }) => {
    while (count < width && pos < input.length) {
      buffer |= input[pos++] << count;
      count += 8;
    }
    const entry = table[buffer & ((1 << width) - 1)];
    const len = entry & 15;
    if (len === 0 || len > count) fail('bad code');
    buffer >>>= len;
    count -= len;
    return entry >> 4;
  };
  const put = (byte) => {
    if (at === size) fail('too long');
    out[at++] = byte;
  };

  for (let last = 0; !last;) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      // A stored block: from the next byte boundary, LEN, NLEN, LEN bytes.
      buffer >>>= count & 7;
      count &= ~7;
      const len = bits(16);
      if (len !== (bits(16) ^ 0xffff)) fail('bad stored length');
      for (let i = 0; i < len; i += 1) put(bits(8));
      continue;
    }
    if (type === 3) fail('bad block type');
    let literals = lengths.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288).fill(5, 288);
    let nLiterals = 288;
    let nDistances = 30;
    if (type === 2) {
      nLiterals = bits(5) + 257;
      nDistances = bits(5) + 1;
      const nCodeLengths = bits(4) + 4;
      lengths.fill(0, 0, 19);
      for (let i = 0; i < nCodeLengths; i += 1) lengths[CODE_LENGTH_ORDER[i]] = bits(3);
      const codeLengths = huffman(lengths, 0, 19);
      const total = nLiterals + nDistances;
      for (let i = 0; i < total;) {
        const symbol = decode(codeLengths);
        if (symbol < 16) {
          lengths[i++] = symbol;
          continue;
        }
        if (symbol === 16 && i === 0) fail('bad repeat');
        const value = symbol === 16 ? lengths[i - 1] : 0;
        const repeat = symbol === 16 ? 3 + bits(2) : symbol === 17 ? 3 + bits(3) : 11 + bits(7);
        if (i + repeat > total) fail('bad repeat');
        lengths.fill(value, i, i + repeat);
        i += repeat;
      }
      literals = lengths;
    }
    const literal = huffman(literals, 0, nLiterals);
    const distance = huffman(lengths, nLiterals, nDistances);
    for (;;) {
      const symbol = decode(literal);
      if (symbol < 256) {
        put(symbol);
        continue;
      }
      if (symbol === 256) break;
      const code = symbol - 257;
      if (code >= 29) fail('bad code');
      const len = LENGTHS.base[code] + bits(LENGTHS.extra[code]);
      const d = decode(distance);
      if (d >= 30) fail('bad code');
      const back = DISTANCES.base[d] + bits(DISTANCES.extra[d]);
      if (back > at) fail('bad distance');
      for (let i = 0; i < len; i += 1) put(out[at - back]);
    }
  }
  if (at !== size) fail('too short');
  return out;
}

/** The bytes of a base64 string (the standard alphabet, padded). */
export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
