// The live view's adaptive-cap parts, without a browser: the host whose
// capacity steps (and sheds 503 past twice it), the `auto …` syntax of the
// concurrency field, the recorder's adaptive columns and capacity line, and
// a Run's caps changed while it runs with an adaptive cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostModel } from '../../www/shared/host-model.js';
import { kneeAt, profileOf, sampleLatency } from '../../www/shared/profiles.js';
import { adaptiveOf, parseConcurrency, planOf } from '../../www/app/settings.js';
import { Recorder } from '../../www/app/recorder.js';
import { Run } from '../../www/app/run.js';

const shifting = profileOf('shifting');
/** Uniform draws that make the Box–Muller normal 0: every latency is the median. */
const medianDraws = () => {
  let i = 0;
  return () => (i++ % 2 === 0 ? 0.5 : 0.25);
};

test('profiles: a knee that steps is a function of the time since the first request', () => {
  assert.equal(kneeAt(profileOf('knee'), 123_456), 3, 'a fixed knee');
  assert.equal(kneeAt(profileOf('api'), 0), undefined, 'no knee');
  const every = shifting.knee.every;
  assert.deepEqual(
    [0, every - 1, every, 2 * every - 1, 2 * every, 5 * every + 1, -5].map((ms) => kneeAt(shifting, ms)),
    [5, 5, 2, 2, 5, 2, 5],
  );
});

test('profiles: latency past the knee of the moment grows by (inFlight/knee)^1.5', () => {
  const at5 = sampleLatency(shifting, 4, medianDraws(), 5);
  const at2 = sampleLatency(shifting, 4, medianDraws(), 2);
  assert.ok(Math.abs(at5 - 40) < 1, `4 in flight under a knee of 5: the median, got ${at5}`);
  assert.ok(Math.abs(at2 / at5 - 2 ** 1.5) < 1e-9, `(4/2)^1.5 slower past a knee of 2, got ${at2 / at5}`);
});

test('host model: the capacity steps from the first arrival after a reset; 503 past twice it', () => {
  const host = new HostModel(shifting, { random: medianDraws() });
  const every = shifting.knee.every;
  // First request at 1 s on the server's clock: the cycle starts there.
  const first = host.arrive(1000);
  assert.equal(first.status, 200);
  assert.deepEqual([host.stats().since, host.stats().knee], [1000, 5]);
  // With the first still in flight: 10 at once is 2 × 5, still served; the 11th is shed at once.
  const answers = [];
  for (let i = 0; i < 10; i++) answers.push(host.arrive(1000 + every - 1));
  assert.deepEqual(answers.map((a) => a.status), [...new Array(9).fill(200), 503]);
  assert.equal(answers[9].delayMs, 0);
  for (const a of answers) host.leave(a.status, a.epoch);
  host.leave(200, first.epoch);
  // One step later the knee is 2: the 5th at once is shed.
  const later = [];
  for (let i = 0; i < 5; i++) later.push(host.arrive(1000 + every));
  assert.equal(host.stats().knee, 2);
  assert.deepEqual(later.map((a) => a.status), [200, 200, 200, 200, 503]);
  // Past its knee the latency grows: 4 in flight at a knee of 2.
  assert.ok(Math.abs(later[3].delayMs / answers[3].delayMs - (4 / 2) ** 1.5) < 1e-9);
  for (const a of later) host.leave(a.status, a.epoch);
  const s = host.stats();
  assert.deepEqual(s.statuses, { 200: 14, 503: 2 });
  assert.equal(s.current, 0);
  // A reset starts the cycle again at the next first request.
  host.reset();
  host.arrive(50_000);
  assert.deepEqual([host.stats().since, host.stats().knee], [50_000, 5]);
});

test('settings: the concurrency field takes a number, nothing, or auto [gradient|aimd] [min|max|initial N]', () => {
  assert.equal(parseConcurrency('12'), 12);
  assert.equal(parseConcurrency(''), undefined);
  assert.deepEqual(parseConcurrency('auto'), { adaptive: {} });
  assert.deepEqual(parseConcurrency(' Auto  AIMD max 40 initial 1 min 2 '), { adaptive: { algorithm: 'aimd', max: 40, initial: 1, min: 2 } });
  assert.deepEqual(parseConcurrency('auto gradient'), { adaptive: { algorithm: 'gradient' } });
  assert.throws(() => parseConcurrency('auto fast'), { name: 'RangeError', message: /global concurrency: unknown word 'fast'/ });
  assert.throws(() => parseConcurrency('auto max'), /'max' needs a number/);
  assert.throws(() => parseConcurrency('auto max 0'), /global concurrency max: expected a whole number >= 1, got '0'/);
  assert.throws(() => parseConcurrency('auto min 5 max 2'), /min 5 is above max 2/);
  assert.throws(() => parseConcurrency('auto aimd gradient'), /two algorithms/);
  assert.throws(() => parseConcurrency('auto max 3 max 4'), /'max' given twice/);
  assert.throws(() => parseConcurrency('0'), /global concurrency: expected a whole number >= 1/);
  const plan = planOf({ hosts: ['shifting'], requests: 10, window: 5, concurrency: 'auto initial 1', perKey: '', retries: 0 }, ['shifting']);
  assert.deepEqual(plan.limiter, { concurrency: { adaptive: { initial: 1 } } });
  assert.deepEqual(adaptiveOf(plan.limiter), { initial: 1 });
  assert.equal(adaptiveOf({ concurrency: 4 }), undefined);
});

test('recorder: the adaptive figures and the hosts\' capacity are columns of every tick', () => {
  const rec = new Recorder(['shifting', 'knee'], { profiles: [shifting, profileOf('knee')] });
  const hostStats = [undefined, undefined];
  const base = { inFlight: 0, queued: 0, keys: 0, rateKeys: 0, perKey: Infinity };
  rec.tick({ ...base, concurrency: 4 }, hostStats);
  rec.tick({ ...base, concurrency: 3, adaptive: { limit: 3, minRtt: 41.5, sampleRtt: 60, gradient: 0.75 } }, hostStats);
  rec.tick({ ...base, concurrency: 6, adaptive: { limit: 6, minRtt: 41, sampleRtt: NaN, gradient: 1 } }, hostStats);
  const col = (k) => Array.from(rec.series.cols[k].subarray(0, rec.series.n));
  assert.deepEqual(col('limit'), [NaN, 3, 6]);
  assert.deepEqual(col('cap'), [4, 3, 6]);
  assert.deepEqual(col('minRtt'), [NaN, 41.5, 41]);
  assert.deepEqual(col('sampleRtt'), [NaN, 60, NaN]);
  assert.deepEqual(col('gradient'), [NaN, 0.75, 1]);
  assert.equal(rec.limitMean, 4.5, 'the mean of the ticks that had a limit');
  // Capacity: shifting's knee (timed from its first admit) + knee's 3.
  assert.deepEqual(col('capacity'), [8, 8, 8]);
  rec.admit(0);
  const first = rec.firstAdmit[0];
  const every = shifting.knee.every;
  assert.deepEqual([rec.capacityAt(first + every - 1), rec.capacityAt(first + every), rec.capacityAt(first + 2 * every)], [8, 5, 8]);
  const none = new Recorder(['shifting', 'api'], { profiles: [shifting, profileOf('api')] });
  assert.ok(Number.isNaN(none.capacityAt(0)), 'a host with no knee: no capacity line');
});

test('run: with an adaptive cap only the per-host cap changes while it runs', () => {
  const plan = planOf({ hosts: ['api'], requests: 10, window: 5, concurrency: 'auto initial 3 max 9', perKey: 4, retries: 0 }, ['api']);
  const run = new Run(plan, { origins: ['http://127.0.0.1:9'], fetch }, new Recorder(plan.hosts));
  assert.equal(run.limiter.stats().adaptive.limit, 3);
  assert.equal(run.setLimits({ concurrency: 2, perKey: 1 }), false, 'a fixed number asked for: not as asked');
  let s = run.limiter.stats();
  assert.deepEqual([s.perKey, s.adaptive.limit, s.concurrency], [1, 3, 3], 'the adaptive cap stays');
  assert.deepEqual(run.plan.limiter, { concurrency: { adaptive: { initial: 3, max: 9 } }, perKey: 1 });
  assert.equal(run.setLimits({ concurrency: { adaptive: {} }, perKey: 2 }), true);
  assert.equal(run.limiter.stats().perKey, 2);
  // A fixed-cap run asked for "auto" keeps its fixed cap.
  const fixedPlan = planOf({ hosts: ['api'], requests: 10, window: 5, concurrency: 6, perKey: 4, retries: 0 }, ['api']);
  const fixedRun = new Run(fixedPlan, { origins: ['http://127.0.0.1:9'], fetch }, new Recorder(fixedPlan.hosts));
  assert.equal(fixedRun.setLimits({ concurrency: { adaptive: {} }, perKey: 3 }), false);
  s = fixedRun.limiter.stats();
  assert.deepEqual([s.concurrency, s.perKey, s.adaptive], [6, 3, undefined]);
  assert.equal(fixedRun.setLimits({ concurrency: 8, perKey: 3 }), true);
  assert.equal(fixedRun.limiter.stats().concurrency, 8);
});
