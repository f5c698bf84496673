// The live view in a real browser (Debian chromium via playwright-core), on
// the server `npm run www` starts: four presets are run through the page's
// own controls, then the page's exported state (window.weirView) and the
// simulated hosts' own counters are checked against the settings:
// per-host caps held at the hosts, no request sent into a Retry-After
// cooldown, admitted rates within the quotas (and not far below them), an
// adaptive limit charted as it finds a host's changing capacity, every
// request completed, no console error. Screenshots (mid-run and final) go to
// target/www-screens/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { maxInWindow } from '../../bindings/js/server/target.js';
import { startWww } from '../../www/server/www.js';
import { PRESETS } from '../../www/app/presets.js';
import { parseQuotas } from '../../www/app/settings.js';
import { profileOf } from '../../www/shared/profiles.js';
import { LIMIT_COLOR } from '../../www/app/views.js';

const SCREENS = fileURLToPath(new URL('../../target/www-screens/', import.meta.url));
// A request the client sent before the 429 reached it may still land in the
// host's cooldown, a little after the 429 left; anything later was sent into it.
const ON_THE_WIRE_MS = 100;
// Arrival times at a host may bunch by scheduling delays on a loaded machine.
const JITTER_MS = 100;

let www;
let context;
let page;
let profile;
const problems = [];
const expected429 = [];
const expected503 = [];
const runs = {};

function presetOf(id) {
  const p = PRESETS.find((x) => x.id === id);
  assert.ok(p, `preset ${id} exists`);
  return p;
}

/**
 * Run preset `id` through the page's buttons; screenshots mid-run and at the
 * end. With `stopAt` (s), press Stop once the run is that old (if still running).
 */
async function runPreset(id, { stopAt } = {}) {
  const preset = presetOf(id);
  await page.click(`#presets button[data-id="${id}"]`);
  await page.click('#start');
  await page.waitForFunction(() => window.weirView.status === 'running', null, { timeout: 10_000 });
  const half = Math.floor(preset.settings.requests / 2);
  await page.waitForFunction((n) => (window.weirView.progress?.done ?? 0) >= n || window.weirView.status !== 'running', half, {
    timeout: 60_000,
    polling: 100,
  });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENS, `${id}-mid.png`) });
  if (stopAt !== undefined) {
    await page.waitForFunction((s) => window.weirView.status !== 'running' || (window.weirView.summary?.seconds ?? window.weirView.series('t').t.at(-1) ?? 0) >= s, stopAt, {
      timeout: 60_000,
      polling: 100,
    });
    await page.evaluate(() => window.weirView.stop());
  }
  await page.waitForFunction(() => window.weirView.status !== 'running', null, { timeout: 60_000, polling: 100 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENS, `${id}-final.png`), fullPage: true });
  const state = await page.evaluate((limitColor) => {
    const v = window.weirView;
    const limitFigure = document.getElementById('limit-figure');
    return {
      status: v.status, summary: v.summary, perHost: v.perHost, plan: v.plan, admits: v.admits(), cooldowns: v.cooldowns(),
      series: v.series('t', 'limit', 'capacity', 'inFlight', 'minRtt', 'sampleRtt', 'gradient', 'cap'),
      limiter: v.limiterStats(),
      marks503: v.marks503(),
      adaptiveShown: !limitFigure.hidden && !document.getElementById('rtt-figure').hidden,
      limitLegend: limitFigure.querySelector('.legend').textContent,
      // Pixels of the adaptive limit's colour on its canvas: the line was drawn.
      limitPixels: (() => {
        const canvas = limitFigure.querySelector('canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const [r, g, b] = [1, 3, 5].map((i) => parseInt(limitColor.slice(i, i + 2), 16));
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) n += 1;
        return n;
      })(),
    };
  }, LIMIT_COLOR);
  return { preset, state, server: www.stats() };
}

/**
 * Start "slow-host", lower the per-host cap to 1 while it runs (the form's
 * field applies it with limiter.setLimits), count at the hosts from then on,
 * then press Stop.
 */
async function changeCapsThenStop() {
  await page.click('#presets button[data-id="slow-host"]');
  await page.click('#start');
  await page.waitForFunction(() => (window.weirView.progress?.done ?? 0) >= 40, null, { timeout: 30_000, polling: 50 });
  await page.fill('[name=perKey]', '1');
  await page.dispatchEvent('[name=perKey]', 'change');
  // What arrived before the change may still be at the hosts: count afresh.
  www.reset();
  await page.waitForTimeout(2500);
  const server = www.stats();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENS, 'slow-host-cap-lowered.png') });
  await page.click('#stop');
  await page.waitForFunction(() => window.weirView.status !== 'running', null, { timeout: 10_000, polling: 50 });
  const state = await page.evaluate(() => {
    const v = window.weirView;
    return { status: v.status, summary: v.summary, plan: v.plan, limiter: v.limiterStats() };
  });
  return { server, state };
}

/**
 * The adaptive preset with "auto aimd" typed into the concurrency field and
 * 250 requests: AIMD ignores latency, so it climbs past the capacity (5)
 * until the host sheds 503s (past 10 at once) or the browser holds the rest.
 */
async function runAimd() {
  await page.click('#presets button[data-id="adaptive"]');
  await page.fill('[name=concurrency]', 'auto aimd initial 1 max 40');
  await page.fill('[name=requests]', '250');
  await page.click('#start');
  await page.waitForFunction(() => window.weirView.status === 'running', null, { timeout: 10_000 });
  await page.waitForFunction(() => window.weirView.status !== 'running', null, { timeout: 60_000, polling: 100 });
  return page.evaluate(() => {
    const v = window.weirView;
    return {
      status: v.status, summary: v.summary, plan: v.plan, series: v.series('t', 'limit', 'capacity'), limiter: v.limiterStats(),
      limitLegend: document.querySelector('#limit-figure .legend').textContent,
    };
  });
}

before(async () => {
  mkdirSync(SCREENS, { recursive: true });
  www = await startWww();
  expected429.push(`${www.hosts.find((h) => h.name === 'limited').url}/`);
  expected503.push(`${www.hosts.find((h) => h.name === 'shifting').url}/`);
  profile = mkdtempSync(join(tmpdir(), 'weir-www-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // A 429 from the host that answers 429 is the browser logging a status,
    // not the page failing: that one is expected.
    const where = m.location()?.url ?? '';
    if (/status of 429/.test(m.text()) && expected429.some((u) => where.startsWith(u))) return;
    // So is a 503 from the host that sheds load past twice its capacity.
    if (/status of 503/.test(m.text()) && expected503.some((u) => where.startsWith(u))) return;
    problems.push(`console error: ${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(www.url);
  await page.waitForFunction(() => window.weirView?.ready === true, null, { timeout: 20_000 });
  runs['retry-after'] = await runPreset('retry-after');
  runs.quota = await runPreset('quota');
  runs.bursts = await runPreset('bursts');
  runs.live = await changeCapsThenStop();
  runs.adaptive = await runPreset('adaptive', { stopAt: (2 * profileOf('shifting').knee.every) / 1000 + 4 });
  runs.aimd = await runAimd();
  // The adaptive run's series, for a person to look at beside its screenshots.
  writeFileSync(join(SCREENS, 'adaptive-series.json'), JSON.stringify(runs.adaptive.state.series));
  problems.push(...(await page.evaluate(() => window.weirView.errors)).map((e) => `weirView.errors: ${e}`));
  // Phone width: the page lays out in one column and still draws.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENS, 'phone.png'), fullPage: true });
});

after(async () => {
  await context?.close();
  await www?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Every request completed: as many outcomes as requests, each one counted once. */
function assertAllCompleted({ preset, state }) {
  const s = state.summary;
  assert.equal(state.status, 'done', `run ${preset.id} ended as ${state.status}: ${s?.error ?? ''}`);
  assert.equal(s.done, preset.settings.requests, 'one outcome per request');
  const finals = Object.values(s.finalStatuses).reduce((a, b) => a + b, 0);
  const errors = Object.values(s.errors).reduce((a, b) => a + b, 0);
  assert.equal(s.ok + finals + errors, s.done, 'ok + final statuses + errors = outcomes');
  assert.deepEqual(s.errors, {}, 'no request ended in an error');
}

/** The caps held where it counts, at the hosts; and the page agrees with the hosts. */
function assertCapsHeld({ preset, state, server }) {
  const perKey = preset.settings.perKey;
  for (const h of state.perHost) {
    const at = server.hosts[h.name];
    assert.ok(at.total > 0, `${h.name} got requests`);
    assert.ok(at.maxConcurrent <= perKey, `${h.name}: ${at.maxConcurrent} at once at the host, cap ${perKey}`);
    assert.ok(h.peak <= perKey, `${h.name}: ${h.peak} in flight in the page, cap ${perKey}`);
    assert.equal(at.total, h.admits, `${h.name}: the host saw every attempt the page admitted, and no other`);
  }
  const global = preset.settings.concurrency;
  assert.ok(server.total.maxConcurrent <= global, `${server.total.maxConcurrent} at once at all hosts together, global cap ${global}`);
  assert.ok(server.total.maxConcurrent >= Math.min(global, perKey), 'the run did fill its permits');
}

/** In every window w (ms): count ≤ burst + rate·(w + slack) for each quota. */
function assertWithinQuotas(times, quotas, slackMs, what) {
  const sorted = [...times].sort((a, b) => a - b);
  for (const q of quotas) {
    const burst = q.burst ?? q.limit;
    for (const w of [50, 100, 250, 500, 1000, 2000, 5000, 10_000]) {
      const seen = maxInWindow(sorted, w);
      const allowed = burst + (q.limit * (w + slackMs)) / q.interval;
      assert.ok(seen <= allowed, `${what}: ${seen} in ${w} ms, quota ${q.limit}/${q.interval} ms burst ${burst} allows ${allowed.toFixed(1)}`);
    }
  }
}

test('www: the page loaded the package and ran with no console or page error', () => {
  assert.deepEqual(problems, []);
});

test('www retry-after: every request completed; caps held at the hosts', () => {
  const run = runs['retry-after'];
  assertAllCompleted(run);
  assertCapsHeld(run);
});

test('www retry-after: the 429 host got no request during its cooldowns but what was on the wire', () => {
  const { preset, state, server } = runs['retry-after'];
  const limited = server.hosts.limited;
  assert.ok(limited.cooldowns.length >= 1, 'the host answered 429 and cooled down at least once');
  assert.ok(limited.statuses[429] >= limited.cooldowns.length);
  for (const offset of limited.cooldownOffsets) {
    assert.ok(offset <= ON_THE_WIRE_MS, `a request reached the host ${offset.toFixed(1)} ms into a ${limited.cooldowns[0][1] - limited.cooldowns[0][0]} ms cooldown`);
  }
  // At most the other permits of the host were on the wire when a 429 left.
  assert.ok(limited.cooldownArrivals <= (preset.settings.perKey - 1) * limited.cooldowns.length);
  // The limiter saw the cooldowns (the page drew them) ...
  const limitedIndex = state.plan.hosts.indexOf('limited');
  assert.ok(state.cooldowns.some(([, , h]) => h === limitedIndex), 'the page recorded a cooldown for limited');
  // ... and only for that host: the others went on.
  for (const h of state.perHost.filter((x) => x.name !== 'limited')) {
    assert.equal(h.status429, 0);
    assert.equal(server.hosts[h.name].statuses[200], h.admits, `${h.name}: every attempt answered 200`);
    assert.ok(!state.cooldowns.some(([, , i]) => state.plan.hosts[i] === h.name), `${h.name} never paused`);
  }
});

test('www quota: a per-host quota under the host\'s limit: no 429, rates within the quota and close to it', () => {
  const run = runs.quota;
  assertAllCompleted(run);
  assertCapsHeld(run);
  const { preset, state, server } = run;
  const quotas = parseQuotas(preset.settings.perKeyRate);
  assert.equal(state.summary.status429, 0, 'no 429: the quota kept the limited host under its limit');
  for (const name of preset.settings.hosts) {
    const at = server.hosts[name];
    assert.deepEqual(Object.keys(at.statuses), ['200']);
    assertWithinQuotas(at.arrivals, quotas, JITTER_MS, `${name} at the host`);
    const h = state.plan.hosts.indexOf(name);
    const admitted = state.admits.filter(([, i]) => i === h).map(([t]) => t);
    assertWithinQuotas(admitted, quotas, JITTER_MS / 4, `${name} admitted by the page`);
  }
  // Not far below the quota either: n requests per host at rate r, burst b,
  // take (n − b)/r; the run must not take much longer.
  const q = quotas[0];
  const perHost = preset.settings.requests / preset.settings.hosts.length;
  const floor = (((perHost - q.burst) / q.limit) * q.interval) / 1000;
  assert.ok(state.summary.seconds >= floor * 0.95, `${state.summary.seconds.toFixed(2)} s, quota allows no less than ${floor.toFixed(2)} s`);
  assert.ok(state.summary.seconds <= floor * 1.5 + 1, `${state.summary.seconds.toFixed(2)} s, quota would allow ${floor.toFixed(2)} s`);
});

test('www bursts: two global quotas at once hold the admitted rate, at the hosts and in the page', () => {
  const run = runs.bursts;
  assertAllCompleted(run);
  assertCapsHeld(run);
  const { preset, state, server } = run;
  const quotas = parseQuotas(preset.settings.rate);
  assert.equal(quotas.length, 2);
  const arrivals = preset.settings.hosts.flatMap((name) => server.hosts[name].arrivals);
  assertWithinQuotas(arrivals, quotas, JITTER_MS, 'all hosts, at the hosts');
  assertWithinQuotas(state.admits.map(([t]) => t), quotas, JITTER_MS / 4, 'all hosts, admitted by the page');
  // The bursts let well over the steady rate (20/s) through in the first
  // second (the quotas allow up to 60 there, a steady 20/s would give ~20).
  const admits = state.admits.map(([t]) => t).sort((a, b) => a - b);
  const steady = Math.min(...quotas.map((q) => (q.limit * 1000) / q.interval));
  const firstSecond = admits.filter((t) => t < admits[0] + 1000).length;
  assert.ok(firstSecond >= 1.5 * steady, `${firstSecond} admitted in the first second, steady rate ${steady}/s`);
  // Then the run is held to the tighter long-run rate (20/s): the bound and
  // the achieved rate agree.
  assert.ok(state.summary.ofBound > 0.8 && state.summary.ofBound <= 1.05, `achieved/bound = ${state.summary.ofBound}`);
});

test('www live caps: a per-host cap lowered while it runs holds at the hosts; Stop ends the run with nothing left', () => {
  const { server, state } = runs.live;
  assert.equal(state.plan.limiter.perKey, 1, 'the page applied the new cap');
  const arrived = Object.values(server.hosts).reduce((a, h) => a + h.total, 0);
  assert.ok(arrived > 5, `requests went on after the change (${arrived})`);
  for (const [name, h] of Object.entries(server.hosts)) {
    assert.ok(h.maxConcurrent <= 1, `${name}: ${h.maxConcurrent} at once after the cap went down to 1`);
  }
  assert.equal(state.status, 'stopped');
  assert.ok(state.summary.done < state.summary.requests, 'stopped before the end');
  assert.deepEqual([state.limiter.inFlight, state.limiter.queued], [0, 0], 'no permit held, nobody waiting');
});

/** The values of `series[name]` at times in [from, to) s (nulls dropped). */
function during(series, name, from, to) {
  const out = [];
  for (let i = 0; i < series.t.length; i++) if (series.t[i] >= from && series.t[i] < to && series[name][i] !== null) out.push(series[name][i]);
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

test('www adaptive: the chart receives the adaptive limit from limiter.stats() every tick', () => {
  const run = runs.adaptive;
  const { state } = run;
  if (state.status === 'done') assertAllCompleted(run);
  else {
    // Stopped after the third step began: nothing failed, nothing left held or queued.
    assert.equal(state.status, 'stopped', state.summary?.error ?? '');
    assert.ok(Object.keys(state.summary.errors).every((name) => name === 'AbortError'), JSON.stringify(state.summary.errors));
    assert.deepEqual([state.limiter.inFlight, state.limiter.queued], [0, 0]);
  }
  assert.ok(state.adaptiveShown, 'the adaptive charts are shown for an adaptive run');
  assert.match(state.limitLegend, /adaptive limit \(gradient\)/);
  assert.match(state.limitLegend, /host capacity/);
  assert.ok(state.limitPixels > 50, `the limit line is drawn on its canvas (${state.limitPixels} px of its colour)`);
  const { series, limiter } = state;
  const n = series.t.length;
  assert.ok(n > 50, `${n} ticks sampled`);
  // Every tick has a limit, a whole number within the preset's [1, 40], and
  // it is the cap in force (stats().concurrency) of the same tick.
  for (let i = 0; i < n; i++) {
    const limit = series.limit[i];
    assert.ok(Number.isInteger(limit) && limit >= 1 && limit <= 40, `tick ${i}: limit ${limit}`);
    assert.equal(series.cap[i], limit, `tick ${i}: the global cap line is the adaptive limit`);
  }
  // The last tick sampled the limiter after the run: the same figures it reports now.
  assert.equal(series.limit[n - 1], limiter.adaptive.limit);
  assert.equal(series.minRtt[n - 1], limiter.adaptive.minRtt);
  assert.equal(series.sampleRtt[n - 1], limiter.adaptive.sampleRtt);
  // It started where the preset starts it (initial 1) and did not stay there.
  assert.equal(series.limit[0], 1, 'initial 1');
  assert.ok(new Set(series.limit).size >= 3, `the limit moved: ${[...new Set(series.limit)]}`);
  // The RTTs: minRTT measured (the host's no-queue ~40 ms, plus the trip), sampleRTT never below it for long.
  const base = series.minRtt[n - 1];
  assert.ok(base > 25 && base < 90, `minRTT ${base} ms for a ~40 ms host`);
  const gradients = series.gradient.filter((g) => g !== null);
  assert.ok(gradients.every((g) => g >= 0.5 && g <= 1), 'gradient within [0.5, 1]');
  assert.ok(gradients.some((g) => g < 1), 'some window saw queueing (gradient < 1)');
});

test('www adaptive: the limit finds the host\'s capacity, follows it down (5 → 2) and back up', () => {
  const { state, server } = runs.adaptive;
  const { series } = state;
  const shifting = profileOf('shifting');
  const every = shifting.knee.every / 1000;
  // The capacity line is the host's own schedule (5, 2, 5 …, every 4 s from its first request).
  assert.deepEqual([...new Set(series.capacity)].sort(), [2, 5]);
  const end = series.t[series.t.length - 1];
  assert.ok(end > 2 * every + 1, `the run reached the third step (${end.toFixed(1)} s)`);
  // Step 1 (capacity 5): from 1 up to the capacity, and held near it (not at the max, 40).
  const first = during(series, 'limit', 0, every);
  assert.ok(Math.max(...first) >= 5, `limit reached the capacity 5: max ${Math.max(...first)}`);
  const firstLate = median(during(series, 'limit', every / 2, every));
  assert.ok(firstLate >= 4 && firstLate <= 9, `late in step 1 (capacity 5) the limit's median is ${firstLate}`);
  // Step 2 (capacity 2): down to it.
  const secondLate = median(during(series, 'limit', every * 1.5, every * 2));
  assert.ok(secondLate >= 1 && secondLate <= 4, `late in step 2 (capacity 2) the limit's median is ${secondLate}`);
  assert.ok(secondLate < firstLate, `lower at capacity 2 (${secondLate}) than at 5 (${firstLate})`);
  // Step 3 (capacity 5 again): back up.
  const third = during(series, 'limit', every * 2, end);
  assert.ok(Math.max(...third) >= 5, `climbed back to the capacity 5: max ${Math.max(...third)}`);
  // The host never had more than its shedding point (2 × 5) at once; every
  // 503 it shed is marked on the page's timeline (and counted in its table).
  assert.ok(server.hosts.shifting.maxConcurrent <= 10);
  const shed = server.hosts.shifting.statuses[503] ?? 0;
  assert.equal(state.marks503.length, shed, `503s marked ${state.marks503.length}, shed by the host ${shed}`);
  assert.equal(state.perHost[0].status503, shed);
});

test('www: a run with a fixed cap hides the adaptive charts', () => {
  for (const id of ['retry-after', 'quota', 'bursts']) {
    const { state } = runs[id];
    assert.equal(state.adaptiveShown, false, id);
    assert.ok(state.series.limit.every((v) => v === null), `${id}: no adaptive limit sampled`);
    assert.equal(state.limiter.adaptive, undefined);
  }
});

test('www adaptive: "auto aimd" typed in the form runs AIMD, which climbs past a capacity it cannot see in latency', () => {
  const { status, summary, plan, series, limiter, limitLegend } = runs.aimd;
  assert.equal(status, 'done', summary?.error ?? '');
  assert.equal(summary.done, 250);
  assert.deepEqual(plan.limiter.concurrency, { adaptive: { algorithm: 'aimd', initial: 1, max: 40 } });
  assert.match(limitLegend, /adaptive limit \(aimd\)/);
  assert.ok(series.limit[0] <= 2, `from initial 1 (+1 a sample at 1): ${series.limit[0]} at the first tick`);
  assert.equal(series.limit[series.limit.length - 1], limiter.adaptive.limit);
  // The gradient preset above holds near 5 in the same step; AIMD goes on growing.
  const peak = Math.max(...series.limit);
  assert.ok(peak > 2 * 5, `AIMD's limit reached ${peak}, past twice the capacity 5`);
  assert.ok(series.capacity.every((c) => c === 5), 'all of it within the first step (capacity 5)');
});
