#!/usr/bin/env bash
# One idempotent setup step: installs whatever is missing, skips what is there.
#   - rustup targets wasm32-unknown-unknown and thumbv7em-none-eabihf
#   - the wasm-bindgen CLI at exactly the version in Cargo.lock
#   - wasm-pack
#   - npm dependencies (when node_modules is missing or older than the manifests)
#   - Chromium (Debian package) for the browser tests
#   - redis-server (Debian package) for the shared-store tests
#   - the wasm build (when its sources are newer than bindings/js/wasm/weir_wasm_bg.wasm)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf 'setup: %s\n' "$*"; }

installed_targets="$(rustup target list --installed)"
for target in wasm32-unknown-unknown thumbv7em-none-eabihf; do
  if grep -qx "$target" <<<"$installed_targets"; then
    say "rust target $target present"
  else
    say "adding rust target $target"
    rustup target add "$target"
  fi
done

bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [[ -z "$bindgen_version" ]]; then
  echo "setup: wasm-bindgen not found in Cargo.lock" >&2
  exit 1
fi
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" == "wasm-bindgen $bindgen_version" ]]; then
  say "wasm-bindgen $bindgen_version present"
else
  say "installing wasm-bindgen-cli $bindgen_version"
  cargo install wasm-bindgen-cli --version "=$bindgen_version" --locked
fi

if command -v wasm-pack >/dev/null 2>&1; then
  say "$(wasm-pack --version) present"
else
  say "installing wasm-pack"
  cargo install wasm-pack --locked
fi

stamp=node_modules/.package-lock.json
if [[ ! -f "$stamp" || package.json -nt "$stamp" || package-lock.json -nt "$stamp" ]]; then
  say "npm install"
  npm install --no-audit --no-fund
  touch "$stamp"
else
  say "node_modules up to date"
fi

if [[ -x /usr/bin/chromium || -n "${CHROMIUM_PATH:-}" ]]; then
  say "chromium present"
else
  say "installing chromium (apt-get)"
  apt-get update
  apt-get install -y --no-install-recommends chromium
fi

if command -v redis-server >/dev/null 2>&1; then
  say "$(redis-server --version | cut -d' ' -f1-3) present"
else
  say "installing redis-server (apt-get)"
  apt-get update
  apt-get install -y --no-install-recommends redis-server
fi

wasm=bindings/js/wasm/weir_wasm_bg.wasm
if [[ ! -f "$wasm" || ! -f bindings/js/wasm/weir_wasm_inline.js \
   || -n "$(find bindings core/src Cargo.lock Cargo.toml core/Cargo.toml scripts/build.sh scripts/inline-wasm.mjs scripts/wasm-names.mjs bindings/js/inflate.js -newer "$wasm" -type f -print -quit)" ]]; then
  say "building the wasm"
  bash scripts/build.sh
else
  say "wasm up to date"
fi
