//! The Lua scripts, embedded from `lua/` — the one copy the JS store embeds too.
//!
//! Invariants: each script is loaded into the server at most once per
//! connection lifetime of the server's script cache: calls go out as
//! `EVALSHA`, and a `NOSCRIPT` reply (a restarted or flushed server) makes the
//! call load the script and retry once ([`redis::Script::invoke_async`]).

use std::sync::LazyLock;

use redis::Script;

/// Source of `lua/gcra.lua`: GCRA quotas all-or-none, with pauses.
pub const GCRA_LUA: &str = include_str!("../lua/gcra.lua");
/// Source of `lua/lease.lua`: concurrency leases.
pub const LEASE_LUA: &str = include_str!("../lua/lease.lua");
/// Source of `lua/pause.lua`: shared pauses.
pub const PAUSE_LUA: &str = include_str!("../lua/pause.lua");

/// The GCRA script.
pub static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(GCRA_LUA));
/// The lease script.
pub static LEASE: LazyLock<Script> = LazyLock::new(|| Script::new(LEASE_LUA));
/// The pause script.
pub static PAUSE: LazyLock<Script> = LazyLock::new(|| Script::new(PAUSE_LUA));
