// The public JS API, the same from every entry (index.js, node.js,
// workerd.js): each export lives in a module of its own.
export { Limiter } from './limiter.js';
export { limitedAsCompleted } from './limited-as-completed.js';
export { KeyedSemaphore } from './semaphore.js';
export { RateLimiter } from './rate.js';
export { guard, toNodeHandler } from './guard.js';
export { fetchKeyOf } from './fetch.js';
export { QueueFullError, TimeoutError, QueueTimeoutError, BodyTimeoutError } from './errors.js';
