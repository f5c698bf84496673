// Renames the wasm-bindgen glue's imports and exports to the short names
// wasm-opt gave them (`--minify-imports-and-exports-and-modules`, which
// prints the mapping as JSON): ~1 KB gzip of names such as
// `__wbg_setTimeout_5d51022fbf43a330` and `rawlimiter_acquireOrPark` leave
// the wasm and the glue.
//
//   node scripts/wasm-names.mjs <mapping.json> <glue.js> <minified.wasm>
//
// Guarantees: the glue is rewritten in place only when every import the
// wasm wants is provided under its new name and every `wasm.<export>` the
// glue reads is an export of the minified wasm; anything else (a glue
// layout this script does not know) fails the build, naming what is off.
import { readFileSync, writeFileSync } from 'node:fs';

const [mappingPath, gluePath, wasmPath] = process.argv.slice(2);
const mapping = JSON.parse(readFileSync(mappingPath, 'utf8'));
let glue = readFileSync(gluePath, 'utf8');
const fail = (problem) => {
  throw new Error(`wasm-names: ${problem}`);
};

// Imports: one module object (`const import0 = { name: function … }`),
// handed over as `"./weir_wasm_bg.js": import0`.
const modules = new Set(mapping.imports.map(([module]) => module));
if (modules.size !== 1) fail(`expected one import module, got ${[...modules].join(', ')}`);
const [module] = modules;
const moduleKey = `"${module}": import0`;
if (!glue.includes(moduleKey)) fail(`the glue does not hand over ${moduleKey}`);
const wasm = new WebAssembly.Module(readFileSync(wasmPath));
const newModules = new Set(WebAssembly.Module.imports(wasm).map((i) => i.module));
if (newModules.size !== 1) fail('the minified wasm imports from more than one module');
glue = glue.replace(moduleKey, `${JSON.stringify([...newModules][0])}: import0`);
for (const [, from, to] of mapping.imports) {
  const key = new RegExp(`^(\\s+)${from}(: function\\()`, 'm');
  if (!key.test(glue)) fail(`import ${from} is not provided by the glue`);
  glue = glue.replace(key, `$1${to}$2`);
}

// Exports: every use is `wasm.<name>`.
const renamed = new Map(mapping.exports);
const exported = new Set(WebAssembly.Module.exports(wasm).map((e) => e.name));
glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (whole, name) => {
  const to = renamed.get(name);
  if (to === undefined || !exported.has(to)) fail(`the glue reads wasm.${name}, which the wasm does not export`);
  return `wasm.${to}`;
});
writeFileSync(gluePath, glue);
