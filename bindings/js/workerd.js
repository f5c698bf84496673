// @ts-self-types="./index.d.ts"
// workerd (Cloudflare Workers) and edge runtimes: the .wasm is imported as a
// WebAssembly.Module (compiled by the platform at deploy time; compiling from
// bytes is forbidden there) and instantiated synchronously.
import wasm from './wasm/weir_wasm_bg.wasm';
import { initWasm } from './boundary.js';

initWasm(wasm);

export * from './api.js';
