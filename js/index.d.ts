// Types for the npm package `weir` (every host entry exports the same API).

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

export interface LimiterOptions {
  /** Global in-flight cap. */
  concurrency?: Cap;
  /** In-flight cap per key. */
  perKey?: Cap;
  /** Quota(s) shared by all keys; all must allow. */
  rate?: Quota | Quota[];
  /** Quota(s) applied to each key separately; all must allow. */
  perKeyRate?: Quota | Quota[];
  /** How many acquires may wait at once; beyond it they reject with a `QueueFullError`. */
  maxQueue?: Cap | 0;
}

export interface RunOptions {
  /** Default `""` (one shared key). */
  key?: string | number;
  /** Permits / rate units this work takes (default 1). */
  cost?: number;
  /** Aborting rejects with `signal.reason`; a waiter leaves the queue at once. */
  signal?: AbortSignal;
}

/** Releases a permit; idempotent; also `using`-disposable. */
export interface Release {
  (): void;
  [Symbol.dispose](): void;
}

export interface LimiterStats {
  inFlight: number;
  queued: number;
  keys: number;
  rateKeys: number;
  concurrency: number;
  perKey: number;
}

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
  /** Yield `{status, value | reason}` records instead of throwing on the first error. */
  settle?: boolean;
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
  asCompleted<T, R>(source: Source<T>, mapper: Mapper<T, R>, options: AsCompletedOptions<T> & { settle: true }): AsyncGenerator<Settled<R>, void, undefined>;
  asCompleted<T, R>(source: Source<T>, mapper: Mapper<T, R>, options?: AsCompletedOptions<T>): AsyncGenerator<R, void, undefined>;
  /** Changes the concurrency caps; omitted options keep their value. */
  setLimits(options: { concurrency?: Cap; perKey?: Cap }): void;
  /** Holds every acquire for `key` for `ms` milliseconds (e.g. from `Retry-After`). */
  pause(key: string | number, ms: number): void;
  stats(): LimiterStats;
}

export interface LimitedAsCompletedOptions<T> extends AsCompletedOptions<T> {
  /** Required: items in flight (and the look-ahead window). */
  concurrency: number;
  perKey?: Cap;
  rate?: Quota | Quota[];
  perKeyRate?: Quota | Quota[];
}

/**
 * Maps a sync or async iterable with at most `concurrency` items out at once,
 * yielding results in completion order. The source is pulled lazily;
 * `break`/`return()` stops pulling and aborts in-flight work. Without a mapper
 * (`null`) the items are thunks.
 */
export function limitedAsCompleted<T, R>(source: Source<T>, mapper: Mapper<T, R>, options: LimitedAsCompletedOptions<T> & { settle: true }): AsyncGenerator<Settled<R>, void, undefined>;
export function limitedAsCompleted<T, R>(source: Source<T>, mapper: Mapper<T, R>, options: LimitedAsCompletedOptions<T>): AsyncGenerator<R, void, undefined>;
export function limitedAsCompleted<R>(source: Source<Thunk<R>>, mapper: null | undefined, options: LimitedAsCompletedOptions<Thunk<R>>): AsyncGenerator<R, void, undefined>;

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
