//! The contended path: Rust futures driven as JS Promises, cancellable by ticket.

use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::rc::Rc;

use hashbrown::HashMap;
use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;

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
