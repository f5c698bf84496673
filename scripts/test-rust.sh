#!/usr/bin/env bash
# The Rust half of `npm test`: tests, clippy, and the no_std builds of core.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
set -x
cargo test --workspace
cargo clippy --workspace --all-targets -- -D warnings
# weir-reqwest / weir-tower on a fleet's shared limiter (feature redis), against a real redis-server
cargo test -p weir-limiter-reqwest -p weir-limiter-tower --features redis --test shared_store
cargo test -p weir-limiter-tower --features redis --doc
cargo clippy -p weir-limiter-reqwest -p weir-limiter-tower --features redis --all-targets -- -D warnings
cargo clippy -p weir-limiter-wasm --target wasm32-unknown-unknown -- -D warnings
cargo build -p weir-limiter --no-default-features --target wasm32-unknown-unknown
cargo build -p weir-limiter --no-default-features --target thumbv7em-none-eabihf
# loom models of the places where threads meet (semaphore, rate limiter, as_completed's ready set)
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p weir-limiter --release --test loom_semaphore --test loom_rate
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p weir-limiter --release --lib loom_tests
