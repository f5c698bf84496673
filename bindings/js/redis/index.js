// The `weir-limiter/redis` entry: shared limits across processes on Redis /
// Valkey, for Node and Deno (edge runtimes have no Redis socket: workerd keeps
// the in-memory limiter).
export { RedisStore, StoreError } from './store.js';
