// @ts-self-types="./index.d.ts"
// The Node entry (also Bun): reads the .wasm that sits next to this module
// and instantiates it synchronously, so the package is ready when imported,
// by `import` and by `require` (Node ≥ 20.19 / 22.12 load an ES module with
// no top-level await through `require`).
import { readFileSync } from 'node:fs';
import { initWasm } from './boundary.js';

initWasm(readFileSync(new URL('./wasm/weir_wasm_bg.wasm', import.meta.url)));

export * from './api.js';
