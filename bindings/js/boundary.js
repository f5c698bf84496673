// The one door to the wasm: the only module that imports the wasm-bindgen
// glue. The loaders call `initWasm` with the module or its bytes; the rest
// of the JS layer gets the raw classes and every code, layout and default
// by name from here.
//
// Guarantees:
// - Every code (`MUST_WAIT`, `FAILED`, `WANTS_NOTIFY`, `NONE`, the guard's
//   `wait`/`shed`, the retry decision's codes, the adaptive cap's outcomes)
//   and array layout (the guard's figures, the fetch snapshot, the adaptive
//   config row) is read from Rust at `initWasm` (`wireNames`, `guardNames`,
//   `retryNames`, `adaptiveNames`), never retyped here: a field Rust adds, removes or
//   reorders reaches JS with its name. Policy defaults never cross: Rust
//   fills every option JS leaves `undefined`.
// - Flat arrays from Rust are turned into named values here and nowhere
//   else (`statsOf`, `forEachDrained`, `fetchSnapshot`; names arrive as
//   `[name, value, …]` pairs and layouts as field lists); errors the wasm
//   side throws or keeps reach callers as the package's classes (`fromCore`).
// - Importing this module touches no wasm: the names are set by `initWasm`,
//   which every loader calls before any API is used.
import {
  initSync, wireNames, guardNames, retryNames, adaptiveNames, RawLimiter, RawRetry, RawRetryPolicy, RawAsCompleted,
} from './wasm/weir_wasm.js';
import { fromCore } from './errors.js';

export { RawLimiter, RawRetry, RawRetryPolicy, RawAsCompleted };

/** What `tryAcquire` & co. answer when admission must wait (permit ids are ≥ 1). */
export let MUST_WAIT;
/** What they answer for a request that can never be admitted (the error: `lastError`). */
export let FAILED;
/** What `RawAsCompleted` answers for "nothing": the window is full, no result is due, the item waits. */
export let NONE;
/** What `acquireOrPark` answers when it parked the wait and wants the `notify` function (`setNotify`). */
export let WANTS_NOTIFY;
/**
 * The guard's names: `wait`, `shed` (codes of `admit`/`afterWait`),
 * `figures` (`{ limit, remaining, resetNs, retryNs, intervalMs, reason,
 * retryAfter, length }`: indices into the figures array) and `reasons`
 * (`figures[reason]` → `'concurrency' | 'rate'`).
 */
export let GUARD;
/**
 * The fetch wrapper's names: `retry` (the `decide` code for "retry"),
 * `giveUp` (code → reason) and `snapshot` (a record's layout). The retry
 * policy's defaults stay in Rust: `RawRetryPolicy` fills what JS leaves out.
 */
export let RETRY;

/**
 * The adaptive cap's names: `config` (the constructor row's layout:
 * `{ min, max, initial, algorithm, length }`), `algorithms` (code → name),
 * `outcomes` (code → name) and `outcome` (name → code).
 */
export let ADAPTIVE;

/** `[name, value, name, value, …]` (how Rust hands named values over) as an object. */
function fromPairs(pairs) {
  const out = {};
  for (let i = 0; i < pairs.length; i += 2) out[pairs[i]] = pairs[i + 1];
  return out;
}

/** A layout (field names in order) as `{ name: index, length }`. */
function layoutOf(names) {
  const out = { length: names.length };
  names.forEach((name, index) => {
    out[name] = index;
  });
  return Object.freeze(out);
}

/** Instantiate the wasm (a `WebAssembly.Module` or its bytes) and read its names. */
export function initWasm(module) {
  initSync({ module });
  const wire = fromPairs(wireNames());
  MUST_WAIT = wire.mustWait;
  FAILED = wire.failed;
  NONE = wire.none;
  WANTS_NOTIFY = wire.wantsNotify;
  const guard = fromPairs(guardNames());
  GUARD = Object.freeze({ ...guard, figures: layoutOf(guard.figures) });
  const retry = fromPairs(retryNames());
  RETRY = Object.freeze({ ...retry, snapshot: layoutOf(retry.snapshot) });
  const adaptive = fromPairs(adaptiveNames());
  ADAPTIVE = Object.freeze({ ...adaptive, config: layoutOf(adaptive.config), outcome: layoutOf(adaptive.outcomes) });
}

/** `raw.stats()` by name: `{ inFlight, queued, keys, rateKeys, permits, waiting }`. */
export function statsOf(raw) {
  return fromPairs(raw.stats());
}

/** `raw.adaptiveStats()` by name: `{ limit, minRtt, sampleRtt, gradient }` (RTTs in ms). */
export function adaptiveStatsOf(raw) {
  const pairs = raw.adaptiveStats();
  return pairs === undefined ? undefined : fromPairs(pairs);
}

/**
 * The adaptive per-key controllers of `raw` (at most `max` keys) as
 * `{ [key]: { limit, minRtt, sampleRtt, gradient } }`.
 */
export function adaptiveKeyStatsOf(raw, max) {
  const out = {};
  for (const key of raw.adaptiveKeys(max)) {
    const pairs = raw.adaptiveStatsOf(key);
    if (pairs !== undefined) Object.defineProperty(out, key, { value: fromPairs(pairs), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** `raw.inFlightNow(key)` by name: `{ total, key }`, the permits in flight now. */
export function inFlightNowOf(raw, key) {
  return fromPairs(raw.inFlightNow(key));
}

/**
 * Report one finished request of `key` to `raw`'s adaptive caps (`started`
 * from `inFlightNowOf` at its start); `{ global, key }`: the limits after
 * it, `undefined` for a cap that is not adaptive.
 */
export function reportTo(raw, key, rttMs, started, code) {
  const after = fromPairs(raw.report(key, rttMs, started.total, started.key, code));
  return { global: after.global < 0 ? undefined : after.global, key: after.key < 0 ? undefined : after.key };
}

/** The error `raw` kept for the last call that answered `FAILED`, as the package's class. */
export function lastError(raw) {
  return fromCore(raw.lastError());
}

/** The error of the parked wait under `ticket` that reported `FAILED`. */
export function takeError(raw, ticket) {
  return fromCore(raw.takeError(ticket));
}

/**
 * Poll `raw`'s woken parked waits and call `visit(ticket, id)` for each
 * that finished (`id` is a permit id, or `FAILED`: then `takeError`).
 */
export function forEachDrained(raw, visit) {
  const done = raw.drain();
  for (let i = 0; i < done.length; i += 2) visit(done[i], done[i + 1]);
}

/**
 * `RawRetry.snapshot()` as `{ [key]: record }`, each record's fields named
 * by Rust's layout (times in ms; `NaN` where there is no sample).
 */
export function fetchSnapshot(retry) {
  const layout = RETRY.snapshot;
  const fields = Object.keys(layout).filter((name) => name !== 'length' && name !== 'key');
  const flat = retry.snapshot();
  const out = {};
  for (let at = 0; at < flat.length; at += layout.length) {
    const record = {};
    for (const field of fields) record[field] = flat[at + layout[field]];
    out[flat[at + layout.key]] = record;
  }
  return out;
}
