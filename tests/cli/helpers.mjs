// Shared helpers of the CLI end-to-end tests: run a `weir` binary as a real
// child process against the local target server on 127.0.0.1.
//
// WEIR_CLI picks the binary: `js` (default; `node bin/weir.js`) or `native`
// (the Rust `weir`, WEIR_NATIVE_BIN or target/cli/weir as built by
// scripts/build-cli.sh). The same tests run on both, so their interfaces
// cannot drift.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/weir.js', import.meta.url));
/** bin/weir.js followed by a live-heap report (the JS CLI's memory test). */
export const HEAP_PROBE = fileURLToPath(new URL('./heap-probe.mjs', import.meta.url));

/** Which `weir` the tests run: 'js' or 'native'. */
export const CLI = process.env.WEIR_CLI ?? 'js';
if (CLI !== 'js' && CLI !== 'native') throw new Error(`WEIR_CLI must be js or native, got '${CLI}'`);

/** The native binary. */
export const NATIVE_BIN = process.env.WEIR_NATIVE_BIN ?? fileURLToPath(new URL('../../target/cli/weir', import.meta.url));

/**
 * The command line that runs `weir args…` on the build `cli` (default:
 * WEIR_CLI's); `nodeArgs`, and `jsBin` in place of bin/weir.js, only reach
 * the JS CLI.
 */
export function command(args, nodeArgs = [], jsBin = BIN, cli = CLI) {
  return cli === 'native' ? [NATIVE_BIN, args] : [process.execPath, [...nodeArgs, jsBin, ...args]];
}

/**
 * Start `weir args…` (on the build `cli`, default WEIR_CLI's); returns
 * { child, done: Promise<{ code, signal, stdout, stderr }>, stdout(), stderr() }.
 */
export function start(args, { input, env = {}, nodeArgs = [], jsBin, cli = CLI } = {}) {
  const [file, argv] = command(args, nodeArgs, jsBin, cli);
  const child = spawn(file, argv, {
    env: { ...process.env, WEIR_PROGRESS_MS: '200', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
  });
  // A child that exits before reading its stdin (bad arguments) is no error here.
  child.stdin.on('error', () => {});
  if (input !== undefined) child.stdin.end(input);
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

/** Run `weir args…` to the end. */
export function run(args, opts) {
  return start(args, opts).done;
}

/** NDJSON text → rows (every line must parse). */
export function rowsOf(stdout) {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

/** A fresh temp dir. */
export function tempDir() {
  return mkdtemp(join(tmpdir(), 'weir-cli-'));
}

/** Write `lines` to a temp file; returns its path. */
export async function urlFile(lines) {
  const dir = await tempDir();
  const path = join(dir, 'urls.txt');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

/** Resolve when `predicate()` holds (polled every 20 ms), or reject after `ms`. */
export async function until(predicate, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The live heap after a final GC (MB), printed by heap-probe.mjs (under --expose-gc). */
export function liveHeapOf(stderr) {
  const m = /live heap after GC: ([\d.]+) MB/.exec(stderr);
  if (!m) throw new Error(`no live heap in:\n${stderr}`);
  return Number(m[1]);
}

/** The peak RSS (MB) from a `weir fetch` summary on stderr. */
export function peakRssOf(stderr) {
  const m = /peak RSS: ([\d.]+) MB/.exec(stderr);
  if (!m) throw new Error(`no peak RSS in:\n${stderr}`);
  return Number(m[1]);
}
