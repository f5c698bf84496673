// bindings/js/lite-abort.js: the cheap abort controller weir hands to Node's own fetch.
// Node's fetch must really follow it (the request ends at the server), and
// weir must not hand it to any other fetch.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { LiteAbortController, acceptsLiteSignals, abortControllerFor } from '../../bindings/js/lite-abort.js';
import { targets, hostStats, until } from './helpers.mjs';

const [a] = await targets(1);
after(() => a.close());

/**
 * Does this Node's fetch take a third-party signal? Node 20 and 22's undici
 * do (it checks the shape); Node 24's requires a platform AbortSignal.
 * Asked of undici directly, not of lite-abort.js.
 */
function undiciTakesLiteSignals() {
  try {
    return new Request('http://127.0.0.1/', { signal: new LiteAbortController().signal }).signal !== undefined;
  } catch {
    return false;
  }
}
const TAKES_LITE = undiciTakesLiteSignals();
const NEEDS_LITE = TAKES_LITE ? false : `this Node's fetch (${process.version}) takes platform AbortSignals only`;

test("Node's fetch is recognised exactly when it takes a lite signal; wrappers and other functions are not", () => {
  assert.equal(acceptsLiteSignals(globalThis.fetch), TAKES_LITE);
  const wrapper = (input, init) => globalThis.fetch(input, init);
  assert.equal(acceptsLiteSignals(wrapper), false);
  assert.ok(abortControllerFor(wrapper) instanceof AbortController);
  const own = abortControllerFor(globalThis.fetch);
  assert.ok(TAKES_LITE ? own instanceof LiteAbortController : own instanceof AbortController);
  // The answer is per function, not remembered from the last one asked.
  assert.equal(acceptsLiteSignals(globalThis.fetch), TAKES_LITE);
});

test('the controller weir hands to this Node\'s fetch (lite or platform) ends the fetch at the server', async () => {
  const controller = abortControllerFor(globalThis.fetch);
  const reason = new Error('stop');
  const pending = fetch(`${a.url}/delay?ms=5000`, { signal: controller.signal });
  await until(() => hostStats(a).current === 1, 2_000, 'the request to reach the server');
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  await until(() => hostStats(a).current === 0, 2_000, 'the server to see the request end');
});

test('aborting ends an in-flight fetch at the server and rejects with the reason', { skip: NEEDS_LITE }, async () => {
  const controller = new LiteAbortController();
  const reason = new Error('stop');
  const pending = fetch(`${a.url}/delay?ms=5000`, { signal: controller.signal });
  await until(() => hostStats(a).current === 1, 2_000, 'the request to reach the server');
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  await until(() => hostStats(a).current === 0, 2_000, 'the server to see the request end');
  assert.equal(controller.signal.aborted, true);
  assert.equal(controller.signal.reason, reason);
});

test('an aborted signal fails the fetch at once; abort() twice keeps the first reason', { skip: NEEDS_LITE }, async () => {
  const controller = new LiteAbortController();
  controller.abort();
  const first = controller.signal.reason;
  assert.equal(first.name, 'AbortError');
  controller.abort(new Error('later'));
  assert.equal(controller.signal.reason, first);
  assert.throws(() => controller.signal.throwIfAborted(), (e) => e === first);
  await assert.rejects(fetch(`${a.url}/delay?ms=0`, { signal: controller.signal }), (e) => e === first);
});

test('listeners run once, with the signal as this, and can be removed', () => {
  const controller = new LiteAbortController();
  const signal = controller.signal;
  const seen = [];
  const kept = function () {
    seen.push(['kept', this === signal, signal.aborted]);
  };
  const removed = () => seen.push(['removed']);
  signal.addEventListener('abort', kept, { once: true });
  signal.addEventListener('abort', removed);
  signal.removeEventListener('abort', removed);
  signal.onabort = () => seen.push(['onabort']);
  controller.abort();
  controller.abort();
  assert.deepEqual(seen, [['kept', true, true], ['onabort']]);
});

test('a throwing listener does not stop the others; its error is rethrown later', () => {
  const controller = new LiteAbortController();
  const boom = new Error('listener failed');
  const seen = [];
  controller.signal.addEventListener('abort', () => {
    throw boom;
  });
  controller.signal.addEventListener('abort', () => seen.push('second'));
  const deferred = [];
  const realQueueMicrotask = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (fn) => deferred.push(fn);
  try {
    controller.abort();
  } finally {
    globalThis.queueMicrotask = realQueueMicrotask;
  }
  assert.deepEqual(seen, ['second']);
  assert.equal(deferred.length, 1);
  assert.throws(deferred[0], (e) => e === boom);
});
