// The contenders of bench/js/tasks.mjs. Each one maps N trivial async tasks
// (`async (i) => i`) with at most CONCURRENCY in flight and returns the sum of
// the results, so that a contender that drops or repeats work is caught.
// Imports are lazy: a child process loads only the library it measures.

export const CONCURRENCY = 100;

/** The task every contender runs. */
export const task = async (i) => i;

/** The lazy source used by the iterable contenders. */
export function* range(n) {
  for (let i = 0; i < n; i += 1) yield i;
}

/**
 * The module each contender imports. The harness imports it before it starts
 * the clock (and reports how long that took), so that tasks/s is the rate of
 * the tasks, not of module loading: weir's import, which compiles its wasm,
 * takes ~20 ms, a tenth of a 1 M-task run.
 */
export const modules = {
  'p-map': 'p-map',
  'p-limit': 'p-limit',
  'async-sema': 'async-sema',
  'p-queue': 'p-queue',
  bottleneck: 'bottleneck',
  'weir limitedAsCompleted': 'weir-limiter',
  'weir limitedAsCompleted ordered': 'weir-limiter',
  'weir limiter.run': 'weir-limiter',
};

export const contenders = {
  /** Hand-written pool: CONCURRENCY workers pulling from a shared counter. */
  async pool(n) {
    let next = 0;
    let sum = 0;
    const worker = async () => {
      while (next < n) {
        const i = next;
        next += 1;
        const v = await task(i); // not `sum += await`: that reads sum before the await
        sum += v;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return sum;
  },

  /** p-map's lazy `pMapIterable` over a generator. */
  async 'p-map'(n) {
    const { pMapIterable } = await import('p-map');
    let sum = 0;
    for await (const v of pMapIterable(range(n), task, { concurrency: CONCURRENCY })) sum += v;
    return sum;
  },

  /** p-limit, submitted eagerly: N calls, then Promise.all. */
  async 'p-limit'(n) {
    const { default: pLimit } = await import('p-limit');
    const limit = pLimit(CONCURRENCY);
    const all = new Array(n);
    for (let i = 0; i < n; i += 1) all[i] = limit(task, i);
    return sum(await Promise.all(all));
  },

  /** async-sema, submitted eagerly: acquire, run, release per task. */
  async 'async-sema'(n) {
    const { Sema } = await import('async-sema');
    const sema = new Sema(CONCURRENCY);
    const one = async (i) => {
      await sema.acquire();
      try {
        return await task(i);
      } finally {
        sema.release();
      }
    };
    const all = new Array(n);
    for (let i = 0; i < n; i += 1) all[i] = one(i);
    return sum(await Promise.all(all));
  },

  /** p-queue, submitted eagerly. */
  async 'p-queue'(n) {
    const { default: PQueue } = await import('p-queue');
    const queue = new PQueue({ concurrency: CONCURRENCY });
    const all = new Array(n);
    for (let i = 0; i < n; i += 1) all[i] = queue.add(() => task(i));
    return sum(await Promise.all(all));
  },

  /** bottleneck (maxConcurrent only), submitted eagerly. */
  async bottleneck(n) {
    const { default: Bottleneck } = await import('bottleneck');
    const limiter = new Bottleneck({ maxConcurrent: CONCURRENCY });
    const all = new Array(n);
    for (let i = 0; i < n; i += 1) all[i] = limiter.schedule(task, i);
    return sum(await Promise.all(all));
  },

  /** weir's lazy `limitedAsCompleted` over a generator. */
  async 'weir limitedAsCompleted'(n) {
    const { limitedAsCompleted } = await import('weir-limiter');
    let sum = 0;
    for await (const v of limitedAsCompleted(range(n), task, { concurrency: CONCURRENCY, failFast: true })) sum += v;
    return sum;
  },

  /** weir's `limitedAsCompleted` in input order (as p-map's `pMapIterable` yields). */
  async 'weir limitedAsCompleted ordered'(n) {
    const { limitedAsCompleted } = await import('weir-limiter');
    let sum = 0;
    for await (const v of limitedAsCompleted(range(n), task, { concurrency: CONCURRENCY, ordered: true, failFast: true })) sum += v;
    return sum;
  },

  /** weir's `limiter.run`, submitted eagerly like p-limit. */
  async 'weir limiter.run'(n) {
    const { Limiter } = await import('weir-limiter');
    const limiter = new Limiter({ concurrency: CONCURRENCY });
    const all = new Array(n);
    for (let i = 0; i < n; i += 1) all[i] = limiter.run(() => task(i));
    return sum(await Promise.all(all));
  },
};

function sum(values) {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
