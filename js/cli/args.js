// Command-line parsing for `weir`: argv → validated options, split by
// `node:util`'s parseArgs. Every bad argument throws a UsageError naming it;
// js/cli/main.js turns that into exit 2. The forms and bounds are those of the
// native `weir` (cli/src/values.rs): one command line means the same to both.
import { parseArgs } from 'node:util';

import { MAX_MS, parseRate, UNIT_MS, UsageError } from './values.js';
import { parseRedisPolicy, parseRedisUrl } from './fleet.js';

export { MAX_MS, parseRate, UsageError };

/** `20s`, `500ms`, `2m`, `1h`, bare seconds `20` → milliseconds. */
export function parseDuration(text, name) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr)?\s*$/.exec(String(text));
  if (!m) throw new UsageError(`${name}: expected a duration like 20s, 500ms or 2m, got '${text}'`);
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 's'];
  if (!(ms > 0) || ms > MAX_MS) {
    throw new UsageError(`${name}: the duration must be positive and at most 365 days, got '${text}'`);
  }
  return ms;
}

/**
 * `--timeout`: a duration (default 30 s), or `none` for no per-attempt
 * timeout (Infinity). Without a timeout no AbortSignal reaches `fetch`, which
 * saves undici ~50 µs of CPU per request (see js/cli/fetcher.js).
 */
function parseTimeout(text) {
  if (text === undefined) return 30_000;
  if (String(text).trim() === 'none') return Infinity;
  return parseDuration(text, '--timeout');
}

/** `0-300ms`, `50ms`, `0-3s` → `[min, max]` in milliseconds. */
export function parseDelayRange(text, name) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*(ms|s)?\s*$/.exec(String(text));
  if (!m) throw new UsageError(`${name}: expected a delay range like 0-300ms or 2s, got '${text}'`);
  const unit = UNIT_MS[m[3] ?? 'ms'];
  const lo = Number(m[1]) * unit;
  const hi = (m[2] === undefined ? Number(m[1]) : Number(m[2])) * unit;
  if (hi < lo) throw new UsageError(`${name}: the range must be low-high, got '${text}'`);
  if (hi > MAX_MS) throw new UsageError(`${name}: the delay must be at most 365 days, got '${text}'`);
  return [lo, hi];
}

/** A whole number within [min, max]. */
export function parseWhole(text, name, min = 1, max = 0xffffffff) {
  const t = String(text).replace(/_/g, '');
  if (!/^\s*\d+\s*$/.test(t)) throw new UsageError(`${name}: expected a whole number, got '${text}'`);
  const n = Number(t);
  if (n < min || n > max) throw new UsageError(`${name}: must be from ${min} to ${max}, got '${text}'`);
  return n;
}

/** A number within [min, max]. */
export function parseNumber(text, name, min, max) {
  const n = Number(text);
  if (String(text).trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${name}: expected a number from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

/** `K: V` → `[K, V]`. */
export function parseHeader(text, name) {
  const i = String(text).indexOf(':');
  const key = i < 0 ? '' : text.slice(0, i).trim();
  if (i < 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
    throw new UsageError(`${name}: expected 'Name: value', got '${text}'`);
  }
  return [key, text.slice(i + 1).trim()];
}

/**
 * Split argv by a spec `{ '--name': { value: bool, repeat: bool } }` with
 * `node:util`'s parseArgs (strict: unknown options, missing values and
 * values that look like options are errors). Accepts `--name value` and
 * `--name=value`; `-` alone and words are positionals; `--` ends options.
 * A non-repeatable option given twice is an error (parseArgs would keep the
 * last). Returns `{ values: { '--name': string | string[] | true }, positionals }`.
 */
export function splitArgs(argv, spec, command) {
  const options = {};
  for (const [flag, opt] of Object.entries(spec)) {
    // Every value option collects all its occurrences; counted below.
    options[flag.slice(2)] = opt.value ? { type: 'string', multiple: true } : { type: 'boolean', multiple: true };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(argError(error, command));
  }
  const values = {};
  for (const [key, list] of Object.entries(parsed.values)) {
    const flag = `--${key}`;
    if (!spec[flag].repeat && list.length > 1) throw new UsageError(`${flag}: given more than once`);
    values[flag] = spec[flag].repeat ? list : list[0];
  }
  return { values, positionals: parsed.positionals };
}

/** parseArgs' error as a message that starts with the argument at fault. */
function argError(error, command) {
  const flag = /'(-{1,2}[^' ]+)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `${flag ?? error.message}: unknown option for 'weir ${command}' (see 'weir ${command} --help')`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(error.message)) return `${flag}: missing value`;
      if (/ambiguous/.test(error.message)) return `${flag}: missing value (to give a value starting with '-', write ${flag}=VALUE)`;
      return `${flag ?? command}: ${error.message}`;
    default:
      return error.message;
  }
}

const FETCH_SPEC = {
  '--concurrency': { value: true },
  '--per-host': { value: true },
  '--rate': { value: true, repeat: true },
  '--per-host-rate': { value: true, repeat: true },
  '--retries': { value: true },
  '--timeout': { value: true },
  '--method': { value: true },
  '--header': { value: true, repeat: true },
  '--save': { value: true },
  '--output': { value: true },
  '--progress': { value: true },
  '--redis': { value: true },
  '--redis-prefix': { value: true },
  '--redis-policy': { value: true },
  '--help': { value: false },
};

/** Options of `weir fetch`. */
export function parseFetchArgs(argv) {
  const { values: v, positionals } = splitArgs(argv, FETCH_SPEC, 'fetch');
  if (v['--help']) return { help: true };
  if (positionals.length > 1) throw new UsageError(`${positionals[1]}: unexpected argument (one FILE or - only)`);
  const method = v['--method'] === undefined ? 'GET' : String(v['--method']).toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new UsageError(`--method: expected a method like GET or HEAD, got '${v['--method']}'`);
  const progress = v['--progress'] ?? 'auto';
  if (!['auto', 'bar', 'lines', 'none'].includes(progress)) {
    throw new UsageError(`--progress: expected auto, bar, lines or none, got '${progress}'`);
  }
  for (const flag of ['--redis-prefix', '--redis-policy']) {
    if (v[flag] !== undefined && v['--redis'] === undefined) throw new UsageError(`${flag}: needs --redis URL`);
  }
  if (v['--redis-prefix'] === '') throw new UsageError("--redis-prefix: expected a non-empty prefix, e.g. weir:");
  return {
    input: positionals[0] ?? '-',
    // `auto`: an adaptive cap (up to 1,000) that follows the answers.
    concurrency: v['--concurrency'] === undefined ? 100 : v['--concurrency'] === 'auto' ? AUTO_MAX : parseWhole(v['--concurrency'], '--concurrency', 1, 1_000_000),
    adaptive: v['--concurrency'] === 'auto',
    // `auto`: an adaptive cap per host (up to 1,000), each following its host's answers.
    perHost: v['--per-host'] === undefined ? undefined : v['--per-host'] === 'auto' ? 'auto' : parseWhole(v['--per-host'], '--per-host', 1, 1_000_000),
    rate: (v['--rate'] ?? []).map((r) => parseRate(r, '--rate')),
    perHostRate: (v['--per-host-rate'] ?? []).map((r) => parseRate(r, '--per-host-rate')),
    retries: v['--retries'] === undefined ? 2 : parseWhole(v['--retries'], '--retries', 0, 100),
    timeout: parseTimeout(v['--timeout']),
    method,
    headers: (v['--header'] ?? []).map((h) => parseHeader(h, '--header')),
    save: v['--save'],
    output: v['--output'],
    progress,
    // Fleet mode (js/cli/fleet.js): the limits live on this Redis.
    redis: v['--redis'] === undefined ? undefined : parseRedisUrl(v['--redis']),
    redisPrefix: v['--redis-prefix'],
    redisPolicy: v['--redis-policy'] === undefined ? undefined : parseRedisPolicy(v['--redis-policy']),
  };
}

/** The most `--concurrency auto` lets in flight (and the look-ahead it pulls). */
export const AUTO_MAX = 1000;

const SERVE_SPEC = {
  '--port': { value: true },
  '--delay': { value: true },
  '--capacity': { value: true },
  '--429-rate': { value: true },
  '--help': { value: false },
};

/** Options of `weir serve`. */
export function parseServeArgs(argv) {
  const { values: v, positionals } = splitArgs(argv, SERVE_SPEC, 'serve');
  if (v['--help']) return { help: true };
  if (positionals.length) throw new UsageError(`${positionals[0]}: unexpected argument`);
  return {
    port: v['--port'] === undefined ? 8080 : parseWhole(v['--port'], '--port', 0, 65535),
    delayMs: v['--delay'] === undefined ? [0, 300] : parseDelayRange(v['--delay'], '--delay'),
    capacity: v['--capacity'] === undefined ? Infinity : parseWhole(v['--capacity'], '--capacity', 1, 1_000_000),
    status429Rate: v['--429-rate'] === undefined ? 0 : parseNumber(v['--429-rate'], '--429-rate', 0, 1),
  };
}

const DEMO_SPEC = {
  '--requests': { value: true },
  '--concurrency': { value: true },
  '--delay': { value: true },
  '--server': { value: true },
  '--target': { value: true },
  '--json': { value: false },
  '--help': { value: false },
};

/** `--target`: an http(s) URL, without a trailing `/`. */
function parseTarget(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`--target: expected an http(s) URL, got '${text}'`);
  }
  return String(text).replace(/\/+$/, '');
}

/** Options of `weir demo`. */
export function parseDemoArgs(argv) {
  const { values: v, positionals } = splitArgs(argv, DEMO_SPEC, 'demo');
  if (v['--help']) return { help: true };
  if (positionals.length) throw new UsageError(`${positionals[0]}: unexpected argument`);
  const server = v['--server'] ?? 'child';
  if (server !== 'child' && server !== 'in-process') {
    throw new UsageError(`--server: expected child or in-process, got '${server}'`);
  }
  return {
    requests: v['--requests'] === undefined ? 100_000 : parseWhole(v['--requests'], '--requests', 1, 1e10),
    target: v['--target'] === undefined ? undefined : parseTarget(v['--target']),
    concurrency: v['--concurrency'] === undefined ? 1000 : parseWhole(v['--concurrency'], '--concurrency', 1, 100_000),
    delayMs: v['--delay'] === undefined ? [0, 300] : parseDelayRange(v['--delay'], '--delay'),
    server,
    json: Boolean(v['--json']),
  };
}
