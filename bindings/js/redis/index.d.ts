// Types of the 'weir-limiter/redis' entry (Node and Deno).

/** An ioredis client, or a node-redis (v4+) client: anything with evalsha / evalSha. */
export type RedisClient = object;

export interface RedisStoreOptions {
  /** Namespace: limiters with the same prefix and options share their limits. Default 'weir:'. */
  prefix?: string;
  /** A concurrency permit held by a process that died comes back after this. Default 30000. */
  leaseMs?: number;
  /** A store call slower than this counts as a store error. Default 200. */
  timeoutMs?: number;
  /** Extra TTL on written keys beyond the instant they become idle. Default 1000. */
  ttlSlackMs?: number;
}

export interface StoreStats {
  roundTrips: number;
  errors: number;
  lastError: StoreError | undefined;
  latencyP99Ms: number;
  mode: 'ok' | 'degraded';
  /** Switches from 'degraded' back to 'ok'. */
  recoveries: number;
}

export class StoreError extends Error {
  name: 'StoreError';
  /** The call: 'rate' | 'lease' | 'renew' | 'release' | 'pause'. */
  op: string;
  timedOut: boolean;
}

export class RedisStore {
  constructor(client: RedisClient, options?: RedisStoreOptions);
  readonly prefix: string;
  readonly leaseMs: number;
  readonly timeoutMs: number;
  stats(): StoreStats;
  /** Closes the subscriber connection (the client passed in stays yours). */
  close(): Promise<void>;
}
