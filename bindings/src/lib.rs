//! # weir-wasm — weir for JavaScript hosts
//!
//! wasm-bindgen bindings of the `weir` limiter core for Node, Deno, browsers
//! and workerd. The host supplies only time: [`JsTimer`] (`performance.now()`
//! + `setTimeout`). Every limiting decision is made by `weir` itself.
//!
//! Permits live on the Rust side in a [`PermitSlab`] and cross to JS as
//! integer ids. The uncontended path is one synchronous call to acquire (an id,
//! or `0` for "must wait") and one to release; only a waiting acquire becomes a
//! Promise, registered under a ticket so that an `AbortSignal` can drop the
//! waiting Rust future at once.
//!
//! The npm package's JS layer (`js/api.js`) wraps the raw classes exported
//! here (`RawLimiter`, `RawSemaphore`, `RawRateLimiter`) in the public API.

mod errors;
mod guard;
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod heap;
mod limiter;
mod quota;
mod rate;
mod retry;
mod semaphore;
mod slab;
mod tickets;
mod timer;

pub use limiter::{RawLimiter, MUST_WAIT};
pub use rate::RawRateLimiter;
pub use semaphore::RawSemaphore;
pub use slab::PermitSlab;
pub use timer::{JsSleep, JsTimer};
