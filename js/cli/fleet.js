// `weir fetch --redis URL`: fleet mode. Every limit of the run — the caps
// (--concurrency, --per-host), the quotas (--rate, --per-host-rate) and
// Retry-After cooldowns — is enforced by the package's RedisStore (the
// 'weir-limiter/redis' entry) on that Redis, shared by every `weir fetch`
// (Node or native, cli/src/fleet.rs) using the same URL, --redis-prefix and
// limits. The admission itself is the store's (Lua scripts, core's GCRA);
// `limiter.fetch` keys requests by host:port as the native build does.
//
// Invariants:
// - the store is checked once at start (connect + PING within 1 s): an
//   unreachable server ends the run before any URL is read, with a message
//   naming the URL (password masked); main.js's caller exits 2;
// - while the store fails mid-run, --redis-policy decides: 'closed' (the
//   store's default) fails the request with the store's error, 'open' sends
//   it without the shared limits, 'local' under this process's own limits;
// - `close()` lets go of every connection, so the process can exit.

import { UsageError } from './values.js';

/** How long the start check waits for the server. */
const CONNECT_MS = 1000;

/** `url` as messages show it: its password (if any) masked. */
export function shownUrl(text) {
  try {
    const url = new URL(text);
    if (url.password === '') return text;
    url.password = '***';
    return url.href;
  } catch {
    return text;
  }
}

/** `--redis`: a redis:// URL with a host. */
export function parseRedisUrl(text) {
  let url = null;
  try {
    url = new URL(text);
  } catch {
    url = null;
  }
  if (url === null || url.protocol !== 'redis:' || url.hostname === '') {
    throw new UsageError(`--redis: expected a URL like redis://host:6379/0, got '${shownUrl(text)}'`);
  }
  return text;
}

/** `--redis-policy`: the store's `onStoreError`. */
export function parseRedisPolicy(text) {
  if (text !== 'closed' && text !== 'open' && text !== 'local') {
    throw new UsageError(`--redis-policy: expected closed, open or local, got '${text}'`);
  }
  return text;
}

/** Settles as `promise` does, or rejects after `ms`. */
function within(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A Redis client for `url` (ioredis, else node-redis: whichever is
 * installed), connected and answering PING; `{ client, close }`. Throws a
 * UsageError naming the URL otherwise.
 */
async function connectClient(url) {
  const shown = shownUrl(url);
  let lastError;
  let client;
  let close;
  let connected;
  const ioredis = await import('ioredis').catch(() => null);
  if (ioredis !== null) {
    const Redis = ioredis.default ?? ioredis.Redis;
    client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: CONNECT_MS,
      maxRetriesPerRequest: 1,
      retryStrategy: (n) => Math.min(50 * n, 1000),
      // A socket that never connected never closes: don't wait 2 s for it.
      disconnectTimeout: 100,
    });
    // Mid-run failures are counted by the store through its own calls.
    client.on('error', (error) => {
      lastError = error;
    });
    close = () => client.disconnect();
    connected = client.connect().then(() => client.ping());
  } else {
    const nodeRedis = await import('redis').catch(() => null);
    if (nodeRedis === null) {
      throw new UsageError('--redis: needs a Redis client package next to weir: npm install ioredis (or redis)');
    }
    client = nodeRedis.createClient({
      url,
      socket: { connectTimeout: CONNECT_MS, reconnectStrategy: (n) => Math.min(50 * n, 1000) },
    });
    client.on('error', (error) => {
      lastError = error;
    });
    close = () => (client.destroy ? client.destroy() : client.disconnect());
    connected = client.connect().then(() => client.ping());
  }
  try {
    await within(connected, CONNECT_MS);
  } catch (error) {
    connected.catch(() => {});
    try {
      await close();
    } catch {
      // closing a client that never connected is best effort
    }
    const cause = lastError ?? error;
    throw new UsageError(`--redis: cannot connect to ${shown} (${cause?.message ?? cause})`);
  }
  return { client, close };
}

/**
 * The store of a fleet run: `{ store, onStoreError, close() }` for
 * `new Limiter({ ..., store, onStoreError })`.
 */
export async function openFleetStore({ redis, redisPrefix, redisPolicy }) {
  const { client, close } = await connectClient(redis);
  const { RedisStore } = await import('weir-limiter/redis');
  const store = new RedisStore(client, { prefix: redisPrefix ?? 'weir:' });
  return {
    store,
    onStoreError: redisPolicy ?? 'closed',
    async close() {
      await store.close();
      await close();
    },
  };
}
