// A stand-in for `limiter.fetch` with its contract, used only while the
// package's own fetch wrapper is absent. Limiting stays in the core: each
// attempt takes a permit from the Limiter (key = host:port) and holds it until
// the body is consumed; a Retry-After becomes `limiter.pause(key, ms)`. This
// file adds only the retry loop (429/503 and network errors for idempotent
// methods; exponential backoff with full jitter otherwise).

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const RETRY_STATUSES = new Set([429, 503]);
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 30_000;

/** Counters of the stand-in (bounded: one entry per host with work outstanding). */
export class StandInStats {
  constructor() {
    this.retries = 0;
    this.status429 = 0;
    this.pending = new Map();
  }

  snapshot(limiter) {
    const hosts = [...this.pending].map(([key, queued]) => ({ key, queued, inFlight: 0 }));
    const s = limiter.stats();
    return { retries: this.retries, status429: this.status429, hosts, inFlight: s.inFlight, queued: s.queued };
  }
}

/** `Retry-After` (seconds or an HTTP date) in ms, or undefined. */
export function retryAfterMs(value, now = Date.now()) {
  if (value == null || value === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Fetch `url` under `limiter` with retries; `consume(response)` → bytes, run under the permit. */
export async function standInFetch(limiter, stats, url, init, consume) {
  const key = new URL(url).host;
  const attempts = init.retry?.attempts ?? 1;
  const retryable = IDEMPOTENT.has(init.method);
  // One controller per request, linked to the caller's signal and the timeout
  // (cheaper than AbortSignal.timeout + AbortSignal.any).
  const controller = new AbortController();
  const signal = controller.signal;
  const parent = init.signal;
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  parent?.addEventListener('abort', onParentAbort, { once: true });
  const timer = init.timeout
    ? setTimeout(() => controller.abort(new DOMException(`timed out after ${init.timeout} ms`, 'TimeoutError')), init.timeout)
    : undefined;
  stats.pending.set(key, (stats.pending.get(key) ?? 0) + 1);
  try {
    for (let attempt = 1; ; attempt++) {
      const release = await limiter.acquire({ key, signal });
      let response;
      try {
        response = await fetch(url, { method: init.method, headers: init.headers, signal });
      } catch (error) {
        release();
        if (signal?.aborted || !retryable || attempt >= attempts) throw withAttempts(error, attempt);
        stats.retries += 1;
        await sleep(backoff(attempt), signal);
        continue;
      }
      if (response.status === 429) stats.status429 += 1;
      if (RETRY_STATUSES.has(response.status) && retryable && attempt < attempts) {
        const wait = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel().catch(() => {});
        release();
        stats.retries += 1;
        if (wait !== undefined) {
          const ms = Math.min(wait, MAX_DELAY_MS);
          limiter.pause(key, ms);
        } else {
          await sleep(backoff(attempt), signal);
        }
        continue;
      }
      try {
        const bytes = await consume(response);
        return { status: response.status, bytes, attempts: attempt };
      } catch (error) {
        throw withAttempts(error, attempt);
      } finally {
        release();
      }
    }
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
    const left = stats.pending.get(key) - 1;
    if (left === 0) stats.pending.delete(key);
    else stats.pending.set(key, left);
  }
}

function backoff(attempt) {
  return Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
}

function withAttempts(error, attempts) {
  if (error && typeof error === 'object') {
    try {
      error.attempts = attempts;
    } catch {
      // frozen error: attempts stay unknown
    }
  }
  return error;
}
