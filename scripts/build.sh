#!/usr/bin/env bash
# Build the wasm for the npm package: wasm-pack (web target, release) into a
# scratch dir, copy the two files the loaders use into bindings/js/wasm/, shrink with
# wasm-opt -Oz (from the npm package `binaryen`; --zero-filled-memory: the module
# defines its own memory, which starts zeroed).
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# WEIR_WASM_DEST (default bindings/js/wasm) and WEIR_WASM_NO_DEFAULT_FEATURES=1 (the
# limiter part alone, without `fetch` and `guard`) are for bench/js/size.mjs.
dest="${WEIR_WASM_DEST:-bindings/js/wasm}"
features=()
if [ -n "${WEIR_WASM_NO_DEFAULT_FEATURES:-}" ]; then features=(-- --no-default-features); fi
# WEIR_WASM_FEATURES="fetch guard" (with WEIR_WASM_NO_DEFAULT_FEATURES=1): the
# limiter part plus those features, to measure what each one costs.
if [ -n "${WEIR_WASM_FEATURES:-}" ]; then features+=(--features "$WEIR_WASM_FEATURES"); fi
out="${CARGO_TARGET_DIR:-$PWD/target}/wasm-pack-out${WEIR_WASM_NO_DEFAULT_FEATURES:+-limiter}${WEIR_WASM_FEATURES:+-${WEIR_WASM_FEATURES// /-}}"
rm -rf "$out"
# panic = "abort" for this build only (a per-package profile cannot set it):
# no unwinding tables or landing pads in the wasm.
# Panic locations (file names) stay in the wasm's data even though panics
# only trap: shorten the crates.io sources' paths to `crate-x.y.z/src/…`.
remap=()
for registry in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  [ -d "$registry" ] && remap+=("--remap-path-prefix=$registry=")
done
CARGO_PROFILE_RELEASE_PANIC=abort RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }${remap[*]}" \
  wasm-pack --quiet build bindings --target web --release --no-pack --no-typescript \
  --out-dir "$out" --out-name weir_wasm "${features[@]}"
mkdir -p "$dest"
# Only the synchronous initSync is used (by every loader): drop the async
# init's export, so no `new URL('….wasm', import.meta.url)` is left for
# bundlers to chase (webpack/Vite would emit the .wasm as an asset; esbuild's
# iife output warns about import.meta). Tree-shaking then removes it.
glue_export='export { initSync, __wbg_init as default };'
grep -qxF "$glue_export" "$out/weir_wasm.js" || { echo "build.sh: the wasm-bindgen glue's exports changed: $(grep '^export {' "$out/weir_wasm.js")" >&2; exit 1; }
sed -i "s/^export { initSync, __wbg_init as default };$/export { initSync };/" "$out/weir_wasm.js"
# -ocimfs 100: functions with one caller are inlined into it only up to 100
# bytes (binaryen's default: any size). -1.3 KB gzip, the same uncontended
# path (bench/README.md, "Package size", session 6).
wasm-opt -Oz --converge -ocimfs 100 --zero-filled-memory --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/weir_wasm_bg.wasm" -o "$out/optimized.wasm"
# The wasm's imports and exports renamed to one or two letters (~1 KB gzip
# over wasm and glue); wasm-opt prints the mapping and the glue follows it
# (the script fails the build if the glue uses a name it lacks). The
# target_features section (for linkers, not engines) goes too.
wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-reference-types --enable-multivalue --minify-imports-and-exports-and-modules --strip-target-features \
  "$out/optimized.wasm" -o "$dest/weir_wasm_bg.wasm" > "$out/names.json"
node scripts/wasm-names.mjs "$out/names.json" "$out/weir_wasm.js" "$dest/weir_wasm_bg.wasm"
# The generated glue ships minified (44 -> ~15 KB raw, 8.3 -> ~4 KB gzip):
# esbuild is a devDependency; without it (node_modules not installed yet) the
# glue is copied as generated, which works the same.
esbuild="${ESBUILD:-$PWD/node_modules/.bin/esbuild}"
if [ -x "$esbuild" ]; then
  "$esbuild" "$out/weir_wasm.js" --minify --tree-shaking=true --format=esm --target=es2022 --log-level=warning \
    --outfile="$dest/weir_wasm.js"
else
  echo "build.sh: esbuild not installed (npm install); bindings/js/wasm/weir_wasm.js left unminified" >&2
  cp "$out/weir_wasm.js" "$dest/weir_wasm.js"
fi
# The universal entry (bindings/js/index.js) carries the wasm inline: no file for a
# bundler to find, no top-level await, sync instantiation.
node scripts/inline-wasm.mjs "$dest/weir_wasm_bg.wasm" "$dest/weir_wasm_inline.js"
echo "built $dest/weir_wasm_bg.wasm ($(wc -c < "$dest/weir_wasm_bg.wasm") bytes)"
