// Key layout of the shared store: exactly the names the native crate builds
// (integrations/redis/src/keys.rs), so JS and Rust processes share limits.
//
// Invariants: every key of one request carries the same hash tag (Cluster:
// one slot per script call) — `{prefix}` when the limiter has global state
// (a global cap or global quotas), else `{prefix<key>}`; a rate cell's name
// spells its quota (limit/interval_ns/burst), so limiters with the same
// prefix and options share limits and a changed quota starts afresh.

/** Interval in ms (as the options take it) to whole ns, as the core rounds it. */
export function intervalNs(ms) {
  return BigInt(Math.max(1, Math.round(ms * 1e6)));
}

/** `limit/interval_ns/burst` of a quota triple (burst 0 = limit). */
function spec(limit, intervalMs, burst) {
  return `${limit}/${intervalNs(intervalMs)}/${burst === 0 ? limit : burst}`;
}

export class Keys {
  constructor(prefix, globalState) {
    this.prefix = prefix;
    this.shared = globalState;
  }

  #scoped(key, what) {
    return this.shared ? `{${this.prefix}}:${what}:${key}` : `{${this.prefix}${key}}:${what}`;
  }

  #global(what) {
    return `{${this.prefix}}:${what}`;
  }

  globalRate(limit, intervalMs, burst) {
    return this.#global(`rg:${spec(limit, intervalMs, burst)}`);
  }

  keyRate(key, limit, intervalMs, burst) {
    return `${this.#scoped(key, 'r')}:${spec(limit, intervalMs, burst)}`;
  }

  pause(key) {
    return this.#scoped(key, 'p');
  }

  pauseAll() {
    return this.#global('pg');
  }

  globalLeases() {
    return this.#global('cg');
  }

  keyLeases(key) {
    return this.#scoped(key, 'c');
  }

  releaseChannel() {
    return `${this.prefix}released`;
  }
}
