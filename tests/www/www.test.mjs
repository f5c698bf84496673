// The live view in a real browser (Debian chromium via playwright-core), on
// the server `npm run www` starts: three presets are run through the page's
// own controls, then the page's exported state (window.weirView) and the
// simulated hosts' own counters are checked against the settings:
// per-host caps held at the hosts, no request sent into a Retry-After
// cooldown, admitted rates within the quotas (and not far below them), every
// request completed, no console error. Screenshots (mid-run and final) go to
// target/www-screens/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { maxInWindow } from '../../bindings/js/server/target.js';
import { startWww } from '../../www/server/www.js';
import { PRESETS } from '../../www/app/presets.js';
import { parseQuotas } from '../../www/app/settings.js';

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
const runs = {};

function presetOf(id) {
  const p = PRESETS.find((x) => x.id === id);
  assert.ok(p, `preset ${id} exists`);
  return p;
}

/** Run preset `id` through the page's buttons; screenshots mid-run and at the end. */
async function runPreset(id) {
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
  await page.waitForFunction(() => window.weirView.status !== 'running', null, { timeout: 60_000, polling: 100 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENS, `${id}-final.png`), fullPage: true });
  const state = await page.evaluate(() => {
    const v = window.weirView;
    return { status: v.status, summary: v.summary, perHost: v.perHost, plan: v.plan, admits: v.admits(), cooldowns: v.cooldowns() };
  });
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

before(async () => {
  mkdirSync(SCREENS, { recursive: true });
  www = await startWww();
  expected429.push(`${www.hosts.find((h) => h.name === 'limited').url}/`);
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
    problems.push(`console error: ${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(www.url);
  await page.waitForFunction(() => window.weirView?.ready === true, null, { timeout: 20_000 });
  runs['retry-after'] = await runPreset('retry-after');
  runs.quota = await runPreset('quota');
  runs.bursts = await runPreset('bursts');
  runs.live = await changeCapsThenStop();
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
