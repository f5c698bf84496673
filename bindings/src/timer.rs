//! The host time seam for JS: `performance.now()` and `setTimeout`.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use js_sys::Function;
use wasm_bindgen::prelude::*;
use weir::{Clock, Instant, Timer};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    /// `setTimeout` returns a number in browsers/Deno/workerd and an object in Node.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// The JS host's clock and timer: `now` is `performance.now()` (monotonic
/// milliseconds, as nanoseconds), sleeping is a `setTimeout` that is cleared
/// when the sleep is dropped.
///
/// Works in every host weir targets (Node, Deno, browsers, workerd). In
/// workerd the clock stands still during CPU work; a sleep that wakes before
/// its deadline by the host clock re-arms itself instead of completing early.
///
/// ```no_run
/// use weir::{Clock, Timer};
/// let timer = weir_wasm::JsTimer;
/// let in_ten_ms = timer.now() + core::time::Duration::from_millis(10);
/// let _sleep = timer.sleep_until(in_ten_ms); // a `setTimeout` once polled
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct JsTimer;

impl Clock for JsTimer {
    #[inline]
    fn now(&self) -> Instant {
        with_frame(|frame| {
            if !frame.active.get() {
                return Instant::from_millis_f64(performance_now());
            }
            if let Some(now) = frame.now.get() {
                return now;
            }
            let now = Instant::from_millis_f64(performance_now());
            frame.now.set(Some(now));
            now
        })
    }
}

/// The instant of the running [`with_one_clock_read`] call, if any.
struct ClockFrame {
    /// Whether a [`with_one_clock_read`] call is running.
    active: Cell<bool>,
    /// The instant its first `now()` read, if any yet.
    now: Cell<Option<Instant>>,
}

impl ClockFrame {
    const fn new() -> Self {
        Self {
            active: Cell::new(false),
            now: Cell::new(None),
        }
    }
}

// wasm32 without the atomics feature has exactly one thread: a plain static
// (a `thread_local!` costs a lazy-init check on every clock read there).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
// SAFETY: one thread, so the `Cell`s are never shared across threads.
unsafe impl Sync for ClockFrame {}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
fn with_frame<R>(f: impl FnOnce(&ClockFrame) -> R) -> R {
    static FRAME: ClockFrame = ClockFrame::new();
    f(&FRAME)
}

#[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
fn with_frame<R>(f: impl FnOnce(&ClockFrame) -> R) -> R {
    std::thread_local! {
        static FRAME: ClockFrame = const { ClockFrame::new() };
    }
    FRAME.with(f)
}

/// Runs `f` with the host clock read at most once: every [`JsTimer`] `now()`
/// inside `f` returns the instant the first one read. One binding call is one
/// instant (the core reads the clock twice on an uncontended acquire; this
/// keeps that to one `performance.now()` crossing). Nested calls share the
/// outer call's instant. `f` must not run futures or user code.
pub(crate) fn with_one_clock_read<R>(f: impl FnOnce() -> R) -> R {
    if with_frame(|frame| frame.active.replace(true)) {
        return f();
    }
    let out = f();
    with_frame(|frame| {
        frame.active.set(false);
        frame.now.set(None);
    });
    out
}

impl Timer for JsTimer {
    type Sleep = JsSleep;
    fn sleep_until(&self, deadline: Instant) -> JsSleep {
        JsSleep {
            deadline,
            armed: None,
        }
    }
}

/// What the `setTimeout` callback shares with its sleep future.
#[derive(Default)]
struct Shared {
    fired: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

/// A pending `setTimeout`: its handle and the callback it will call.
struct Armed {
    handle: JsValue,
    shared: Rc<Shared>,
    // Kept alive while the timeout is pending; dropped after `clearTimeout`.
    _callback: Closure<dyn FnMut()>,
}

/// The sleep future of [`JsTimer`]. Polling it arms at most one `setTimeout`;
/// dropping it clears that timeout, so a cancelled sleep leaves nothing behind.
pub struct JsSleep {
    deadline: Instant,
    armed: Option<Armed>,
}

impl core::fmt::Debug for JsSleep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JsSleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.armed.is_some())
            .finish()
    }
}

/// The longest delay one host `setTimeout` keeps.
const MAX_TIMER_MS: u64 = (1 << 31) - 1;

impl JsSleep {
    fn arm(&mut self, now: Instant, waker: &Waker) {
        let shared = Rc::new(Shared::default());
        shared.waker.set(Some(waker.clone()));
        let in_callback = Rc::clone(&shared);
        let callback = Closure::<dyn FnMut()>::new(move || {
            in_callback.fired.set(true);
            if let Some(waker) = in_callback.waker.take() {
                waker.wake();
            }
        });
        // Whole milliseconds, rounded up, at least 1: a frozen clock must not
        // spin. At most what one host timer keeps (2^31 - 1 ms: Node fires a
        // longer one after 1 ms); a longer sleep re-arms when it fires early.
        let ms = weir::time::duration_nanos(self.deadline - now)
            .div_ceil(1_000_000)
            .clamp(1, MAX_TIMER_MS) as f64;
        let handle = set_timeout(callback.as_ref().unchecked_ref(), ms);
        self.armed = Some(Armed {
            handle,
            shared,
            _callback: callback,
        });
    }
}

impl Future for JsSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let now = JsTimer.now();
        if now >= this.deadline {
            this.disarm();
            return Poll::Ready(());
        }
        match &this.armed {
            Some(armed) if !armed.shared.fired.get() => {
                armed.shared.waker.set(Some(cx.waker().clone()));
            }
            // Not armed yet, or fired while the host clock still reads early: (re)arm.
            _ => {
                this.disarm();
                this.arm(now, cx.waker());
            }
        }
        Poll::Pending
    }
}

impl JsSleep {
    fn disarm(&mut self) {
        if let Some(armed) = self.armed.take() {
            if !armed.shared.fired.get() {
                clear_timeout(&armed.handle);
            }
        }
    }
}

impl Drop for JsSleep {
    fn drop(&mut self) {
        self.disarm();
    }
}
