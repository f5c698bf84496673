// Deno host: run with `deno test --allow-read`. The package entry is
// resolved from package.json with the "deno" condition and imported as Deno
// imports any ES module.
import { cases, runCase, summary } from '../conformance/index.js';
import { resolveExport } from './resolve.js';

const pkg = JSON.parse(Deno.readTextFileSync(new URL('../../package.json', import.meta.url)));
const entry = resolveExport(pkg, ['deno', 'import']);
const weir = await import(new URL(`../../${entry}`, import.meta.url).href);

const results = [];
for (const c of cases) {
  Deno.test(c.name, async () => {
    const result = await runCase(c, weir);
    results.push(result);
    if (!result.ok) throw new Error(result.error);
  });
}

Deno.test('deno: every conformance case ran', () => {
  const line = `deno: ${summary(results)}`;
  console.log(line);
  if (results.length !== cases.length) throw new Error(`ran ${results.length} of ${cases.length}`);
});
