//! The contended path: the core's acquire futures parked under tickets,
//! polled when woken, their outcomes collected by the JS side in batches.
//! No Promise is made on the Rust side (no js-sys futures in the wasm).

#[allow(unused_imports)]
use crate::prelude::*;
use crate::Borrow as _;

use alloc::rc::Rc;

use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use wasm_bindgen::JsValue;

use crate::limiter::FAILED;

/// Waiting acquires driven without a Promise per wait: the JS side keeps its
/// own resolver under the ticket, and collects finished waits with
/// [`ParkedWaits::drain`] when told to (one `notify` call per batch of wakes).
///
/// A wait is polled once at once in [`ParkedWaits::park`]; after that only
/// when its waker fires. Wakes queue the ticket and, once per batch, call the
/// JS `notify` function, which must only schedule a later `drain` (it runs
/// while core code may be on the stack, but never under a core lock).
pub(crate) struct ParkedWaits<J> {
    shared: Rc<ParkedShared<J>>,
}

struct ParkedShared<J> {
    jobs: RefCell<ParkedTable<J>>,
    ready: RefCell<Vec<Rc<ParkedTask<J>>>>,
    scheduled: Cell<bool>,
    notify: RefCell<Option<js_sys::Function>>,
}

/// How many woken waits one `drain` polls at most. Admission decisions read
/// the clock once per drain, and the work they admit starts only after the
/// drain returns: a bounded slice keeps that lag small (the rest is drained
/// next, after the admitted work has started), so quotas hold for the
/// instants work starts, not only for the instants it was admitted.
const DRAIN_SLICE: usize = 256;

/// A table this long stays allocated while empty (no churn for a limiter
/// whose few waiters come and go).
const KEEP_TICKET_SLOTS: usize = 1024;

/// Parked tasks by ticket. The JS glue hands out tickets as small integers
/// it reuses, so a vector indexed by ticket (4 bytes a waiter) does where a
/// hash map would cost several times that.
struct ParkedTable<J> {
    tasks: Vec<Option<Rc<ParkedTask<J>>>>,
    live: usize,
}

impl<J> ParkedTable<J> {
    fn insert(&mut self, ticket: u32, task: Rc<ParkedTask<J>>) -> Option<Rc<ParkedTask<J>>> {
        let at = ticket as usize;
        if at >= self.tasks.len() {
            self.tasks.resize(at + 1, None);
        }
        let previous = self.tasks[at].replace(task);
        if previous.is_none() {
            self.live += 1;
        }
        previous
    }

    fn remove(&mut self, ticket: u32) -> Option<Rc<ParkedTask<J>>> {
        let task = self.tasks.get_mut(ticket as usize)?.take()?;
        self.live -= 1;
        if self.live == 0 && self.tasks.capacity() > KEEP_TICKET_SLOTS {
            // Nothing parked: give back the memory of a past crowd.
            self.tasks = Vec::new();
        }
        Some(task)
    }

    fn get(&self, ticket: u32) -> Option<&Rc<ParkedTask<J>>> {
        self.tasks.get(ticket as usize)?.as_ref()
    }

    fn len(&self) -> usize {
        self.live
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }
}

struct ParkedTask<J> {
    ticket: u32,
    queued: Cell<bool>,
    job: RefCell<Option<J>>,
    // Weak: a queued task must not keep the whole set alive (and no cycle).
    shared: alloc::rc::Weak<ParkedShared<J>>,
}

/// Outcome of [`ParkedWaits::park`].
pub(crate) enum ParkOutcome<T> {
    /// Finished on the first poll.
    Done(T),
    /// Waiting under its ticket; `drain` will report it. `notified`: a
    /// `notify` function is held (else hand one over with `set_notify`).
    Parked { notified: bool },
}

impl<J> Default for ParkedWaits<J> {
    fn default() -> Self {
        Self {
            shared: Rc::new(ParkedShared {
                jobs: RefCell::new(ParkedTable {
                    tasks: Vec::new(),
                    live: 0,
                }),
                ready: RefCell::default(),
                scheduled: Cell::new(false),
                notify: RefCell::new(None),
            }),
        }
    }
}

impl<J: Future + Unpin + 'static> ParkedWaits<J> {
    /// Poll `job` once; if it is not finished, park it under `ticket`.
    ///
    /// A parked wait is reported by a later [`drain`](ParkedWaits::drain),
    /// which the JS `notify` function (see [`set_notify`](ParkedWaits::set_notify))
    /// is called to schedule. `Parked { notified: false }` means no `notify`
    /// is held (nothing was parked before): the caller must hand one over.
    pub(crate) fn park(&self, ticket: u32, job: J) -> ParkOutcome<J::Output> {
        let task = Rc::new(ParkedTask {
            ticket,
            queued: Cell::new(false),
            job: RefCell::new(Some(job)),
            shared: Rc::downgrade(&self.shared),
        });
        if let Some(previous) = self.shared.jobs.write().insert(ticket, Rc::clone(&task)) {
            // A reused ticket: the older wait is cancelled rather than orphaned.
            drop(previous.job.write().take());
        }
        match poll_task(&task) {
            Some(done) => {
                self.forget(&task);
                ParkOutcome::Done(done)
            }
            None => ParkOutcome::Parked {
                notified: self.shared.notify.read().is_some(),
            },
        }
    }

    /// Hand over `notify` (called with no arguments, once per batch of
    /// wakes; it must only schedule a later [`drain`](ParkedWaits::drain)).
    /// It is held only while some wait is parked, so a JS limiter with
    /// nothing parked is not kept alive by the wasm side: [`park`] asks for
    /// it again after an idle spell. A wake that came while none was held is
    /// passed on now.
    ///
    /// [`park`]: ParkedWaits::park
    pub(crate) fn set_notify(&self, notify: &js_sys::Function) {
        if self.shared.jobs.read().is_empty() {
            return;
        }
        *self.shared.notify.write() = Some(notify.clone());
        if self.shared.scheduled.get() {
            let _ = notify.call0(&JsValue::UNDEFINED);
        }
    }

    /// Drop the wait under `ticket` now; returns whether one was waiting.
    pub(crate) fn cancel(&self, ticket: u32) -> bool {
        let task = self.shared.jobs.write().remove(ticket);
        self.release_notify_if_idle();
        match task {
            Some(task) => {
                let job = task.job.write().take();
                let was_waiting = job.is_some();
                drop(job); // outside every borrow: dropping may wake others
                was_waiting
            }
            None => false,
        }
    }

    /// Poll the woken waits, at most [`DRAIN_SLICE`] of them (with more
    /// left, `notify` is called again for another drain); returns the
    /// finished ones as
    /// `(ticket, outcome)` pairs.
    pub(crate) fn drain(&self) -> Vec<(u32, J::Output)> {
        self.shared.scheduled.set(false);
        let mut finished = Vec::new();
        let mut polled = 0;
        loop {
            let batch = core::mem::take(&mut *self.shared.ready.write());
            if batch.is_empty() {
                return finished;
            }
            let mut batch = batch.into_iter();
            for task in batch.by_ref() {
                task.queued.set(false);
                if let Some(done) = poll_task(&task) {
                    self.forget(&task);
                    finished.push((task.ticket, done));
                }
                polled += 1;
                if polled == DRAIN_SLICE {
                    break;
                }
            }
            if polled == DRAIN_SLICE {
                // The rest waits for the next drain (first in line), after
                // the work admitted so far has started.
                let more = {
                    let mut ready = self.shared.ready.write();
                    let woken_meanwhile = core::mem::take(&mut *ready);
                    ready.extend(batch);
                    ready.extend(woken_meanwhile);
                    !ready.is_empty()
                };
                if more {
                    self.shared.schedule();
                }
                return finished;
            }
        }
    }

    /// How many waits are parked.
    pub(crate) fn len(&self) -> usize {
        self.shared.jobs.read().len()
    }

    fn forget(&self, task: &Rc<ParkedTask<J>>) {
        {
            let mut jobs = self.shared.jobs.write();
            if jobs.get(task.ticket).is_some_and(|t| Rc::ptr_eq(t, task)) {
                jobs.remove(task.ticket);
            }
        }
        self.release_notify_if_idle();
    }

    /// Nothing parked: let go of `notify` (and so of the JS limiter).
    fn release_notify_if_idle(&self) {
        if self.shared.jobs.read().is_empty() {
            let notify = self.shared.notify.write().take();
            drop(notify);
        }
    }
}

/// Poll `task`'s job (outside every borrow); `Some` once it finished.
fn poll_task<J: Future + Unpin + 'static>(task: &Rc<ParkedTask<J>>) -> Option<J::Output> {
    let mut job = task.job.write().take()?; // cancelled: nothing to report
    let waker = parked_waker(Rc::clone(task));
    let mut cx = Context::from_waker(&waker);
    match Pin::new(&mut job).poll(&mut cx) {
        Poll::Ready(done) => Some(done),
        Poll::Pending => {
            *task.job.write() = Some(job);
            None
        }
    }
}

fn wake_task<J>(task: &Rc<ParkedTask<J>>) {
    if task.queued.replace(true) {
        return;
    }
    let Some(shared) = task.shared.upgrade() else {
        return;
    };
    shared.ready.write().push(Rc::clone(task));
    shared.schedule();
}

impl<J> ParkedShared<J> {
    /// Ask the JS side for a drain, once until that drain runs.
    fn schedule(&self) {
        if !self.scheduled.replace(true) {
            let notify = self.notify.read().clone();
            if let Some(notify) = notify {
                let _ = notify.call0(&JsValue::UNDEFINED);
            }
        }
    }
}

// A waker over `Rc<ParkedTask<J>>`. wasm32 without threads: nothing is
// shared across threads, so an `Rc` behind a `RawWaker` is sound here.
fn parked_waker<J>(task: Rc<ParkedTask<J>>) -> Waker {
    let data = Rc::into_raw(task).cast::<()>();
    // SAFETY: `data` comes from `Rc::into_raw` and the vtable functions keep
    // the strong count balanced.
    unsafe { Waker::from_raw(RawWaker::new(data, &ParkedTask::<J>::VTABLE)) }
}

impl<J> ParkedTask<J> {
    const VTABLE: RawWakerVTable = RawWakerVTable::new(
        Self::waker_clone,
        Self::waker_wake,
        Self::waker_wake_by_ref,
        Self::waker_drop,
    );

    unsafe fn waker_clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a live `Rc<ParkedTask<J>>` pointer owned by a waker.
        unsafe { Rc::increment_strong_count(data.cast::<Self>()) };
        RawWaker::new(data, &Self::VTABLE)
    }

    unsafe fn waker_wake(data: *const ()) {
        // SAFETY: takes over the waker's strong count.
        let task = unsafe { Rc::from_raw(data.cast::<Self>()) };
        wake_task(&task);
    }

    unsafe fn waker_wake_by_ref(data: *const ()) {
        // SAFETY: borrows the waker's strong count without releasing it.
        let task = core::mem::ManuallyDrop::new(unsafe { Rc::from_raw(data.cast::<Self>()) });
        wake_task(&task);
    }

    unsafe fn waker_drop(data: *const ()) {
        // SAFETY: releases the waker's strong count.
        drop(unsafe { Rc::from_raw(data.cast::<Self>()) });
    }
}

/// Finished parked waits as the flat `[ticket, id, …]` pairs `drain`
/// returns: `grant` turns a success into its id; a failure reports
/// [`FAILED`] and keeps the JS error (by `to_js`) in `errors` for `takeError`.
pub(crate) fn reports<P, E>(
    finished: Vec<(u32, Result<P, E>)>,
    mut grant: impl FnMut(P) -> f64,
    to_js: fn(E) -> JsValue,
    errors: &RefCell<Vec<(u32, JsValue)>>,
) -> Box<[f64]> {
    let mut out = Vec::with_capacity(finished.len() * 2);
    for (ticket, done) in finished {
        out.push(f64::from(ticket));
        match done {
            Ok(p) => out.push(grant(p)),
            Err(e) => {
                out.push(FAILED);
                errors.write().push((ticket, to_js(e)));
            }
        }
    }
    out.into_boxed_slice()
}

/// The error a parked wait under `ticket` failed with (after `drain`
/// reported [`FAILED`] for it), or `undefined`.
pub(crate) fn take_error(errors: &RefCell<Vec<(u32, JsValue)>>, ticket: u32) -> JsValue {
    let mut errors = errors.write();
    match errors.iter().position(|(t, _)| *t == ticket) {
        Some(at) => errors.swap_remove(at).1,
        None => JsValue::UNDEFINED,
    }
}
