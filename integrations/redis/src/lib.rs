//! Shared weir limits across processes and machines, on Redis / Valkey.
//!
//! The rules stay in the core (`weir::rate`'s GCRA, to the nanosecond); the
//! store answers decisions with Lua scripts that live once in `lua/` and are
//! embedded by this crate and by the JS `RedisStore`.

#![warn(missing_docs)]

pub mod pause;
pub mod rate;
pub mod scripts;

pub use rate::{Cell, RateCall, RateReply};
