// workerd host: generates a workerd config whose modules are the package
// files (entry resolved from package.json with the "workerd" condition, the
// .wasm as a `wasm` module) plus the suite, serves it on 127.0.0.1, fetches
// the results and asserts every case passed, by name.
import { test, before, after } from 'node:test';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cases } from '../conformance/index.js';
import { resolveExport } from './resolve.js';
import { freePort } from './free-port.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The workerd binary shipped by the npm package (no install script needed). */
function workerdBinary() {
  const require = createRequire(import.meta.url);
  const platform = `@cloudflare/workerd-${process.platform}-${process.arch === 'x64' ? '64' : process.arch}`;
  return join(dirname(require.resolve(`${platform}/package.json`)), 'bin', 'workerd');
}

// capnp `embed` paths are relative to the config file (and may not climb
// out of its directory), so the generated config sits at the package root.
const rel = (abs) => relative(root, abs);

function config(port) {
  const entry = resolveExport(pkg, ['workerd', 'worker', 'browser', 'import']);
  const modules = [`(name = "worker.js", esModule = embed "tests/hosts/workerd-worker.js")`];
  // The package as a bundler hands it over: the entry under the bare name,
  // its siblings by path relative to it.
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
  for (const file of readdirSync(join(root, 'tests/conformance'))) {
    modules.push(`(name = "tests/conformance/${file}", esModule = embed "tests/conformance/${file}")`);
  }
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .suite)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const suite :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  compatibilityDate = "2025-01-01",
);
`;
}

let child;
let results;
let output = '';
let configFile;

before(async () => {
  const port = await freePort();
  configFile = join(root, `.workerd-suite-${process.pid}.capnp`);
  writeFileSync(configFile, config(port));
  child = spawn(workerdBinary(), ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  // Wait for the socket (bounded), then run the suite with one request.
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`);
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

test('workerd: every conformance case ran', () => {
  const names = results.map((r) => r.name);
  for (const c of cases) if (!names.includes(c.name)) throw new Error(`missing: ${c.name}`);
});

for (const c of cases) {
  test(`workerd: ${c.name}`, () => {
    const result = results.find((r) => r.name === c.name);
    if (!result?.ok) throw new Error(result ? result.error : 'not run');
  });
}
