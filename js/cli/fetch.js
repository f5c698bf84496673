// `weir fetch [FILE|-]`: URLs in (lazily), NDJSON rows out in completion
// order, progress and a summary on stderr. The pipeline is the public API
// only: `limitedAsCompleted` pulls the input as slots free up, and each URL
// goes through `limiter.fetch` (per-host caps, rates, retries).
import { createWriteStream } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { mkdir, open, stat, writeFile } from 'node:fs/promises';
import { Limiter, limitedAsCompleted } from '../../bindings/js/node.js';
import { AUTO_MAX } from './args.js';
import { createFetcher, warmUp } from './fetcher.js';
import { MAX_LINE, countUrlLines, openInput, urlLines } from './lines.js';
import { savePathFor } from './names.js';
import { Progress, formatSummary } from './progress.js';
import { UsageError } from './values.js';

/**
 * A batching writer that respects backpressure: `write(text)` appends to a
 * buffer and returns nothing, or a promise to await when the stream wants us
 * to wait; the buffer goes out when it reaches 64 KiB or at the next turn of
 * the event loop, whichever comes first. `await flush()`, `await end()`.
 *
 * A failed stream (EPIPE: the reader of a pipe went away, `| head -1`) never
 * throws here: `onError(error)` is called once, later writes are dropped,
 * and `failed` holds the error for the caller to report (or not) at the end.
 */
export function lineWriter(stream, { close = false, limit = 1 << 16, onError = () => {} } = {}) {
  let failed = null;
  let buffer = '';
  let scheduled = null;
  let waiting = null; // the promise of a pending 'drain'
  stream.on('error', (error) => {
    if (failed !== null) return;
    failed = error;
    buffer = '';
    onError(error);
  });
  const drained = () => {
    if (waiting === null) {
      waiting = new Promise((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('error', done);
          stream.off('close', done);
          waiting = null;
          resolve();
        };
        stream.on('drain', done);
        stream.on('error', done);
        stream.on('close', done);
      });
    }
    return waiting;
  };
  const out = () => {
    if (scheduled !== null) {
      clearImmediate(scheduled);
      scheduled = null;
    }
    if (buffer === '' || failed) return true;
    const text = buffer;
    buffer = '';
    return stream.write(text);
  };
  const later = () => {
    scheduled = null;
    out();
  };
  return {
    get failed() {
      return failed;
    },
    write(text) {
      if (failed) return undefined;
      buffer += text;
      if (buffer.length >= limit) {
        if (!out()) return drained();
      } else if (scheduled === null) {
        scheduled = setImmediate(later);
      }
      if (waiting !== null) return waiting;
      return undefined;
    },
    async flush() {
      if (!out()) await drained();
    },
    async end() {
      out();
      if (!close || failed) return;
      await new Promise((resolve) => stream.end(resolve));
    },
  };
}

/** Bodies up to this many bytes (by Content-Length) are read in one piece. */
const SMALL_BODY = 1 << 20;

/** Read a body to the end: its length in bytes, written to `path` when given. */
async function consumeBody(response, path) {
  const length = response.headers.get('content-length');
  if (length !== null && length.length < 8 && Number(length) <= SMALL_BODY) {
    // Small and announced: one read, no stream iteration per chunk.
    const buffer = await response.arrayBuffer();
    if (path) await writeFile(path, new Uint8Array(buffer));
    return buffer.byteLength;
  }
  const body = response.body;
  let bytes = 0;
  const file = path ? await open(path, 'w') : null;
  try {
    if (body) {
      for await (const chunk of body) {
        bytes += chunk.byteLength;
        if (file) await file.write(chunk);
      }
    }
  } finally {
    await file?.close();
  }
  return bytes;
}

// The origin part of absolute http(s) URLs in lower case, without userinfo
// or escapes, ended by `/`, `?`, `#` or the end (the prefix of the URL up to
// where its host and port end).
const ORIGIN = /^https?:\/\/[a-z0-9.-]+(?::[0-9]{1,5})?(?=[/?#]|$)/;
/** The origin prefixes `new URL` has accepted, most recent last (a few). */
const goodOrigins = [];

/**
 * The URL to request for `line`, or a throw (`ERR_INVALID_URL`, or a
 * TypeError for a protocol other than http(s)). A line that begins with an
 * origin prefix an earlier line parsed into an http(s) URL is valid as it
 * stands (after the host and port, parsing a special URL cannot fail), so
 * it goes to `fetch` as written, which parses it the same way: no URL object
 * here. With `needHref` (for `--save` names), the parsed `href`.
 */
export function checkedUrl(line, needHref) {
  if (!needHref) {
    for (let i = goodOrigins.length - 1; i >= 0; i--) {
      const origin = goodOrigins[i];
      if (line.startsWith(origin)) {
        const next = line.charCodeAt(origin.length);
        // NaN (the end), '/', '?', '#'
        if (next !== next || next === 47 || next === 63 || next === 35) return line;
      }
    }
  }
  const url = new URL(line);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`unsupported protocol ${url.protocol}`);
  }
  const m = ORIGIN.exec(line);
  if (m !== null) {
    if (goodOrigins.length === 8) goodOrigins.shift();
    goodOrigins.push(m[0]);
  }
  return url.href;
}

function describe(error) {
  if (!error) return 'unknown error';
  const cause = error.cause?.code ?? error.cause?.message;
  const base = error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message ?? String(error);
  return cause && !base.includes(cause) ? `${base} (${cause})` : base;
}

/**
 * The pipeline shared by `weir fetch` and `weir demo`.
 *
 * @param {object} o
 * @param {AsyncIterable<string>} o.lines  URL lines (pulled lazily)
 * @param {object} o.opts                 parsed `weir fetch` options
 * @param {{ write(text: string): Promise<void> | undefined } | null} o.rows  NDJSON sink (null = discard); a returned promise is awaited
 * @param {Progress} o.progress
 * @param {AbortSignal} o.stop            stop pulling (in-flight requests finish)
 * @param {AbortSignal} o.abort           abort in-flight requests too
 * @returns {Promise<object>} the summary (see Progress#finish)
 */
export async function fetchAll({ lines, opts, rows, progress, stop, abort, limiter, fetcher }) {
  const keyed = opts.perHost !== undefined || opts.perHostRate.length > 0 || opts.redis !== undefined;
  // With per-host limits, look ahead one window so a saturated host does not
  // hold every slot (the limiter queues the look-ahead per host).
  const window = keyed ? opts.concurrency * 2 : opts.concurrency;
  setMaxListeners(0, abort); // one listener per request in flight

  await warmUp();
  const source = lines.stopSignal === stop ? lines : stoppable(lines, stop);
  const save = opts.save;
  // One async function per URL: check, request, read the body, fill the row.
  // The row is made when the URL is done, not kept (and promoted) while it
  // is in flight: its fields wait in the frame's registers.
  const mapper = async (line) => {
    if (typeof line !== 'string') {
      // A line over the length cap (lines.js): a row, never a request.
      return { url: line.prefix, status: null, bytes: 0, ms: 0, attempts: 0, error: `line too long (${line.length} characters; the limit is ${MAX_LINE}, 1 MiB)` };
    }
    const started = performance.now();
    let href;
    try {
      href = checkedUrl(line, save !== undefined && save !== null && save !== '');
    } catch (error) {
      return { url: line, status: null, bytes: 0, ms: 0, attempts: 0, error: error.code === 'ERR_INVALID_URL' ? 'invalid URL' : describe(error) };
    }
    let status = null;
    let bytes = 0;
    let attempts = 0;
    let failure = null;
    const init = fetcher.begin(abort);
    try {
      const response = await limiter.fetch(href, init);
      status = response.status;
      if (save) {
        bytes = await consumeBody(response, savePathFor(save, href));
      } else {
        // Counted here, not in a helper: one async frame per URL.
        const body = response.body;
        if (body !== null) for await (const chunk of body) bytes += chunk.byteLength;
      }
      attempts = response.attempts ?? fetcher.attemptsOf(init);
    } catch (error) {
      status = null;
      bytes = 0;
      failure = describe(error);
      attempts = fetcher.attemptsOf(init); // attempts actually sent (0 when aborted while queued)
    } finally {
      fetcher.end(init);
    }
    const ms = Math.round((performance.now() - started) * 10) / 10;
    return { url: line, status, bytes, ms, attempts, error: failure };
  };

  for await (const record of limitedAsCompleted(source, mapper, { concurrency: window })) {
    // The mapper turns every failure into a row, so records are fulfilled;
    // a rejection would be a bug here, still reported as a row.
    const row = record.status === 'fulfilled'
      ? record.value
      : { url: null, status: null, bytes: 0, ms: 0, attempts: 0, error: describe(record.reason) };
    progress.record(row);
    if (rows) {
      const wait = rows.write(ndjsonRow(row));
      if (wait !== undefined) await wait;
    }
  }
  return progress.finish();
}

/**
 * `JSON.stringify(row) + "\n"` for a row (same keys, same order): only the
 * strings go through JSON.stringify, the numbers are written as they are
 * (always finite here).
 */
export function ndjsonRow(row) {
  const url = row.url === null ? 'null' : JSON.stringify(row.url);
  const error = row.error === null ? 'null' : JSON.stringify(row.error);
  return `{"url":${url},"status":${row.status},"bytes":${row.bytes},"ms":${row.ms},"attempts":${row.attempts},"error":${error}}\n`;
}

const DONE = Object.freeze({ value: undefined, done: true });

/**
 * `lines`, ending early (closing the source) once `stop` is aborted, even
 * while a read is pending (stdin that stays open). A hand-written async
 * iterator: per line one promise around the source's `next()`, whose settle
 * function `stop` can call first. No `Promise.race` against a long-lived
 * promise: that would keep one reaction per line alive.
 */
function stoppable(lines, stop) {
  const it = lines[Symbol.asyncIterator]();
  let settle = null;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    stop.removeEventListener('abort', onStop);
    try {
      it.return?.()?.catch?.(() => {});
    } catch {
      // closing is best effort
    }
  };
  const onStop = () => {
    const s = settle;
    settle = null;
    close();
    s?.(DONE);
  };
  stop.addEventListener('abort', onStop, { once: true });
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (closed || stop.aborted) {
        close();
        return Promise.resolve(DONE);
      }
      return new Promise((resolve, reject) => {
        settle = resolve;
        it.next().then(
          (step) => {
            if (settle !== resolve) return; // stopped meanwhile
            settle = null;
            if (step.done) close();
            resolve(step);
          },
          (error) => {
            if (settle !== resolve) return;
            settle = null;
            close();
            reject(error);
          },
        );
      });
    },
    return() {
      settle = null;
      close();
      return Promise.resolve(DONE);
    },
  };
}

/**
 * Build the limiter and fetcher for parsed `weir fetch` options; with
 * `fleet` (`--redis`, from js/cli/fleet.js) its store enforces the limits.
 */
export function limiterFor(opts, fleet) {
  const limiter = new Limiter({
    concurrency: opts.adaptive ? { adaptive: { max: opts.concurrency } } : opts.concurrency,
    perKey: opts.perHost === 'auto' ? { adaptive: { max: AUTO_MAX } } : opts.perHost,
    rate: opts.rate.length ? opts.rate : undefined,
    perKeyRate: opts.perHostRate.length ? opts.perHostRate : undefined,
    ...(fleet === undefined ? {} : { store: fleet.store, onStoreError: fleet.onStoreError }),
  });
  const fetcher = createFetcher({
    limiter,
    retries: opts.retries,
    timeout: opts.timeout,
    method: opts.method,
    headers: opts.headers,
    // Requests wait inside limiter.fetch only for per-host caps, rates and
    // retry back-offs: the unkeyed window equals the limiter's concurrency.
    // With `--concurrency auto` the window is the cap's maximum: requests
    // wait inside limiter.fetch for the cap in force.
    mayWait: fleet !== undefined || opts.adaptive || opts.perHost !== undefined || opts.rate.length > 0 || opts.perHostRate.length > 0 || opts.retries > 0,
  });
  return { limiter, fetcher };
}

/** The progress sampler: limiter + fetch stats now. */
export function sampler(limiter, fetcher) {
  return () => {
    const l = limiter.stats();
    const f = fetcher.stats();
    // Unheld responses leave the limiter at their headers: count the
    // requests whose body is still being read too.
    const inFlight = fetcher.releasesAtHeaders ? fetcher.active : l.inFlight;
    return { inFlight, queued: l.queued, retries: f.retries, status429: f.status429, hosts: f.hosts, cap: l.adaptive?.limit };
  };
}

/**
 * Install Ctrl-C handling: the first SIGINT aborts `stop` (no new URLs), the
 * second aborts `abort` (in-flight requests too). Returns an uninstaller.
 */
export function onInterrupt(progress, stop, abort) {
  const handler = () => {
    progress.interrupted += 1;
    if (progress.interrupted === 1) {
      progress.note('interrupted: finishing in-flight requests (Ctrl-C again to abort them)');
      stop.abort();
    } else {
      progress.note('aborting in-flight requests');
      abort.abort(new DOMException('interrupted', 'AbortError'));
    }
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

/**
 * The checks of `weir fetch`'s paths that parsing cannot do: `--save` must be
 * a directory (created if missing), FILE a readable file (not a directory),
 * `--output` writable. Returns an error message naming the argument, or null.
 */
async function checkPaths(opts) {
  if (opts.save) {
    const found = await stat(opts.save).catch(() => null);
    if (found !== null && !found.isDirectory()) return `--save: ${opts.save} exists and is not a directory`;
    try {
      await mkdir(opts.save, { recursive: true });
    } catch (error) {
      return `--save: cannot create ${opts.save} (${error.code ?? error.message})`;
    }
  }
  if (opts.input !== '-') {
    const found = await stat(opts.input).catch((error) => error);
    if (found instanceof Error) return `${opts.input}: cannot read (${found.code ?? found.message})`;
    if (found.isDirectory()) return `${opts.input}: is a directory (FILE must be a file of URLs, or - for stdin)`;
  }
  return null;
}

/** `weir fetch` with parsed options; resolves to the exit code. */
export async function runFetch(opts, { stdin = process.stdin, stdout = process.stdout, stderr = process.stderr } = {}) {
  const bad = await checkPaths(opts);
  if (bad !== null) {
    stderr.write(`weir fetch: ${bad}\n`);
    return 2;
  }
  let fleet;
  if (opts.redis !== undefined) {
    try {
      const { openFleetStore } = await import('./fleet.js');
      fleet = await openFleetStore(opts);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      stderr.write(`weir fetch: ${error.message}\n`);
      return 2;
    }
  }
  try {
    return await fetchWith(opts, fleet, { stdin, stdout, stderr });
  } finally {
    await fleet?.close();
  }
}

async function fetchWith(opts, fleet, { stdin, stdout, stderr }) {
  let outFile = null;
  if (opts.output) {
    try {
      outFile = await open(opts.output, 'w');
    } catch (error) {
      stderr.write(`weir fetch: --output: cannot write ${opts.output} (${error.code ?? error.message})\n`);
      return 2;
    }
  }
  const { limiter, fetcher } = limiterFor(opts, fleet);
  const mode = opts.progress === 'auto' ? (stderr.isTTY ? 'bar' : 'lines') : opts.progress;
  const intervalMs = Number(process.env.WEIR_PROGRESS_MS) || undefined;
  const progress = new Progress({ stderr, mode, intervalMs, sample: sampler(limiter, fetcher) });
  const counting = new AbortController();
  countUrlLines(opts.input, counting.signal).then(
    (n) => {
      progress.total = n;
    },
    () => {},
  );
  const stop = new AbortController();
  const abort = new AbortController();
  // The rows' reader went away (EPIPE) or the output failed: stop pulling
  // and drop the requests in flight; reported (or not, for EPIPE) at the end.
  const onError = (error) => {
    stop.abort();
    abort.abort(error);
  };
  const out = outFile
    ? lineWriter(outFile.createWriteStream(), { close: true, onError })
    : lineWriter(stdout, { onError });
  const uninstall = onInterrupt(progress, stop, abort);
  let input;
  try {
    input = openInput(opts.input, stdin);
    await new Promise((resolve, reject) => {
      if (input === stdin) return resolve();
      input.once('open', resolve);
      input.once('error', reject);
    });
  } catch (error) {
    counting.abort();
    uninstall();
    progress.finish();
    stderr.write(`weir fetch: ${opts.input}: cannot read (${error.code ?? error.message})\n`);
    return 2;
  }
  let summary;
  let readError = null;
  try {
    summary = await fetchAll({
      lines: urlLines(input, stop.signal),
      opts,
      rows: out,
      progress,
      stop: stop.signal,
      abort: abort.signal,
      limiter,
      fetcher,
    });
  } catch (error) {
    // The input failed mid-way (a system error reading FILE or stdin).
    if (error?.syscall === undefined) throw error;
    readError = error;
  } finally {
    counting.abort();
    uninstall();
    // A stdin that stays open (stopped by Ctrl-C mid-read) must not keep us alive.
    if (input === stdin) stdin.destroy();
    await out.end();
  }
  if (readError !== null) {
    progress.finish();
    stderr.write(`weir fetch: ${opts.input}: read error (${readError.code ?? readError.message})\n`);
    return 1;
  }
  if (out.failed) {
    progress.finish();
    // A closed pipe ends the run quietly, as other Unix tools do.
    if (out.failed.code === 'EPIPE') return 0;
    stderr.write(`weir fetch: cannot write the rows (${out.failed.code ?? out.failed.message})\n`);
    return 1;
  }
  for (const line of formatSummary(summary)) stderr.write(`weir: ${line}\n`);
  return summary.interrupted ? 130 : 0;
}
