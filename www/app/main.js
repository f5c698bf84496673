// The page: controls and presets, one Run at a time, the live views, and
// `window.weirView` (the page's state, read by tests and by anyone curious).
//
// Invariants: one run at a time; the views redraw from the Recorder only
// (about 5 times a second, and once more when the run ends); in live mode the
// hosts' counters are reset when a run starts, so what the server reports is
// this run's alone.
import { PROFILES } from '../shared/profiles.js';
import { PRESETS } from './presets.js';
import { planOf } from './settings.js';
import { Recorder } from './recorder.js';
import { Run } from './run.js';
import { simulatedHosts } from './sim.js';
import { Views } from './views.js';

const $ = (id) => document.getElementById(id);
const form = $('form');

/** Where requests go: the local target server, or the simulated hosts. */
async function liveHosts() {
  try {
    const res = await fetch('/api/hosts', { cache: 'no-store' });
    if (!res.ok) return null;
    const hosts = await res.json();
    return {
      hosts,
      fetch: (input, init) => fetch(input, init),
      stats: () => fetch('/api/stats', { cache: 'no-store' }).then((r) => r.json()),
      reset: () => fetch('/api/reset', { method: 'POST' }).then((r) => r.json()),
    };
  } catch {
    return null;
  }
}

const live = await liveHosts();
const sim = simulatedHosts();
const simEnv = {
  hosts: sim.hosts,
  fetch: sim.fetch,
  stats: async () => sim.stats(),
  reset: async () => sim.reset(),
};

const view = {
  ready: false,
  mode: live ? 'live' : 'simulated',
  hosts: [],
  status: 'idle',
  preset: null,
  settings: null,
  plan: null,
  summary: null,
  perHost: [],
  server: null,
  errors: [],
  /** Admitted attempts (last 16,384): [ms since start, host index]. */
  admits: () => run?.rec.admits.toArray() ?? [],
  /** 429s seen by the page: [ms since start, host index]. */
  marks429: () => run?.rec.marks429.toArray() ?? [],
  /** 503s (shed by a host) seen by the page: [ms since start, host index]. */
  marks503: () => run?.rec.marks503.toArray() ?? [],
  /** Cooldowns seen in the limiter: [from ms, to ms, host index]. */
  cooldowns: () => run?.rec.cooldownList() ?? [],
  /**
   * The time series behind the charts, as drawn (seconds, one row a tick):
   * `series('t', 'limit')` → { t: [...], limit: [...] } (NaN = no value).
   */
  series: (...names) => {
    const s = run?.rec.series;
    if (!s) return null;
    return Object.fromEntries(names.map((k) => [k, Array.from(s.cols[k].subarray(0, s.n), (v) => (Number.isNaN(v) ? null : v))]));
  },
  /** The limiter's own figures now: { inFlight, queued, keys, … }. */
  limiterStats: () => run?.limiter.stats() ?? null,
  applyPreset: (id) => applyPreset(id),
  start: () => start(),
  stop: () => run?.stop(),
};
window.weirView = view;

let run = null;
let env = live ?? simEnv;
let serverStats = null;
const views = new Views({
  inflight: $('chart-inflight'),
  rate: $('chart-rate'),
  queue: $('chart-queue'),
  latency: $('chart-latency'),
  heap: performance.memory ? $('chart-heap') : null,
  limit: $('chart-limit'),
  rtt: $('chart-rtt'),
  adaptiveFigures: [$('limit-figure'), $('rtt-figure')],
  cards: $('cards'),
  table: $('host-table'),
});
if (!performance.memory) $('heap-figure').hidden = true;

function showMode() {
  const simulated = env === simEnv;
  view.mode = simulated ? 'simulated' : 'live';
  const badge = $('mode');
  badge.textContent = simulated ? 'SIMULATED — no server, timers stand in for requests' : 'live — real fetch to 127.0.0.1';
  badge.className = simulated ? 'badge sim' : 'badge live';
  form.elements.simulated.checked = simulated;
  form.elements.simulated.disabled = !live;
  view.hosts = env.hosts;
}

// ------------------------------------------------------------- the controls

const profileOf = (name) => PROFILES.find((p) => p.name === name);
const boxes = $('host-boxes');
for (const h of env.hosts) {
  const label = document.createElement('label');
  label.innerHTML = `<input type="checkbox" name="host" value="${h.name}"> <b>${h.name}</b> <small>${profileOf(h.name)?.about ?? ''}</small>`;
  boxes.append(label);
}

const FIELDS = ['requests', 'window', 'concurrency', 'perKey', 'rate', 'perKeyRate', 'retries'];
let weights = {};

function readForm() {
  const s = { hosts: [...form.querySelectorAll('input[name=host]:checked')].map((b) => b.value), weights };
  for (const f of FIELDS) s[f] = form.elements[f].value.trim();
  return s;
}

function writeForm(s) {
  for (const b of form.querySelectorAll('input[name=host]')) b.checked = s.hosts.includes(b.value);
  for (const f of FIELDS) form.elements[f].value = s[f] ?? '';
  weights = { ...(s.weights ?? {}) };
}

function applyPreset(id) {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) throw new RangeError(`unknown preset '${id}' (expected one of: ${PRESETS.map((x) => x.id).join(', ')})`);
  if (view.status === 'running') return false;
  writeForm(p.settings);
  view.preset = id;
  $('story').textContent = p.story;
  for (const b of $('presets').children) b.classList.toggle('on', b.dataset.id === id);
  return true;
}

for (const p of PRESETS) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = p.title;
  b.dataset.id = p.id;
  b.addEventListener('click', () => applyPreset(p.id));
  $('presets').append(b);
}
// Typing in the form makes the settings your own (the preset's host weights stay).
form.addEventListener('input', (e) => {
  if (e.target.name === 'simulated') return;
  view.preset = null;
  for (const b of $('presets').children) b.classList.remove('on');
});
// The caps apply at once to a run in progress (limiter.setLimits).
for (const name of ['concurrency', 'perKey']) {
  form.elements[name].addEventListener('change', () => {
    if (view.status !== 'running') return;
    try {
      const plan = planOf(readForm(), env.hosts.map((h) => h.name));
      const asked = run.setLimits({ concurrency: plan.limiter.concurrency, perKey: plan.limiter.perKey });
      views.plan = run.plan;
      view.plan = run.plan;
      $('error').textContent = asked ? '' : 'An adaptive (auto) cap is chosen when a run starts: this run keeps its own; the per-host cap applies now.';
    } catch (error) {
      $('error').textContent = error.message;
    }
  });
}
form.elements.simulated.addEventListener('change', () => {
  env = form.elements.simulated.checked || !live ? simEnv : live;
  showMode();
});

// ------------------------------------------------------------------ running

async function pollServer() {
  try {
    serverStats = await env.stats();
    view.server = serverStats;
  } catch (error) {
    view.errors.push(`stats: ${error}`);
  }
}

async function start() {
  if (view.status === 'running') return false;
  $('error').textContent = '';
  let plan;
  const settings = readForm();
  try {
    plan = planOf(settings, env.hosts.map((h) => h.name));
  } catch (error) {
    $('error').textContent = error.message;
    return false;
  }
  await env.reset();
  serverStats = null;
  const origins = plan.hosts.map((name) => env.hosts.find((h) => h.name === name).url);
  const recorder = new Recorder(plan.hosts, { profiles: plan.hosts.map(profileOf) });
  try {
    run = new Run(plan, { origins, fetch: env.fetch }, recorder);
  } catch (error) {
    $('error').textContent = error.message;
    return false;
  }
  Object.assign(view, { status: 'running', settings, plan, summary: null, server: null, progress: { done: 0, requests: plan.requests, attempts: 0 } });
  $('start').disabled = true;
  $('stop').disabled = false;
  views.reset(plan);
  render();
  const poll = setInterval(pollServer, 1000);
  const timer = setInterval(render, 200);
  const summary = await run.start();
  clearInterval(timer);
  clearInterval(poll);
  await pollServer();
  view.summary = summary;
  view.status = summary.state;
  if (summary.error) $('error').textContent = summary.error;
  render();
  $('start').disabled = false;
  $('stop').disabled = true;
  return true;
}

function render() {
  if (!run) return;
  const summary = run.summary();
  view.perHost = views.draw(run, summary, serverStats);
  view.progress = { done: summary.done, requests: summary.requests, attempts: summary.attempts };
  if (run.state !== 'running') view.summary = summary;
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  start().catch((error) => {
    $('error').textContent = String(error);
    view.errors.push(String(error?.stack ?? error));
  });
});
$('stop').addEventListener('click', () => run?.stop());
window.addEventListener('resize', () => render());

// On a narrow screen the settings fold away: the preset, Start and the charts come first.
if (window.matchMedia('(max-width: 900px)').matches) $('settings').open = false;
showMode();
applyPreset(PRESETS[0].id);
views.empty(PROFILES);
view.ready = true;
