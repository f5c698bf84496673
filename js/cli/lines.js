// Lazy URL input: one URL a line from a file or stdin, read through readline
// over a stream (never the whole input in memory). Blank lines and `#`
// comments are skipped.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** Open `input` (a path or `-` for stdin) as a readable stream. */
export function openInput(input, stdin = process.stdin) {
  return input === '-' ? stdin : createReadStream(input);
}

/**
 * The URL lines of `stream`, trimmed, without blanks and `#` comments.
 * Reading pauses while the consumer does not pull (readline's async iterator
 * pauses the stream past its high-water mark).
 */
export async function* urlLines(stream) {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      yield line;
    }
  } finally {
    rl.close();
    if (stream !== process.stdin) stream.destroy();
  }
}

/**
 * Count the URL lines of a regular file without holding it (a streaming scan
 * in chunks); resolves to `undefined` for stdin or anything not a regular file,
 * or when `signal` aborts first.
 */
export async function countUrlLines(input, signal) {
  if (input === '-') return undefined;
  try {
    if (!(await stat(input)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  let count = 0;
  let atStart = true; // at the start of a line, before any non-blank byte
  let content = false; // the current line has a non-blank first character that is not '#'
  const stream = createReadStream(input, { highWaterMark: 1 << 20 });
  const stop = () => stream.destroy();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    for await (const chunk of stream) {
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === 0x0a) {
          if (content) count += 1;
          atStart = true;
          content = false;
        } else if (atStart && b !== 0x20 && b !== 0x09 && b !== 0x0d) {
          atStart = false;
          content = b !== 0x23;
        }
      }
    }
  } catch {
    return undefined;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  if (signal?.aborted) return undefined;
  if (content) count += 1;
  return count;
}
