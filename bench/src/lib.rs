//! Shared pieces of the weir side-by-side benchmarks.
//!
//! - [`alloc_counter`]: a counting global allocator, switched on only around
//!   the passes that count, so that it costs the timed runs nothing.
//! - [`clocks`]: a cheap fake clock for weir, the counterpart of
//!   governor's `FakeRelativeClock`, so both GCRA cores are timed on equal
//!   footing (an atomic load per `now()`).
//! - [`report`]: reads criterion's `estimates.json` files and prints the
//!   weir/peer ratio table.
//! - [`cases`]: the names of every benchmark and the weir/peer pairs compared.
//! - [`primitives`]: the atomic operations the hot paths are built from.

pub mod alloc_counter;
pub mod cases;
pub mod clocks;
pub mod primitives;
pub mod report;

/// governor's default keyed limiter (dashmap state store, std hasher) on its
/// `FakeRelativeClock`.
pub type GovernorFakeKeyed<K> = governor::RateLimiter<
    K,
    governor::state::keyed::DefaultKeyedStateStore<K>,
    governor::clock::FakeRelativeClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

/// The Rust examples of `core/README.md`, compiled and run as doctests so
/// the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../core/README.md")]
pub struct ReadmeDoctests;
