// The help text lives twice by design (cli/src/args.rs and js/cli/main.js):
// both builds must print it byte for byte alike, from every place it shows.
// Runs both builds, so it runs once, under WEIR_CLI=native
// (`npm run test:cli:native` builds the native binary first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI, run } from './helpers.mjs';

const skip = CLI !== 'native' && 'runs both builds: under WEIR_CLI=native (npm run test:cli:native)';

test('the native and the Node weir print the same help', { skip }, async () => {
  for (const args of [['--help'], ['-h'], [], ['fetch', '--help'], ['serve', '--help'], ['demo', '--help']]) {
    const [native, js] = await Promise.all([run(args, { cli: 'native', input: '' }), run(args, { cli: 'js', input: '' })]);
    assert.equal(native.stdout, js.stdout, `weir ${args.join(' ')}: the two builds' help differs`);
    assert.equal(native.code, js.code, `weir ${args.join(' ')}: exit codes`);
    assert.match(native.stdout, /usage: weir <command>[\s\S]*--redis URL/);
  }
});
