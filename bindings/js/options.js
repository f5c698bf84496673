// Option checks shared by the limiter classes, `limitedAsCompleted`,
// `limiter.fetch` and `guard`: option objects, keys, signals, whole numbers,
// caps, durations and rate quotas.
//
// Guarantees: every bad value throws at once a TypeError (wrong type) or a
// RangeError (out of range) whose message names the option; a valid value
// comes back in the form the wasm side takes. Internal: not re-exported by
// the package.

import { MAX_DURATION_MS } from './timers.js';

export const MAX_U32 = 0xffffffff;

/**
 * The checks with every message starting with `prefix` (`''` for the
 * limiter classes, `'guard: '` for `guard`).
 * @param {string} prefix
 */
export function optionChecks(prefix) {
  /** A whole number from `min` to 2^32 - 1. */
  function whole(value, name, min = 1) {
    if (typeof value !== 'number') {
      throw new TypeError(`${prefix}option '${name}' must be a number, got ${typeof value}`);
    }
    if (!Number.isInteger(value) || value < min || value > MAX_U32) {
      throw new RangeError(
        `${prefix}option '${name}' must be a whole number from ${min} to ${MAX_U32}, got ${value}`,
      );
    }
    return value;
  }

  /** A cap: undefined/null/Infinity = unlimited, else a whole number >= min. */
  function cap(value, name, min = 1) {
    if (value === undefined || value === null || value === Infinity) return undefined;
    return whole(value, name, min);
  }

  /** A duration in milliseconds: positive, at most `MAX_DURATION_MS`. */
  function duration(value, name) {
    if (typeof value !== 'number') {
      throw new TypeError(`${prefix}option '${name}' must be a number, got ${typeof value}`);
    }
    if (!(value > 0) || !(value <= MAX_DURATION_MS)) {
      throw new RangeError(
        `${prefix}option '${name}' must be a positive number of milliseconds up to ${MAX_DURATION_MS}, got ${value}`,
      );
    }
    return value;
  }

  /** Quotas `{limit, interval, burst?}` (or an array of them) as flat triples. */
  function quotas(value, name) {
    if (value === undefined || value === null) return new Float64Array(0);
    const list = Array.isArray(value) ? value : [value];
    const triples = new Float64Array(list.length * 3);
    list.forEach((quota, i) => {
      const at = Array.isArray(value) ? `${name}[${i}]` : name;
      if (quota === null || typeof quota !== 'object') {
        throw new TypeError(`${prefix}option '${at}' must be an object { limit, interval, burst? }`);
      }
      for (const k of Object.keys(quota)) {
        if (k !== 'limit' && k !== 'interval' && k !== 'burst') {
          // Without a prefix the message names the quota option first.
          throw new TypeError(`${prefix || `option '${at}': `}unknown option '${at}.${k}'`);
        }
      }
      triples[i * 3] = whole(quota.limit, `${at}.limit`);
      triples[i * 3 + 1] = duration(quota.interval, `${at}.interval`);
      triples[i * 3 + 2] = quota.burst === undefined ? 0 : whole(quota.burst, `${at}.burst`);
    });
    return triples;
  }

  return { whole, cap, duration, quotas };
}

export function options(value, where, allowed) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${where}: options must be an object`);
  }
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) {
      throw new TypeError(
        `${where}: unknown option '${name}' (expected one of: ${allowed.join(', ')})`,
      );
    }
  }
  return value;
}

/** `pause`'s `ms`: a number from 0 to `MAX_DURATION_MS`. */
export function pauseMs(ms) {
  if (typeof ms !== 'number') throw new TypeError(`pause: 'ms' must be a number, got ${typeof ms}`);
  if (!(ms >= 0 && ms <= MAX_DURATION_MS)) {
    throw new RangeError(`pause: 'ms' must be a number from 0 to ${MAX_DURATION_MS}, got ${ms}`);
  }
  return ms;
}

export function keyOf(key, name = 'key') {
  if (key === undefined) return '';
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  throw new TypeError(`option '${name}' must be a string, got ${typeof key}`);
}

export function signalOf(signal) {
  if (signal === undefined || signal === null) return undefined;
  if (typeof signal !== 'object' || typeof signal.addEventListener !== 'function') {
    throw new TypeError("option 'signal' must be an AbortSignal");
  }
  return signal;
}
