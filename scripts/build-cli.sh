#!/usr/bin/env bash
# Build the native `weir` once for the tests, `npm run demo` and bench/:
# target/cli/weir, profile `cli` (release without fat LTO: ~1 min on 2 cores
# instead of several). Cargo skips the build when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --quiet -p weir-limiter-cli --profile cli
echo "build-cli: target/cli/weir ($(wc -c < target/cli/weir) bytes)"
