// Lazy URL input: one URL a line from a file or stdin, split from the stream
// chunk by chunk (never the whole input in memory). Blank lines and `#`
// comments are skipped.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

/** Open `input` (a path or `-` for stdin) as a readable stream. */
export function openInput(input, stdin = process.stdin) {
  return input === '-' ? stdin : createReadStream(input);
}

const DONE = Object.freeze({ value: undefined, done: true });

/** The longest URL line kept: 1 MiB (in UTF-16 code units; bytes for ASCII). */
export const MAX_LINE = 1 << 20;

/** How many characters of a too-long line its row shows. */
const PREFIX_CHARS = 200;

/**
 * The item `urlLines` yields for a line over the cap (instead of a string):
 * its first characters and its length; `weir fetch` turns it into a row
 * with an error.
 */
function tooLong(head, length) {
  return { tooLong: true, prefix: `${head.trimStart()}…`, length };
}

/**
 * The URL lines of `stream`, trimmed, without blanks and `#` comments, as an
 * async iterator. Reading pauses while the consumer does not pull: one chunk
 * (64 KiB for a file) is read at a time, and its lines are cut from it one
 * by one as they are pulled (an already-settled promise per line, no
 * readline event or async-generator step per line, no array of lines). Line ends as readline's:
 * `\n`, `\r\n` or a lone `\r`. `return()` closes the stream (not stdin).
 *
 * Linear time whatever the line lengths: the pieces of an unfinished line
 * are joined once, when its end arrives. A line longer than `maxLine`
 * (default MAX_LINE, 1 MiB) is not kept: it is read to its end, counted and
 * yielded as one `{ tooLong: true, prefix, length }` item.
 *
 * With `stop` (an AbortSignal), it ends once `stop` aborts, even while a
 * read is pending (stdin that stays open): the pending `next()` answers
 * done and the stream is closed as by `return()`. `stopSignal` is `stop`,
 * so a consumer can tell it needs no wrapper for that.
 */
export function urlLines(stream, stop, maxLine = MAX_LINE) {
  const keepOpen = stream === process.stdin;
  const chunks = typeof stream.iterator === 'function'
    ? stream.iterator({ destroyOnReturn: !keepOpen })
    : stream[Symbol.asyncIterator]();
  const decoder = new TextDecoder();
  // The current text; its complete lines end at `limit`, the next one
  // starts at `at`. Lines are cut one at a time as they are pulled (not
  // split all at once: an array of a chunk's ~2,000 lines, kept while the
  // chunk lasts, is more than the lines in flight need).
  let text = '';
  let limit = 0;
  let at = 0;
  let lf = -2; // index of the next '\n' at or after `at` (-1: none left, -2: not looked for)
  let cr = -2; // the same for '\r'
  // The unfinished line: the pieces of it read so far (joined once, when its
  // line end arrives: linear time however many chunks it spans).
  let pieces = [];
  let pendingLength = 0; // their total length
  // Inside a line over `maxLine`: its prefix and length so far (the rest of
  // it is counted and dropped as it is read).
  let skipping = null;
  let marker = null; // a too-long line's row item, ready to be taken
  let ended = false;
  let closed = false;
  let pending = null; // the settle function of a next() waiting for a chunk

  function take() {
    if (marker !== null) {
      const m = marker;
      marker = null;
      return { value: m, done: false };
    }
    while (at < limit) {
      if (lf !== -1 && lf < at) lf = text.indexOf('\n', at);
      if (cr !== -1 && cr < at) cr = text.indexOf('\r', at);
      let end = limit; // (a last line with no line end: only at the end of the input)
      if (lf !== -1 && lf < end) end = lf;
      if (cr !== -1 && cr < end) end = cr;
      const from = at;
      at = end === cr && text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      if (end - from > maxLine) return { value: tooLong(text.slice(from, from + PREFIX_CHARS), end - from), done: false };
      const line = text.slice(from, end).trim();
      if (line === '' || line.charCodeAt(0) === 0x23) continue;
      return { value: line, done: false };
    }
    text = '';
    limit = 0;
    at = 0;
    return null;
  }

  /** Take a chunk (or the end): its complete lines are cut by `take`. */
  function feed(step) {
    let chunk;
    if (step.done) {
      ended = true;
      chunk = decoder.decode();
    } else {
      chunk = typeof step.value === 'string' ? step.value : decoder.decode(step.value, { stream: true });
    }
    at = 0;
    lf = -2;
    cr = -2;
    if (skipping !== null) {
      // Drop the rest of a too-long line up to its line end.
      let end = chunk.indexOf('\n');
      const r = chunk.indexOf('\r');
      if (r !== -1 && (end === -1 || r < end)) end = r;
      if (end === -1 && !ended) {
        skipping.length += chunk.length;
        text = '';
        limit = 0;
        return;
      }
      if (end === -1) end = chunk.length;
      marker = tooLong(skipping.prefix, skipping.length + end);
      skipping = null;
      chunk = chunk.slice(end);
    }
    const last = Math.max(chunk.lastIndexOf('\n'), chunk.lastIndexOf('\r'));
    if (last === -1 && !ended) {
      // No line end: keep the piece (or start skipping a line over the cap).
      pieces.push(chunk);
      pendingLength += chunk.length;
      if (pendingLength > maxLine) {
        const head = pieces.length === 1 ? pieces[0] : pieces.join('');
        skipping = { prefix: head.slice(0, PREFIX_CHARS), length: pendingLength };
        pieces = [];
        pendingLength = 0;
      }
      text = '';
      limit = 0;
      return;
    }
    text = pieces.length === 0 ? chunk : pieces.join('') + chunk;
    const cut = text.length - chunk.length + last + 1; // just after the last line end
    pieces = [];
    pendingLength = 0;
    if (ended) {
      limit = text.length;
    } else {
      limit = cut;
      if (cut < text.length) {
        pieces.push(text.slice(cut));
        pendingLength = text.length - cut;
      }
    }
  }

  /** Read chunks until there is a line or the end. */
  function read() {
    return chunks.next().then((step) => {
      if (closed) return DONE;
      feed(step);
      const line = take();
      if (line !== null) return line;
      if (ended) return DONE;
      return read();
    });
  }

  /** Close (best effort, not awaited); answers a pending next() with done. */
  function onStop() {
    const settle = pending;
    pending = null;
    close().catch(() => {});
    settle?.(DONE);
  }

  async function close() {
    if (closed) return;
    closed = true;
    text = '';
    limit = 0;
    at = 0;
    stop?.removeEventListener('abort', onStop);
    await chunks.return?.();
    if (!keepOpen) stream.destroy();
  }

  if (stop) {
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
  }

  return {
    stopSignal: stop,
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (closed) return Promise.resolve(DONE);
      const line = take();
      if (line !== null) return Promise.resolve(line);
      if (ended) {
        close().catch(() => {});
        return Promise.resolve(DONE);
      }
      if (!stop) return read();
      return new Promise((resolve, reject) => {
        pending = resolve;
        read().then(
          (step) => {
            if (pending !== resolve) return; // stopped meanwhile
            pending = null;
            if (step.done) close().catch(() => {});
            resolve(step);
          },
          (error) => {
            if (pending !== resolve) return;
            pending = null;
            close().catch(() => {});
            reject(error);
          },
        );
      });
    },
    async return() {
      pending = null;
      await close();
      return DONE;
    },
  };
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
