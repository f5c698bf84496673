// Types for `weir-limiter/server`: the local target server (Node only; it
// listens on a loopback address and nowhere else).

export interface TargetOptions {
  /** 0 (default) = any free port. */
  port?: number;
  /** A loopback address: `127.0.0.1` (default), `localhost` or `::1`. */
  host?: '127.0.0.1' | 'localhost' | '::1';
  /** The random delay before "Hello, World!" in ms: `[min, max]` or one value (default `[0, 300]`). */
  delayMs?: number | [number, number];
  /** Share of default-path requests answered 429: a number in [0, 1], per Host header, or a function of it (default 0). */
  status429Rate?: number | Record<string, number> | ((host: string) => number);
  /** `Retry-After` seconds of those 429s (default 1). */
  retryAfter?: number;
  /** Arrival timestamps kept per host (a ring; default 4096). */
  timestampRing?: number;
  /** Per-second counts kept per host (a ring; default 600). */
  secondsRing?: number;
  /** Hosts counted apart; the rest share one entry, `(other)` (default 1024). */
  maxHosts?: number;
}

/** What the server counted for one Host header. */
export interface TargetHostStats {
  /** Requests being answered now. */
  current: number;
  /** The most requests it was answering at once. */
  maxConcurrent: number;
  total: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** `[second since start, arrivals in it]`, oldest first. */
  perSecond: Array<[number, number]>;
  /** Arrival times in ms since start (the newest `timestampRing`). */
  timestamps: number[];
  /** Arrivals whose timestamps fell out of the ring. */
  timestampsDropped: number;
}

export interface TargetStats {
  total: number;
  current: number;
  maxConcurrent: number;
  uptimeMs: number;
  hosts: Record<string, TargetHostStats>;
}

export interface Target {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Counters since start (or the last `reset`): totals and per Host header. */
  stats(): TargetStats;
  /** Forget all counters (requests in flight finish uncounted). */
  reset(): void;
  /** Stop listening and drop every connection. */
  close(): Promise<void>;
}

/**
 * Start the target server: "Hello, World!" after a random delay, plus
 * path-driven modes (`/status/<code>[?retry-after=S]`, `/slow-body?ms=M&chunks=C`,
 * `/reset`, `/bytes?n=N`, `/delay?ms=M`, `/echo`, `/__weir/stats`).
 */
export function startTarget(options?: TargetOptions): Promise<Target>;

/** The most arrivals inside any sliding window of `windowMs`, from sorted timestamps in ms. */
export function maxInWindow(timestamps: readonly number[], windowMs: number): number;
