// The adaptive caps (`concurrency: { adaptive }`, `perKey: { adaptive }`)
// from JS: their options laid out as the row the core takes, the outcome a
// settled task reports, and `run`'s timing of a task.
//
// Guarantees: the control law, its defaults and the order of min / initial
// / max are the core's (`weir::adaptive`), checked there; the row's layout,
// the algorithm names and the outcome codes are Rust's (`ADAPTIVE`). How a
// JS error maps to an outcome is decided here, once, for `run` and `fetch`.
import { ADAPTIVE, inFlightNowOf, reportTo } from './boundary.js';
import { options, optionChecks } from './options.js';

const { whole } = optionChecks('');
const ADAPTIVE_OPTIONS = ['min', 'max', 'initial', 'algorithm'];
const WHOLE_FIELDS = ['min', 'max', 'initial'];

/**
 * `concurrency` (or `perKey`, as `option` says): `{ adaptive: { min, max,
 * initial, algorithm } }` as the core's row (`NaN` where the core's default
 * applies); `undefined` for a plain cap.
 */
export function adaptiveRow(value, option = 'concurrency') {
  if (value === null || typeof value !== 'object') return undefined;
  const c = options(value, option, ['adaptive']);
  const a = options(c.adaptive ?? {}, `${option}.adaptive`, ADAPTIVE_OPTIONS);
  const layout = ADAPTIVE.config;
  const row = new Float64Array(layout.length).fill(NaN);
  for (const name of WHOLE_FIELDS) {
    if (a[name] !== undefined) row[layout[name]] = whole(a[name], `${option}.adaptive.${name}`);
  }
  if (a.algorithm !== undefined) {
    const code = ADAPTIVE.algorithms.indexOf(a.algorithm);
    if (code < 0) {
      const names = ADAPTIVE.algorithms.map((name) => `'${name}'`).join(' or ');
      throw new RangeError(`option '${option}.adaptive.algorithm' must be ${names}, got ${String(a.algorithm)}`);
    }
    row[layout.algorithm] = code;
  }
  return row;
}

/** The code of a named outcome (`'ok'`, `'429'`, …), or -1. */
export function outcomeCode(name) {
  return ADAPTIVE.outcomes.indexOf(name);
}

/** The outcome of an HTTP status: 429 and 503 are overload, anything else was served. */
export function outcomeOfStatus(status) {
  const { outcome } = ADAPTIVE;
  return status === 429 ? outcome['429'] : status === 503 ? outcome['503'] : outcome.ok;
}

/**
 * The outcome a failed task reports: an HTTP 429/503 (`status` or
 * `response.status`) is overload, a `TimeoutError` a timeout, an
 * `AbortError` a cancellation (no sample), anything else `otherwise`'s code.
 */
export function outcomeOfError(error, otherwise) {
  const { outcome } = ADAPTIVE;
  const status = error?.status ?? error?.response?.status;
  if (status === 429 || status === 503) return outcomeOfStatus(status);
  if (error?.name === 'TimeoutError') return outcome.timeout;
  if (error?.name === 'AbortError') return outcome.cancelled;
  return outcome[otherwise];
}

/** `fn` of `key`, timed from its start to its settling and reported to `raw`'s adaptive caps. */
export function timed(raw, fn, key) {
  return (context) => {
    const started = inFlightNowOf(raw, key);
    const start = performance.now();
    const report = (code) => reportTo(raw, key, performance.now() - start, started, code);
    let work;
    try {
      work = Promise.resolve(fn(context));
    } catch (error) {
      // An error thrown by the task itself: it was served (its RTT counts).
      report(outcomeOfError(error, 'ok'));
      throw error;
    }
    return work.then(
      (value) => {
        report(ADAPTIVE.outcome.ok);
        return value;
      },
      (error) => {
        report(outcomeOfError(error, 'ok'));
        throw error;
      },
    );
  };
}

/** The outcome names, for messages. */
export function outcomeNames() {
  return ADAPTIVE.outcomes.join(', ');
}
