// @ts-self-types="./index.d.ts"
// The universal entry: browsers, web workers, Deno, and whatever a bundler
// builds for them (esbuild in any format and platform, Vite, webpack,
// Rollup) or an import map serves as is.
//
// Guarantees:
// - Ready when imported: the wasm travels inside this module graph (DEFLATE
//   + base64, wasm/weir_wasm_inline.js, with the inflater of inflate.js
//   bundled in), is inflated and instantiated
//   synchronously, so there is no top-level await, no `init()` to call and
//   no .wasm file for a bundler or server to find, copy or serve with the
//   right MIME type.
// - Needs no permission (Deno: no --allow-read) and no host API beyond
//   `atob` and `WebAssembly`. A Content-Security-Policy must allow
//   'wasm-unsafe-eval', as for any wasm.
// - Synchronous compilation on a browser's main thread is allowed for
//   modules up to 8 MB in current Chromium (this one is ~100 KB); Firefox
//   and Safari have no such limit.
import { initWasm } from './boundary.js';
import { wasmBytes } from './wasm/weir_wasm_inline.js';

initWasm(wasmBytes());

export * from './api.js';
