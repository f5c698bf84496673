//! # weir-limiter-wasm — weir for JavaScript hosts
//!
//! wasm-bindgen bindings of the `weir` limiter core for Node, Deno, browsers
//! and workerd. The host supplies only time: [`JsTimer`] (`performance.now()`
//! + `setTimeout`). Every limiting decision is made by `weir` itself.
//!
//! Permits live on the Rust side in a [`PermitSlab`] and cross to JS as
//! integer ids. The uncontended path is one synchronous call to acquire (an id,
//! or `0` for "must wait") and one to release. A waiting acquire is parked in
//! wasm under a ticket (`acquireOrPark`): no Promise is made on the Rust side;
//! the JS side is told (`notify`) to collect finished waits in batches
//! (`drain`), and `cancel(ticket)` drops a waiting Rust future at once (an
//! `AbortSignal`, a queue timeout).
//!
//! The npm package's JS layer (`bindings/js/api.js`, `bindings/js/guard.js`, `bindings/js/fetch.js`)
//! wraps the raw classes exported here (`RawLimiter`, `RawRetry`) in the
//! public API: `Limiter`, `KeyedSemaphore` (only concurrency caps),
//! `RateLimiter` (only rate quotas) and `guard` (its `admit`, in guard.rs)
//! are each a `RawLimiter`; `limitedAsCompleted`'s input order and keyed
//! look-ahead are the core's rules, asked through a `RawAsCompleted`.

#![no_std]

extern crate alloc;
// Native builds (tests, clippy) have std; wasm32 without atomics (the npm
// package) does not: no std panic hook or payload formatting in the wasm.
#[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
extern crate std;

/// What std's prelude would bring: the crate is `no_std`.
mod prelude {
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::String;
    pub(crate) use alloc::vec::Vec;
}

/// `RefCell` borrows that abort (trap) on a conflict instead of panicking
/// with a formatted message: keeps `BorrowError`'s `Display` and more of
/// `core::fmt` out of the wasm (~3 KB). A conflicting borrow is a bug either
/// way, and the wasm build's panics abort too.
pub(crate) trait Borrow<T> {
    fn read(&self) -> core::cell::Ref<'_, T>;
    fn write(&self) -> core::cell::RefMut<'_, T>;
}

impl<T> Borrow<T> for core::cell::RefCell<T> {
    #[inline]
    fn read(&self) -> core::cell::Ref<'_, T> {
        match self.try_borrow() {
            Ok(r) => r,
            Err(_) => borrow_conflict(),
        }
    }

    #[inline]
    fn write(&self) -> core::cell::RefMut<'_, T> {
        match self.try_borrow_mut() {
            Ok(r) => r,
            Err(_) => borrow_conflict(),
        }
    }
}

#[cold]
fn borrow_conflict() -> ! {
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    core::arch::wasm32::unreachable();
    #[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
    panic!("RefCell already borrowed");
}

#[cfg(feature = "adaptive")]
mod adaptive;
#[cfg(feature = "as-completed")]
mod as_completed;
mod errors;
#[cfg(feature = "guard")]
mod guard;
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod heap;
mod limiter;
mod quota;
#[cfg(feature = "fetch")]
mod retry;
mod slab;
mod tickets;
mod timer;
mod wire;

#[cfg(feature = "as-completed")]
pub use as_completed::RawAsCompleted;
pub use limiter::{RawLimiter, MUST_WAIT};
pub use slab::PermitSlab;
pub use timer::{JsSleep, JsTimer};

/// Panics abort (`unreachable`): the build uses `panic = "abort"`, and std's
/// handler would only format a message nobody reads before the trap.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics"), not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
