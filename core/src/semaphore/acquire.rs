//! The futures returned by `acquire` and `acquire_owned`.

use core::fmt;
use core::future::Future;
use core::hash::Hash;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::error::AcquireError;
use super::keyed::KeyedSemaphore;
use super::permit::{OwnedPermit, Permit};
use super::state::{Acquired, Grant, WaiterId, WaiterPoll};
use super::wake_list::WakeList;
use super::Arc;

/// Where an acquire future stands.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Not yet polled: not queued.
    Idle,
    /// Queued (or granted and not yet claimed).
    Queued(WaiterId),
    /// Completed.
    Done,
}

/// What both futures share: the request and its place in the queue.
/// (The limiter's acquire drives one directly, too.)
pub(crate) struct Request<K> {
    key: Option<K>,
    permits: usize,
    stage: Stage,
}

impl<K: Hash + Eq + Clone> Request<K> {
    pub(crate) fn new(key: K, permits: usize) -> Self {
        Request {
            key: Some(key),
            permits,
            stage: Stage::Idle,
        }
    }

    /// The key asked for, until taken back.
    pub(crate) fn key(&self) -> Option<&K> {
        self.key.as_ref()
    }

    /// Takes the key back once the request is ready (or never polled).
    pub(crate) fn take_key(&mut self) -> K {
        self.key.take().expect("key present until taken")
    }

    /// Polls for the grant; on `Ready` the key may be taken.
    pub(crate) fn poll_grant(
        &mut self,
        sem: &KeyedSemaphore<K>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Grant, AcquireError>> {
        let key = self
            .key
            .as_ref()
            .expect("acquire future polled after completion");
        let outcome = match self.stage {
            Stage::Idle => {
                let acquired = sem.lock().acquire(key, self.permits, || cx.waker().clone());
                match acquired {
                    Ok(Acquired::Granted(grant)) => Ok(grant),
                    Ok(Acquired::Queued(id)) => {
                        self.stage = Stage::Queued(id);
                        return Poll::Pending;
                    }
                    Err(err) => Err(err),
                }
            }
            Stage::Queued(id) => {
                let mut state = sem.lock();
                match state.poll(id) {
                    WaiterPoll::Waiting(waker) => {
                        let stale = (!waker.will_wake(cx.waker()))
                            .then(|| core::mem::replace(waker, cx.waker().clone()));
                        drop(state);
                        drop(stale); // outside the lock
                        return Poll::Pending;
                    }
                    WaiterPoll::Granted(grant) => Ok(grant),
                    WaiterPoll::Rejected(err) => Err(err),
                    WaiterPoll::Gone => unreachable!("a live acquire's waiter vanished"),
                }
            }
            Stage::Done => panic!("acquire future polled after completion"),
        };
        self.stage = Stage::Done;
        Poll::Ready(outcome)
    }

    /// Withdraws from the queue, passing on anything granted meanwhile.
    pub(crate) fn cancel(&mut self, sem: &KeyedSemaphore<K>) {
        if let Stage::Queued(id) = self.stage {
            self.stage = Stage::Done;
            let mut woken = WakeList::new();
            let payload = sem.lock().cancel(id, &mut woken);
            drop(payload);
            woken.wake_all();
        }
    }
}

/// The future of [`KeyedSemaphore::acquire`]: resolves to a [`Permit`].
///
/// Dropping it before it resolves withdraws the request; if permits were
/// already granted to it, they pass on to the next waiters.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a, K: Hash + Eq + Clone> {
    sem: &'a KeyedSemaphore<K>,
    request: Request<K>,
}

impl<'a, K: Hash + Eq + Clone> Acquire<'a, K> {
    pub(crate) fn new(sem: &'a KeyedSemaphore<K>, key: K, permits: usize) -> Self {
        Acquire {
            sem,
            request: Request::new(key, permits),
        }
    }
}

// No field is structurally pinned.
impl<K: Hash + Eq + Clone> Unpin for Acquire<'_, K> {}

impl<'a, K: Hash + Eq + Clone> Future for Acquire<'a, K> {
    type Output = Result<Permit<'a, K>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let grant = core::task::ready!(this.request.poll_grant(this.sem, cx))?;
        let key = this
            .request
            .key
            .take()
            .expect("key present until completion");
        Poll::Ready(Ok(Permit::new(this.sem, key, grant)))
    }
}

impl<K: Hash + Eq + Clone> Drop for Acquire<'_, K> {
    fn drop(&mut self) {
        self.request.cancel(self.sem);
    }
}

impl<K: Hash + Eq + Clone + fmt::Debug> fmt::Debug for Acquire<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("key", &self.request.key)
            .field("permits", &self.request.permits)
            .finish_non_exhaustive()
    }
}

/// The future of [`KeyedSemaphore::acquire_owned`]: resolves to an
/// [`OwnedPermit`]; `'static` when `K` is.
///
/// Dropping it before it resolves withdraws the request; if permits were
/// already granted to it, they pass on to the next waiters.
#[must_use = "futures do nothing unless polled"]
pub struct AcquireOwned<K: Hash + Eq + Clone> {
    sem: Arc<KeyedSemaphore<K>>,
    request: Request<K>,
}

impl<K: Hash + Eq + Clone> AcquireOwned<K> {
    pub(crate) fn new(sem: Arc<KeyedSemaphore<K>>, key: K, permits: usize) -> Self {
        AcquireOwned {
            sem,
            request: Request::new(key, permits),
        }
    }
}

// No field is structurally pinned.
impl<K: Hash + Eq + Clone> Unpin for AcquireOwned<K> {}

impl<K: Hash + Eq + Clone> Future for AcquireOwned<K> {
    type Output = Result<OwnedPermit<K>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let grant = core::task::ready!(this.request.poll_grant(&this.sem, cx))?;
        let key = this
            .request
            .key
            .take()
            .expect("key present until completion");
        Poll::Ready(Ok(OwnedPermit::new(Arc::clone(&this.sem), key, grant)))
    }
}

impl<K: Hash + Eq + Clone> Drop for AcquireOwned<K> {
    fn drop(&mut self) {
        self.request.cancel(&self.sem);
    }
}

impl<K: Hash + Eq + Clone + fmt::Debug> fmt::Debug for AcquireOwned<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("key", &self.request.key)
            .field("permits", &self.request.permits)
            .finish_non_exhaustive()
    }
}
