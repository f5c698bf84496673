// Types for the npm package `weir-limiter` (every host entry exports the same API).
//
// They compile under `--strict` with or without @types/node, and with any
// `lib` that has the fetch types (`dom`, or @types/node's globals).

/** A rate quota: `limit` units per `interval` milliseconds, bursts of `burst` (default `limit`). */
export interface Quota {
  limit: number;
  /** Milliseconds; must be > 0. */
  interval: number;
  /** How much may be admitted at once from a full bucket (default: `limit`). */
  burst?: number;
}

/** A cap: a whole number >= 1, or `Infinity`/`null`/`undefined` for none. */
export type Cap = number | null | undefined;

/**
 * An adaptive global cap: it follows the round-trip times and 429/503s of
 * the work it admits (`run` reports by itself; else `Limiter.report`).
 * Gradient (default): finds the concurrency where latency starts to rise;
 * AIMD: backs off on 429/503 only.
 */
export interface AdaptiveOptions {
  /** Default 1. */
  min?: number;
  /** Default 1000. */
  max?: number;
  /** Default 10 (within [min, max]). */
  initial?: number;
  algorithm?: 'gradient' | 'aimd';
}

export interface LimiterOptions {
  /** Global in-flight cap, or `{ adaptive }` for one that finds itself. */
  concurrency?: Cap | { adaptive: AdaptiveOptions };
  /** In-flight cap per key, or `{ adaptive }` for one per key that finds itself
   * (a request above its key's current cap is admitted alone). */
  perKey?: Cap | { adaptive: AdaptiveOptions };
  /** Quota(s) shared by all keys; all must allow. */
  rate?: Quota | Quota[];
  /** Quota(s) applied to each key separately; all must allow. */
  perKeyRate?: Quota | Quota[];
  /** How many acquires may wait at once; beyond it they reject with a `QueueFullError`. */
  maxQueue?: Cap | 0;
  /** Shared limits across processes: a `RedisStore` from 'weir-limiter/redis' (Node / Deno). */
  store?: SharedStore;
  /** With a store, when a store call fails or times out. Default 'closed'. */
  onStoreError?: 'closed' | 'open' | 'local';
  /** With `onStoreError: 'local'`: this process's share is 1/localShare of the limits. Default 1. */
  localShare?: number;
}

export interface RunOptions {
  /** Default `""` (one shared key). */
  key?: string | number;
  /** Permits / rate units this work takes (default 1). */
  cost?: number;
  /** Aborting rejects with `signal.reason`; a waiter leaves the queue at once. */
  signal?: AbortSignal;
}

/**
 * `Symbol.dispose` where the compilation's `lib` (esnext.disposable, es2025+)
 * or @types/node declares it; `never` elsewhere, so these types never need
 * a lib they do not name.
 */
type DisposeSymbol = SymbolConstructor extends { readonly dispose: infer S extends symbol } ? S : never;

/** Releases a permit; idempotent; also `using`-disposable where the lib knows `Symbol.dispose`. */
export type Release = (() => void) & { readonly [K in DisposeSymbol]: () => void };

export interface LimiterStats {
  inFlight: number;
  queued: number;
  keys: number;
  rateKeys: number;
  /** The cap in force (with `adaptive`, its current limit). */
  concurrency: number;
  perKey: number;
  /** With an adaptive cap: its limit, minimum RTT and last window's RTT (ms, NaN until measured), gradient. */
  adaptive?: { limit: number; minRtt: number; sampleRtt: number; gradient: number };
  /** With adaptive per-key caps: up to 100 keys with a controller, each with the same figures. */
  perKeyAdaptive?: Record<string, { limit: number; minRtt: number; sampleRtt: number; gradient: number }>;
  /** With a store: its counters and mode. */
  store?: SharedStoreStats;
}

/**
 * A store of shared limits: a `RedisStore` from 'weir-limiter/redis' (Node /
 * Deno). Typed structurally here so the main entry's types stand alone.
 */
export interface SharedStore {
  stats(): SharedStoreStats;
}

/** `stats().store`: the store's counters and mode. */
export interface SharedStoreStats {
  roundTrips: number;
  errors: number;
  lastError: Error | undefined;
  latencyP99Ms: number;
  mode: 'ok' | 'degraded';
  recoveries: number;
}

export type AdaptiveOutcome = 'ok' | 'dropped' | '429' | '503' | 'timeout' | 'cancelled';

export type Settled<R> =
  | { status: 'fulfilled'; value: R }
  | { status: 'rejected'; reason: unknown };

export interface AsCompletedOptions<T> {
  /** At most this many items out of the source at once (running, waiting or unconsumed). */
  concurrency?: number;
  /** A key, or a function of the item giving its key (per-key caps and quotas apply). */
  key?: string | number | ((item: T) => string | number);
  cost?: number;
  /** Aborting ends the iteration with `signal.reason` and aborts in-flight work. */
  signal?: AbortSignal;
  /**
   * By default every item's outcome is yielded as a `{status, value | reason}`
   * record (one failure does not end the stream). `failFast: true` yields bare
   * values instead and throws the first error, ending the iteration.
   */
  failFast?: boolean;
  /**
   * Yield results in input order. The window (`concurrency`) is then the
   * reorder window: an item that finished early keeps its place until every
   * earlier one is yielded; when all places are taken, the source is not
   * pulled until the oldest item finishes. Nothing is dropped.
   */
  ordered?: boolean;
}

export type Mapper<T, R> = (item: T, context: { signal: AbortSignal }) => R | PromiseLike<R>;
export type Thunk<R> = (context: { signal: AbortSignal }) => R | PromiseLike<R>;
export type Source<T> = Iterable<T> | AsyncIterable<T>;

/** Concurrency caps, rate quotas and a bounded queue, enforced together by the Rust core. */
export class Limiter {
  constructor(options?: LimiterOptions);
  /** Runs `fn` once admitted; resolves to its result. The permit is held until `fn` settles. */
  run<R>(fn: (context: { signal: AbortSignal | undefined }) => R | PromiseLike<R>, options?: RunOptions): Promise<Awaited<R>>;
  /** Waits for admission; resolves to a release function. */
  acquire(options?: RunOptions): Promise<Release>;
  /** Admits now or not at all. */
  tryAcquire(options?: Omit<RunOptions, 'signal'>): Release | null;
  asCompleted<T, R>(source: Source<T>, mapper: Mapper<T, R>, options: AsCompletedOptions<T> & { failFast: true }): AsyncGenerator<R, void, undefined>;
  asCompleted<T, R>(source: Source<T>, mapper: Mapper<T, R>, options?: AsCompletedOptions<T>): AsyncGenerator<Settled<R>, void, undefined>;
  /** Changes the concurrency caps; omitted options keep their value. */
  setLimits(options: { concurrency?: Cap; perKey?: Cap }): void;
  /** Holds every acquire for `key` for `ms` milliseconds (e.g. from `Retry-After`). */
  pause(key: string | number, ms: number): void;
  /** Feeds the adaptive caps one finished request of `key`; the global cap's limit after it, or
   * with only `perKey` adaptive the key's (`undefined` when not adaptive). */
  report(sample: { rtt: number; inFlight: number; keyInFlight?: number; outcome?: AdaptiveOutcome; key?: string | number }): number | undefined;
  stats(): LimiterStats;
  /**
   * `fetch` under this limiter: same arguments and result as `fetch`. Key =
   * the URL's `host:port` (default port filled in) unless `keyOf`. The permit
   * is held until the response body is fully read, cancelled or errored
   * (`releaseOn: 'headers'` opts out); a body nobody touches for
   * `bodyTimeout` ms (default 60 000) is cancelled, its permit released, and
   * reading it rejects with a `BodyTimeoutError`. Retries (idempotent methods,
   * 429/503 and network errors by default) follow `retry`; a `Retry-After`
   * pauses the whole key. Rejects with `TimeoutError` (`timeout`),
   * `QueueTimeoutError` (`queueTimeout`) or the signal's reason on abort.
   */
  fetch(input: string | URL | Request, init?: LimitedFetchInit): Promise<LimitedResponse>;
  /** Per-key figures of `fetch`. */
  fetchStats(): Record<string, FetchKeyStats>;
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 3; `1` = never retry). */
  attempts?: number;
  /** Statuses worth another attempt (default `[429, 503]`). */
  statuses?: number[];
  /** Methods that may be repeated (default GET HEAD OPTIONS PUT DELETE); network errors too. */
  methods?: string[];
  /** Back-off scale in ms: retry n waits uniformly in [0, min(maxDelay, baseDelay·2ⁿ)] (default 100). */
  baseDelay?: number;
  /** Cap on any wait in ms, back-off or `Retry-After` (default 30 000). */
  maxDelay?: number;
  /** Per-key retry budget: retries ≤ min + ratio × requests over `window` ms (default 0.1, 3, 10 000). */
  budget?: { ratio?: number; min?: number; window?: number };
}

/** undici's `Dispatcher` where @types/node types `RequestInit`, else `unknown`. */
type DispatcherOf<Init> = Init extends { dispatcher?: infer D } ? D : unknown;

export interface LimitedFetchInit extends RequestInit {
  /** Retry policy; `false` = never retry. */
  retry?: RetryOptions | boolean;
  /** Whole request in ms, queueing and retries included, up to the response: `TimeoutError`. */
  timeout?: number;
  /** Waiting for a permit (each attempt), in ms: `QueueTimeoutError`. */
  queueTimeout?: number;
  /**
   * Release and error a body nobody reads for this many ms (default 60 000;
   * `Infinity` = never), counted from the end of the event-loop turn the
   * response was handed over in (a body read with text()/json()/… at once
   * never starts the clock).
   */
  bodyTimeout?: number;
  /** When the permit is returned: at the end of the body (default) or at the headers. */
  releaseOn?: 'body' | 'headers';
  /** The limiter key of a request (default: `host:port`). */
  keyOf?: (request: { url: URL; method: string; input: string | URL | Request; init: RequestInit | undefined }) => string | number;
  /** The `fetch` to call (default: `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** Node (undici) only: the dispatcher of the request. */
  dispatcher?: DispatcherOf<RequestInit>;
  /** Needed by Node for stream bodies. */
  duplex?: 'half';
}

/** A platform `Response`, with how many attempts it took. */
export interface LimitedResponse extends Response {
  readonly attempts: number;
}

export interface FetchKeyStats {
  /** Requests of the key holding a permit. */
  inFlight: number;
  /** Requests of the key waiting for a permit (or a cooldown). */
  queued: number;
  /** Attempts sent. */
  sent: number;
  /** Retries made. */
  retried: number;
  /** 429 responses seen. */
  status429: number;
  networkErrors: number;
  /** The key's `Retry-After` cooldown ends then (`Date.now()` ms), or `null`. */
  cooldownUntil: number | null;
  /** Latency to response headers in ms (`null` before the first response). */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** An acquire (or `run`, `fetch`) found `maxQueue` acquires already waiting. */
export class QueueFullError extends Error {
  constructor(message: string);
  name: 'QueueFullError';
}
/** `limiter.fetch`'s `timeout` elapsed. */
export class TimeoutError extends Error {
  constructor(ms: number);
  name: 'TimeoutError';
}
/** `limiter.fetch`'s `queueTimeout` elapsed before a permit was free. */
export class QueueTimeoutError extends Error {
  constructor(ms: number);
  name: 'QueueTimeoutError';
}
/** A response body was not read for `bodyTimeout` ms; its permit was released. */
export class BodyTimeoutError extends Error {
  constructor(ms: number);
  name: 'BodyTimeoutError';
}
/** The key `limiter.fetch` uses by default: `host:port`, default port filled in. */
export function fetchKeyOf(input: string | URL | Request): string;

interface LimitedAsCompletedCommon<T> extends Omit<AsCompletedOptions<T>, 'key' | 'ordered'> {
  /** Required: items out of the source at once (running, waiting or unconsumed). */
  concurrency: number;
  rate?: Quota | Quota[];
  perKeyRate?: Quota | Quota[];
}

/**
 * `limitedAsCompleted`'s options. With a `key` function and a numeric
 * `perKey` (and not `ordered`), items whose key is at its cap wait in a
 * look-ahead buffer of `lookahead` items (default: `concurrency`) while items
 * of other keys start; when the buffer is full, the pull stops.
 */
export type LimitedAsCompletedOptions<T> =
  | (LimitedAsCompletedCommon<T> & {
    key?: string | number | ((item: T) => string | number);
    perKey?: Cap;
    ordered?: boolean;
    /** Only with a `key` function and `perKey`, in completion order. */
    lookahead?: never;
  })
  | (LimitedAsCompletedCommon<T> & {
    key: (item: T) => string | number;
    perKey: number;
    ordered?: false;
    /** Items whose key is at its cap that may wait while other keys run (≥ 1; default `concurrency`). */
    lookahead?: number;
  });

/**
 * Maps a sync or async iterable with at most `concurrency` items out at once,
 * yielding results in completion order (or input order with `ordered: true`).
 * The source is pulled lazily;
 * `break`/`return()` stops pulling and aborts in-flight work. Without a mapper
 * (`null`) the items are thunks.
 */
export function limitedAsCompleted<T, R>(source: Source<T>, mapper: Mapper<T, R>, options: LimitedAsCompletedOptions<T> & { failFast: true }): AsyncGenerator<R, void, undefined>;
export function limitedAsCompleted<T, R>(source: Source<T>, mapper: Mapper<T, R>, options: LimitedAsCompletedOptions<T>): AsyncGenerator<Settled<R>, void, undefined>;
export function limitedAsCompleted<R>(source: Source<Thunk<R>>, mapper: null | undefined, options: LimitedAsCompletedOptions<Thunk<R>> & { failFast: true }): AsyncGenerator<R, void, undefined>;
export function limitedAsCompleted<R>(source: Source<Thunk<R>>, mapper: null | undefined, options: LimitedAsCompletedOptions<Thunk<R>>): AsyncGenerator<Settled<R>, void, undefined>;

export interface KeyedSemaphoreOptions {
  /** Total permits in flight. */
  global?: Cap;
  /** Permits in flight per key. */
  perKey?: Cap;
}

export interface SemaphoreStats {
  inFlight: number;
  waiting: number;
  keys: number;
  global: number;
  perKey: number;
}

/** A global cap plus a per-key cap; FIFO per key, no head-of-line blocking across keys. */
export class KeyedSemaphore {
  constructor(options?: KeyedSemaphoreOptions);
  acquire(key: string | number, n?: number, options?: { signal?: AbortSignal }): Promise<Release>;
  tryAcquire(key: string | number, n?: number): Release | null;
  setLimits(options: KeyedSemaphoreOptions): void;
  stats(): SemaphoreStats;
}

export interface RateLimiterOptions {
  /** Units per `interval`, per key. */
  limit: number;
  /** Milliseconds. */
  interval: number;
  burst?: number;
  /** Quota(s) shared by all keys in addition. */
  global?: Quota | Quota[];
}

/** GCRA token buckets per key. A fresh bucket is full. */
export class RateLimiter {
  constructor(options: RateLimiterOptions);
  /** Admits now (consuming) or says when; a denial consumes nothing. */
  check(key: string | number, cost?: number): { ok: boolean; retryAfterMs: number };
  /** Waits FIFO per key until admitted. */
  acquire(key: string | number, cost?: number, options?: { signal?: AbortSignal }): Promise<void>;
  pause(key: string | number, ms: number): void;
  stats(): { keys: number };
}

// ------------------------------------------------------------------- guard

/** A fetch-style handler: workerd / Deno.serve / Bun / service worker shape. */
export type FetchHandler<Env = unknown, Ctx = unknown> = (
  request: Request,
  env?: Env,
  ctx?: Ctx,
) => Response | PromiseLike<Response>;

/** Why a request was shed, as `onReject` sees it. */
export interface GuardRejection {
  /** The request's key (client address by default). */
  key: string;
  /** `'concurrency'` (in-flight caps / queue), `'rate'` (a quota), or `'store'` (a shared store failed, `onStoreError: 'closed'`). */
  reason: 'concurrency' | 'rate' | 'store';
  /** Seconds, as sent in `Retry-After`. */
  retryAfter: number;
  status: 429 | 503;
}

export interface GuardOptions<Env = unknown, Ctx = unknown> {
  /** In-flight cap for the whole handler. */
  concurrency?: Cap;
  /** In-flight cap per key (client). */
  perKey?: Cap;
  /** Quota(s) shared by all clients. */
  rate?: Quota | Quota[];
  /** Quota(s) per client. */
  perKeyRate?: Quota | Quota[];
  /**
   * The request's key. Default: the header named by `keyHeader` if present,
   * else the client address the host exposes (Deno `info.remoteAddr`, the
   * Node adapter's, Bun `server.requestIP`, workerd `CF-Connecting-IP`), else `""`.
   */
  key?: (request: Request, env?: Env, ctx?: Ctx) => string | number | PromiseLike<string | number>;
  /** A header carrying the client identity (e.g. set by your proxy). */
  keyHeader?: string;
  /** An optional short bounded wait before shedding: at most `max` waiting, each at most `timeout` ms. */
  queue?: { max: number; timeout: number };
  /** Status of a shed request: 429 (default) or 503. */
  status?: 429 | 503;
  /** Called for each shed request; return a Response to answer with it instead. */
  onReject?: (request: Request, info: GuardRejection) => Response | void | PromiseLike<Response | void>;
  /** `Retry-After` seconds for a concurrency rejection (default 1; the header never says less than 1). */
  busyRetryAfter?: number;
  /** Shared limits across servers: a `RedisStore` from 'weir-limiter/redis' (no `queue` with a store). */
  store?: SharedStore;
  onStoreError?: 'closed' | 'open' | 'local';
  localShare?: number;
}

export interface GuardStats {
  inFlight: number;
  queued: number;
  keys: number;
  rateKeys: number;
  permits: number;
  waiting: number;
}

/** A guarded fetch-style handler. */
export interface GuardedHandler<Env = unknown, Ctx = unknown> {
  (request: Request, env?: Env, ctx?: Ctx): Promise<Response>;
  stats(): GuardStats;
  /** Forget idle per-key rate state now (it is also swept as new keys arrive). */
  evictIdle(): void;
}

/**
 * A Node `http.createServer` request listener (`IncomingMessage`,
 * `ServerResponse`); typed loosely so non-Node users need no `@types/node`.
 */
export type NodeRequestListener = (req: any, res: any) => void;

/**
 * Shed load with 429 (or 503) + `Retry-After` instead of queueing. The permit
 * is held until the response body has been streamed (or errors / is cancelled).
 */
export declare const guard: {
  <Env = unknown, Ctx = unknown>(handler: FetchHandler<Env, Ctx>, options: GuardOptions<Env, Ctx>): GuardedHandler<Env, Ctx>;
  /** `toNodeHandler(guard(handler, options))`. */
  node(handler: FetchHandler<{ remoteAddr: { hostname: string; port: number; transport: 'tcp' } }>, options: GuardOptions): NodeRequestListener;
};

/** Adapt a fetch-style handler (guarded or not) to Node's `http.createServer`. */
export function toNodeHandler(handler: FetchHandler<any, any>): NodeRequestListener;
