// workerd: serves tests/guard/workerd-worker.js with the package as a bundler
// hands it over ("workerd" condition, the .wasm as a wasm module) on
// 127.0.0.1, runs the host-neutral guard cases inside it, then checks the
// guard over real HTTP: keyed by CF-Connecting-IP, 429 + Retry-After, the
// permit held while the body streams and returned when the client cancels.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guardCases } from './cases.js';
import { resolveExport } from '../hosts/resolve.js';
import { freePort } from '../hosts/free-port.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const rel = (abs) => relative(root, abs);

function workerdBinary() {
  const require = createRequire(import.meta.url);
  const platform = `@cloudflare/workerd-${process.platform}-${process.arch === 'x64' ? '64' : process.arch}`;
  return join(dirname(require.resolve(`${platform}/package.json`)), 'bin', 'workerd');
}

function config(port) {
  const entry = resolveExport(pkg, ['workerd', 'worker', 'browser', 'import']);
  const modules = [`(name = "worker.js", esModule = embed "tests/guard/workerd-worker.js")`];
  const entryDir = dirname(join(root, entry));
  modules.push(`(name = "weir", esModule = embed "${rel(join(root, entry))}")`);
  for (const file of readdirSync(join(root, 'js'), { recursive: true })) {
    const abs = join(root, 'js', file);
    const name = relative(entryDir, abs);
    if (file.endsWith('.js') && abs !== join(root, entry)) {
      modules.push(`(name = "${name}", esModule = embed "${rel(abs)}")`);
    } else if (file.endsWith('.wasm')) {
      modules.push(`(name = "${name}", wasm = embed "${rel(abs)}")`);
    }
  }
  for (const dir of ['tests/conformance', 'tests/guard']) {
    for (const file of readdirSync(join(root, dir))) {
      if (file.endsWith('.js') && file !== 'workerd-worker.js' && file !== 'deno.test.js') {
        modules.push(`(name = "${dir}/${file}", esModule = embed "${dir}/${file}")`);
      }
    }
  }
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .guarded)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const guarded :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  compatibilityDate = "2025-01-01",
);
`;
}

let child;
let base;
let output = '';
let configFile;
let results;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  configFile = join(root, `.workerd-guard-${process.pid}.capnp`);
  writeFileSync(configFile, config(port));
  child = spawn(workerdBinary(), ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`${base}/cases`);
      if (!response.ok) throw new Error(`workerd answered ${response.status}: ${await response.text()}\n${output}`);
      results = await response.json();
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline || /answered/.test(error.message)) {
        throw new Error(`workerd run failed: ${error.message}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
});

after(() => {
  child?.kill('SIGTERM');
  if (configFile) rmSync(configFile, { force: true });
  if (output.trim()) console.log(output.trim());
});

for (const c of guardCases) {
  test(`workerd: ${c.name}`, () => {
    const result = results.find((r) => r.name === c.name);
    if (!result?.ok) throw new Error(result ? result.error : 'not run');
  });
}

const from = (ip) => ({ headers: { 'CF-Connecting-IP': ip } });
const stats = async () => (await fetch(`${base}/stats`)).json();

/** A GET whose socket the test can destroy (a client walking away). */
function open(ip) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/`, { agent: false, headers: { 'CF-Connecting-IP': ip } }, (res) => {
      res.once('data', (chunk) => resolve({ res, req, first: String(chunk) }));
    });
    req.on('error', (e) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

test('workerd: keyed by CF-Connecting-IP; 429 + Retry-After; held while streaming, released on disconnect', async () => {
  const a = await open('192.0.2.1');
  assert.equal(a.res.statusCode, 200);
  assert.equal(a.res.headers['ratelimit-limit'], '1000');
  assert.equal(a.first, 'hello 192.0.2.1\n');
  assert.equal((await stats()).inFlight, 1, 'held while the body streams');
  const same = await fetch(`${base}/`, from('192.0.2.1'));
  assert.equal(same.status, 429);
  assert.equal(same.headers.get('retry-after'), '1');
  assert.match(await same.text(), /^Too Many Requests/);
  const other = await open('192.0.2.2');
  assert.equal(other.res.statusCode, 200, 'another client address has its own cap');
  assert.equal((await stats()).inFlight, 2);
  a.req.destroy();
  other.req.destroy();
  // The disconnect reaches workerd, which cancels the body; poll (bounded).
  let s;
  for (let i = 0; i < 400; i++) {
    s = await stats();
    if (s.inFlight === 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(s.inFlight, 0, `released after the clients left: ${JSON.stringify(s)}`);
  const again = await open('192.0.2.1');
  assert.equal(again.res.statusCode, 200);
  again.req.destroy();
});
