//! The contended path: Rust futures driven as JS Promises, cancellable by ticket.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;

use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use weir::hash::HashMap;
use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;

use crate::slab::Permits;
use crate::timer::JsTimer;
use weir::{LimiterAcquire, LimiterError, LimiterGrant};

type Job = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

#[derive(Default)]
struct Slot {
    job: Option<Job>,
    waker: Option<Waker>,
}

/// Waiting acquires by ticket (a number the JS side picks, unique per limiter).
///
/// [`Tickets::spawn`] turns a future into a Promise; [`Tickets::cancel`] drops
/// the future at once — synchronously, so its place in the queue is freed
/// before `cancel` returns — and settles the Promise with `undefined`.
#[derive(Clone, Default)]
pub(crate) struct Tickets {
    slots: Rc<RefCell<HashMap<u32, Rc<RefCell<Slot>>>>>,
}

impl Tickets {
    /// Drive `job` to completion as a Promise registered under `ticket`.
    pub(crate) fn spawn<F>(&self, ticket: u32, job: F) -> Promise
    where
        F: Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        let slot = Rc::new(RefCell::new(Slot {
            job: Some(Box::pin(job)),
            waker: None,
        }));
        if let Some(previous) = self.slots.borrow_mut().insert(ticket, Rc::clone(&slot)) {
            // A reused ticket: the older job is cancelled rather than orphaned.
            cancel_slot(&previous);
        }
        future_to_promise(Driven {
            slot,
            ticket,
            tickets: self.clone(),
        })
    }

    /// Drive the acquire `waiting` as a Promise registered under `ticket`: the
    /// permit it yields goes into `permits` and the Promise resolves to its
    /// id; an error is rejected as `to_js` turns it.
    pub(crate) fn spawn_permit<P, E, F>(
        &self,
        ticket: u32,
        permits: &Permits<P>,
        waiting: F,
        to_js: fn(E) -> JsValue,
    ) -> Promise
    where
        P: 'static,
        E: 'static,
        F: Future<Output = Result<P, E>> + 'static,
    {
        let permits = Rc::clone(permits);
        self.spawn(ticket, async move {
            let permit = waiting.await.map_err(to_js)?;
            Ok(JsValue::from_f64(permits.borrow_mut().insert(permit)))
        })
    }

    /// Drop the job registered under `ticket`; returns whether one was waiting.
    pub(crate) fn cancel(&self, ticket: u32) -> bool {
        let slot = self.slots.borrow_mut().remove(&ticket);
        match slot {
            Some(slot) => cancel_slot(&slot),
            None => false,
        }
    }

    /// How many jobs are registered.
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len()
    }
}

fn cancel_slot(slot: &RefCell<Slot>) -> bool {
    let (job, waker) = {
        let mut slot = slot.borrow_mut();
        (slot.job.take(), slot.waker.take())
    };
    let was_waiting = job.is_some();
    drop(job);
    if let Some(waker) = waker {
        waker.wake();
    }
    was_waiting
}

struct Driven {
    slot: Rc<RefCell<Slot>>,
    ticket: u32,
    tickets: Tickets,
}

impl Future for Driven {
    type Output = Result<JsValue, JsValue>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut job = match self.slot.borrow_mut().job.take() {
            Some(job) => job,
            None => return Poll::Ready(Ok(JsValue::UNDEFINED)), // cancelled
        };
        // Poll outside the borrow: the job may wake or drop other jobs.
        match job.as_mut().poll(cx) {
            Poll::Ready(output) => {
                drop(job);
                let mut slots = self.tickets.slots.borrow_mut();
                if slots
                    .get(&self.ticket)
                    .is_some_and(|s| Rc::ptr_eq(s, &self.slot))
                {
                    slots.remove(&self.ticket);
                }
                Poll::Ready(output)
            }
            Poll::Pending => {
                let mut slot = self.slot.borrow_mut();
                slot.job = Some(job);
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// What a parked wait resolves to: the core's grant, or why not.
pub(crate) type Parked = Result<LimiterGrant, LimiterError>;

/// A parked wait: the core's named acquire future itself, unboxed (40 bytes
/// on wasm32), so a million parked waiters stay small.
pub(crate) type ParkedJob = LimiterAcquire<String, JsTimer>;

/// Waiting acquires driven without a Promise per wait: the JS side keeps its
/// own resolver under the ticket, and collects finished waits with
/// [`ParkedWaits::drain`] when told to (one `notify` call per batch of wakes).
///
/// A wait is polled once at once in [`ParkedWaits::park`]; after that only
/// when its waker fires. Wakes queue the ticket and, once per batch, call the
/// JS `notify` function, which must only schedule a later `drain` (it runs
/// while core code may be on the stack, but never under a core lock).
#[derive(Clone)]
pub(crate) struct ParkedWaits {
    shared: Rc<ParkedShared>,
}

struct ParkedShared {
    jobs: RefCell<ParkedTable>,
    ready: RefCell<Vec<Rc<ParkedTask>>>,
    scheduled: Cell<bool>,
    notify: RefCell<Option<js_sys::Function>>,
}

/// A table this long stays allocated while empty (no churn for a limiter
/// whose few waiters come and go).
const KEEP_TICKET_SLOTS: usize = 1024;

/// Parked tasks by ticket. The JS glue hands out tickets as small integers
/// it reuses, so a vector indexed by ticket (4 bytes a waiter) does where a
/// hash map would cost several times that.
#[derive(Default)]
struct ParkedTable {
    tasks: Vec<Option<Rc<ParkedTask>>>,
    live: usize,
}

impl ParkedTable {
    fn insert(&mut self, ticket: u32, task: Rc<ParkedTask>) -> Option<Rc<ParkedTask>> {
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

    fn remove(&mut self, ticket: u32) -> Option<Rc<ParkedTask>> {
        let task = self.tasks.get_mut(ticket as usize)?.take()?;
        self.live -= 1;
        if self.live == 0 && self.tasks.capacity() > KEEP_TICKET_SLOTS {
            // Nothing parked: give back the memory of a past crowd.
            self.tasks = Vec::new();
        }
        Some(task)
    }

    fn get(&self, ticket: u32) -> Option<&Rc<ParkedTask>> {
        self.tasks.get(ticket as usize)?.as_ref()
    }

    fn len(&self) -> usize {
        self.live
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }
}

struct ParkedTask {
    ticket: u32,
    queued: Cell<bool>,
    job: RefCell<Option<ParkedJob>>,
    // Weak: a queued task must not keep the whole set alive (and no cycle).
    shared: alloc::rc::Weak<ParkedShared>,
}

/// Outcome of [`ParkedWaits::park`].
pub(crate) enum ParkOutcome {
    /// Finished on the first poll.
    Done(Parked),
    /// Waiting under its ticket; `drain` will report it.
    Parked,
}

impl Default for ParkedWaits {
    fn default() -> Self {
        Self {
            shared: Rc::new(ParkedShared {
                jobs: RefCell::default(),
                ready: RefCell::default(),
                scheduled: Cell::new(false),
                notify: RefCell::new(None),
            }),
        }
    }
}

impl ParkedWaits {
    /// Poll `job` once; if it is not finished, park it under `ticket`.
    ///
    /// `notify` (called with no arguments, once per batch of wakes) must only
    /// schedule a later [`drain`](ParkedWaits::drain). It is held only while
    /// some wait is parked, so a JS limiter with nothing parked is not kept
    /// alive by the wasm side.
    pub(crate) fn park(
        &self,
        ticket: u32,
        job: ParkedJob,
        notify: &js_sys::Function,
    ) -> ParkOutcome {
        let task = Rc::new(ParkedTask {
            ticket,
            queued: Cell::new(false),
            job: RefCell::new(Some(job)),
            shared: Rc::downgrade(&self.shared),
        });
        if let Some(previous) = self
            .shared
            .jobs
            .borrow_mut()
            .insert(ticket, Rc::clone(&task))
        {
            // A reused ticket: the older wait is cancelled rather than orphaned.
            drop(previous.job.borrow_mut().take());
        }
        match poll_task(&task) {
            Some(done) => {
                self.forget(&task);
                ParkOutcome::Done(done)
            }
            None => {
                let mut held = self.shared.notify.borrow_mut();
                if held.is_none() {
                    *held = Some(notify.clone());
                }
                ParkOutcome::Parked
            }
        }
    }

    /// Drop the wait under `ticket` now; returns whether one was waiting.
    pub(crate) fn cancel(&self, ticket: u32) -> bool {
        let task = self.shared.jobs.borrow_mut().remove(ticket);
        self.release_notify_if_idle();
        match task {
            Some(task) => {
                let job = task.job.borrow_mut().take();
                let was_waiting = job.is_some();
                drop(job); // outside every borrow: dropping may wake others
                was_waiting
            }
            None => false,
        }
    }

    /// Poll every woken wait; returns the finished ones as
    /// `(ticket, outcome)` pairs.
    pub(crate) fn drain(&self) -> Vec<(u32, Parked)> {
        self.shared.scheduled.set(false);
        let mut finished = Vec::new();
        loop {
            let batch = core::mem::take(&mut *self.shared.ready.borrow_mut());
            if batch.is_empty() {
                return finished;
            }
            for task in batch {
                task.queued.set(false);
                if let Some(done) = poll_task(&task) {
                    self.forget(&task);
                    finished.push((task.ticket, done));
                }
            }
        }
    }

    /// How many waits are parked.
    pub(crate) fn len(&self) -> usize {
        self.shared.jobs.borrow().len()
    }

    fn forget(&self, task: &Rc<ParkedTask>) {
        {
            let mut jobs = self.shared.jobs.borrow_mut();
            if jobs.get(task.ticket).is_some_and(|t| Rc::ptr_eq(t, task)) {
                jobs.remove(task.ticket);
            }
        }
        self.release_notify_if_idle();
    }

    /// Nothing parked: let go of `notify` (and so of the JS limiter).
    fn release_notify_if_idle(&self) {
        if self.shared.jobs.borrow().is_empty() {
            let notify = self.shared.notify.borrow_mut().take();
            drop(notify);
        }
    }
}

/// Poll `task`'s job (outside every borrow); `Some` once it finished.
fn poll_task(task: &Rc<ParkedTask>) -> Option<Parked> {
    let mut job = task.job.borrow_mut().take()?; // cancelled: nothing to report
    let waker = parked_waker(Rc::clone(task));
    let mut cx = Context::from_waker(&waker);
    match Pin::new(&mut job).poll(&mut cx) {
        Poll::Ready(done) => Some(done),
        Poll::Pending => {
            *task.job.borrow_mut() = Some(job);
            None
        }
    }
}

fn wake_task(task: &Rc<ParkedTask>) {
    if task.queued.replace(true) {
        return;
    }
    let Some(shared) = task.shared.upgrade() else {
        return;
    };
    shared.ready.borrow_mut().push(Rc::clone(task));
    if !shared.scheduled.replace(true) {
        let notify = shared.notify.borrow().clone();
        if let Some(notify) = notify {
            let _ = notify.call0(&JsValue::UNDEFINED);
        }
    }
}

// A waker over `Rc<ParkedTask>`. wasm32 without threads: nothing is shared
// across threads, so an `Rc` behind a `RawWaker` is sound here.
fn parked_waker(task: Rc<ParkedTask>) -> Waker {
    let data = Rc::into_raw(task).cast::<()>();
    // SAFETY: `data` comes from `Rc::into_raw` and the vtable functions keep
    // the strong count balanced.
    unsafe { Waker::from_raw(RawWaker::new(data, &PARKED_VTABLE)) }
}

static PARKED_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live `Rc<ParkedTask>` pointer owned by a waker.
    unsafe { Rc::increment_strong_count(data.cast::<ParkedTask>()) };
    RawWaker::new(data, &PARKED_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: takes over the waker's strong count.
    let task = unsafe { Rc::from_raw(data.cast::<ParkedTask>()) };
    wake_task(&task);
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: borrows the waker's strong count without releasing it.
    let task = core::mem::ManuallyDrop::new(unsafe { Rc::from_raw(data.cast::<ParkedTask>()) });
    wake_task(&task);
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: releases the waker's strong count.
    drop(unsafe { Rc::from_raw(data.cast::<ParkedTask>()) });
}
