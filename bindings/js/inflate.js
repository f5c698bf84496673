// Raw DEFLATE (RFC 1951) decoding, synchronous, for the wasm that the
// universal entry (index.js) carries inline.
//
// Guarantees:
// - Decodes every stream RFC 1951 allows (stored, fixed and dynamic Huffman
//   blocks) into exactly `size` bytes, the size the encoder recorded.
// - Malformed input throws an Error naming the problem; it never reads past
//   the input, never writes past `size`, and every loop is bounded by the
//   input or the output, so it cannot hang.
// - No host API: runs wherever the entry runs (browsers, workers, Deno,
//   bundlers' output of any format).

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DISTANCE_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** The order in which a dynamic block lists the code-length code's lengths. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const MAX_BITS = 15;

function fail(problem) {
  throw new Error(`inflate: ${problem}`);
}

/**
 * A canonical Huffman code from its code lengths, as a lookup table indexed
 * by the next `bits` input bits (least significant first): each entry is
 * `symbol << 4 | length`, 0 for a bit pattern no code starts with.
 */
function huffman(lengths, from, n) {
  const counts = new Uint16Array(MAX_BITS + 1);
  let bits = 0;
  for (let i = 0; i < n; i += 1) {
    const len = lengths[from + i];
    counts[len] += 1;
    if (len > bits) bits = len;
  }
  counts[0] = 0;
  const next = new Uint16Array(MAX_BITS + 1);
  for (let len = 1, code = 0; len <= MAX_BITS; len += 1) {
    code = (code + counts[len - 1]) << 1;
    next[len] = code;
  }
  const table = new Uint32Array(1 << bits);
  for (let symbol = 0; symbol < n; symbol += 1) {
    const len = lengths[from + symbol];
    if (len === 0) continue;
    const code = next[len]++;
    if (code >= 1 << len) fail('over-subscribed code lengths');
    let reversed = 0;
    for (let i = 0; i < len; i += 1) reversed |= ((code >> i) & 1) << (len - 1 - i);
    for (let i = reversed; i < table.length; i += 1 << len) table[i] = (symbol << 4) | len;
  }
  return { table, bits };
}

const FIXED = (() => {
  const lengths = new Uint8Array(288 + 30);
  lengths.fill(8, 0, 144);
  lengths.fill(9, 144, 256);
  lengths.fill(7, 256, 280);
  lengths.fill(8, 280, 288);
  lengths.fill(5, 288);
  return { literals: huffman(lengths, 0, 288), distances: huffman(lengths, 288, 30) };
})();

/**
 * Decode raw DEFLATE `input` into `size` bytes.
 * @param {Uint8Array} input
 * @param {number} size
 * @returns {Uint8Array}
 */
export function inflateRaw(input, size) {
  const out = new Uint8Array(size);
  let at = 0; // next output byte
  let pos = 0; // next input byte
  let buffer = 0; // bits read but not used, least significant first
  let count = 0; // how many

  const bits = (n) => {
    while (count < n) {
      if (pos === input.length) fail('input ends inside a block');
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
    if (len === 0) fail('invalid Huffman code');
    if (len > count) fail('input ends inside a block');
    buffer >>>= len;
    count -= len;
    return entry >> 4;
  };

  const lengths = new Uint8Array(288 + 32);
  const dynamic = () => {
    const nLiterals = bits(5) + 257;
    const nDistances = bits(5) + 1;
    const nCodeLengths = bits(4) + 4;
    if (nLiterals > 286 || nDistances > 30) fail('too many codes in a dynamic block');
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
      let value = 0;
      let repeat;
      if (symbol === 16) {
        if (i === 0) fail('a repeat with no previous length');
        value = lengths[i - 1];
        repeat = 3 + bits(2);
      } else if (symbol === 17) {
        repeat = 3 + bits(3);
      } else {
        repeat = 11 + bits(7);
      }
      if (i + repeat > total) fail('code lengths overrun the block');
      lengths.fill(value, i, i + repeat);
      i += repeat;
    }
    if (lengths[256] === 0) fail('a dynamic block without an end code');
    return { literals: huffman(lengths, 0, nLiterals), distances: huffman(lengths, nLiterals, nDistances) };
  };

  let last = 0;
  while (last === 0) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      buffer = 0; // a stored block starts at a byte boundary
      count = 0;
      if (pos + 4 > input.length) fail('input ends inside a stored block header');
      const len = input[pos] | (input[pos + 1] << 8);
      const check = input[pos + 2] | (input[pos + 3] << 8);
      pos += 4;
      if ((len ^ 0xffff) !== check) fail('stored block length check failed');
      if (pos + len > input.length) fail('input ends inside a stored block');
      if (at + len > size) fail(`output longer than ${size} bytes`);
      out.set(input.subarray(pos, pos + len), at);
      pos += len;
      at += len;
      continue;
    }
    if (type === 3) fail('reserved block type');
    const { literals, distances } = type === 1 ? FIXED : dynamic();
    for (;;) {
      const symbol = decode(literals);
      if (symbol < 256) {
        if (at === size) fail(`output longer than ${size} bytes`);
        out[at++] = symbol;
        continue;
      }
      if (symbol === 256) break;
      const lengthCode = symbol - 257;
      if (lengthCode >= 29) fail('invalid length code');
      const len = LENGTH_BASE[lengthCode] + bits(LENGTH_EXTRA[lengthCode]);
      const distanceCode = decode(distances);
      if (distanceCode >= 30) fail('invalid distance code');
      const distance = DISTANCE_BASE[distanceCode] + bits(DISTANCE_EXTRA[distanceCode]);
      if (distance > at) fail('distance reaches before the start of the output');
      if (at + len > size) fail(`output longer than ${size} bytes`);
      for (let i = 0; i < len; i += 1, at += 1) out[at] = out[at - distance];
    }
  }
  if (at !== size) fail(`output is ${at} bytes, expected ${size}`);
  return out;
}

/** The bytes of a base64 string (the standard alphabet, padded). */
export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
