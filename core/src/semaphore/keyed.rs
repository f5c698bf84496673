//! The keyed semaphore: [`SemaphoreState`] behind a lock, with async acquire.

use core::hash::Hash;

use super::acquire::{Acquire, AcquireOwned};
use super::error::{LimitError, TryAcquireError};
use super::permit::{OwnedPermit, Permit};
use super::state::{Grant, SemaphoreState, SemaphoreStats};
use super::wake_list::WakeList;
use super::Arc;
use crate::sync::Mutex;
use core::task::Waker;

/// A semaphore with a global in-flight cap and a per-key cap in one primitive.
///
/// Either cap may be unlimited (`None`). Requests are weighted (`n` permits).
/// Waiters of one key are served FIFO; keys waiting on the global cap are
/// served round-robin, and a key saturated on its own cap never holds up
/// other keys. Newcomers never barge ahead of queued waiters. Keys with
/// nothing in flight and nobody waiting are evicted (the 32 used last stay
/// indexed, uncounted, to be found again cheaply). See [`SemaphoreState`]
/// for the exact rules; this type adds a lock, wakers and RAII permits.
///
/// ```
/// use weir::KeyedSemaphore;
/// # futures::executor::block_on(async {
/// // At most 3 in flight in total, at most 2 per host.
/// let sem = KeyedSemaphore::new(Some(3), Some(2)).unwrap();
/// let a1 = sem.acquire("a.example", 1).await.unwrap();
/// let a2 = sem.acquire("a.example", 1).await.unwrap();
/// assert!(sem.try_acquire("a.example", 1).is_err()); // host cap
/// let b1 = sem.acquire("b.example", 1).await.unwrap(); // other hosts go on
/// assert_eq!(sem.stats().in_flight, 3);
/// drop((a1, a2, b1));
/// assert_eq!(sem.stats().keys, 0); // idle keys cost nothing
/// # });
/// ```
pub struct KeyedSemaphore<K> {
    state: Mutex<SemaphoreState<K, Waker>>,
}

impl<K> core::fmt::Debug for KeyedSemaphore<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyedSemaphore").finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone> KeyedSemaphore<K> {
    /// A semaphore with the given caps (`None` = unlimited).
    ///
    /// Fails if a cap is `Some(0)`.
    pub fn new(global: Option<usize>, per_key: Option<usize>) -> Result<Self, LimitError> {
        Ok(KeyedSemaphore {
            state: Mutex::new(SemaphoreState::new(global, per_key)?),
        })
    }

    /// Takes `n` permits on `key` if that is possible right now without
    /// overtaking anyone queued.
    ///
    /// ```
    /// use weir::{KeyedSemaphore, TryAcquireError};
    /// let sem = KeyedSemaphore::new(None, Some(1)).unwrap();
    /// let held = sem.try_acquire(7u32, 1).unwrap();
    /// assert_eq!(sem.try_acquire(7u32, 1).unwrap_err(), TryAcquireError::NoPermits);
    /// drop(held);
    /// assert!(sem.try_acquire(7u32, 1).is_ok());
    /// ```
    pub fn try_acquire(&self, key: K, n: usize) -> Result<Permit<'_, K>, TryAcquireError> {
        let grant = self.state.lock().try_acquire(&key, n)?;
        Ok(Permit::new(self, key, grant))
    }

    /// Waits for `n` permits on `key`. Fails at once if `n` exceeds a finite
    /// cap; a waiter is also failed if [`set_limits`](Self::set_limits) later
    /// lowers a cap below `n`.
    ///
    /// The request joins the queue when first polled. Dropping the future
    /// withdraws it, or gives the permits on if they were already granted.
    pub fn acquire(&self, key: K, n: usize) -> Acquire<'_, K> {
        Acquire::new(self, key, n)
    }

    /// [`try_acquire`](Self::try_acquire) for an `Arc`ed semaphore: the permit
    /// borrows nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weir::KeyedSemaphore;
    /// let sem = Arc::new(KeyedSemaphore::new(Some(1), None).unwrap());
    /// let permit = sem.try_acquire_owned("k", 1).unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.stats().in_flight, 0);
    /// ```
    pub fn try_acquire_owned(
        self: &Arc<Self>,
        key: K,
        n: usize,
    ) -> Result<OwnedPermit<K>, TryAcquireError> {
        let grant = self.state.lock().try_acquire(&key, n)?;
        Ok(OwnedPermit::new(Arc::clone(self), key, grant))
    }

    /// [`acquire`](Self::acquire) for an `Arc`ed semaphore: a `'static`
    /// future (given `K: 'static`) yielding an [`OwnedPermit`].
    pub fn acquire_owned(self: &Arc<Self>, key: K, n: usize) -> AcquireOwned<K> {
        AcquireOwned::new(Arc::clone(self), key, n)
    }

    /// Changes the caps at runtime. Raising wakes whoever now fits; lowering
    /// revokes no permit already held; waiters whose `n` now exceeds a finite
    /// cap fail with [`AcquireError::TooLarge`](super::AcquireError::TooLarge).
    ///
    /// ```
    /// use weir::KeyedSemaphore;
    /// let sem = KeyedSemaphore::new(Some(1), None).unwrap();
    /// let _a = sem.try_acquire('a', 1).unwrap();
    /// assert!(sem.try_acquire('b', 1).is_err());
    /// sem.set_limits(Some(2), None).unwrap();
    /// assert!(sem.try_acquire('b', 1).is_ok());
    /// assert_eq!(sem.limits(), (Some(2), None));
    /// ```
    pub fn set_limits(
        &self,
        global: Option<usize>,
        per_key: Option<usize>,
    ) -> Result<(), LimitError> {
        let mut woken = WakeList::new();
        let result = self.state.lock().set_limits(global, per_key, &mut woken);
        woken.wake_all();
        result
    }

    /// The caps in force: `(global, per_key)`.
    pub fn limits(&self) -> (Option<usize>, Option<usize>) {
        self.state.lock().limits()
    }

    /// Sets `key`'s soft cap, which outlives the key's eviction (see
    /// [`SemaphoreState::set_key_cap`]): raising wakes the key's waiters
    /// that now fit; lowering revokes nothing; a request above it is
    /// admitted alone.
    ///
    /// ```
    /// use weir::KeyedSemaphore;
    /// let sem = KeyedSemaphore::new(None, None).unwrap();
    /// sem.set_key_cap(&"a", 1);
    /// let held = sem.try_acquire("a", 1).unwrap();
    /// assert!(sem.try_acquire("a", 1).is_err());
    /// drop(held);
    /// assert!(sem.try_acquire("a", 3).is_ok()); // above the cap, but alone
    /// ```
    pub fn set_key_cap(&self, key: &K, cap: usize) {
        let mut woken = WakeList::new();
        self.state.lock().set_key_cap(key, cap, &mut woken);
        woken.wake_all();
    }

    /// Drops `key`'s soft cap: the default soft cap applies to it again.
    pub fn clear_key_cap(&self, key: &K) {
        let mut woken = WakeList::new();
        self.state.lock().clear_key_cap(key, &mut woken);
        woken.wake_all();
    }

    /// Sets the soft cap of keys without one of their own (`None`: none).
    pub fn set_default_key_cap(&self, cap: Option<usize>) {
        let mut woken = WakeList::new();
        self.state.lock().set_default_key_cap(cap, &mut woken);
        woken.wake_all();
    }

    /// `key`'s soft cap in force.
    pub fn key_cap(&self, key: &K) -> Option<usize> {
        self.state.lock().key_cap(key)
    }

    /// Permits in flight, waiters queued and keys resident.
    pub fn stats(&self) -> SemaphoreStats {
        self.state.lock().stats()
    }

    /// Permits `key` holds now (granted-but-unclaimed ones included).
    pub fn in_flight_of(&self, key: &K) -> usize {
        self.state.lock().in_flight_of(key)
    }
}

impl<K> KeyedSemaphore<K> {
    pub(crate) fn lock(&self) -> crate::sync::MutexGuard<'_, SemaphoreState<K, Waker>> {
        self.state.lock()
    }

    /// Takes `n` permits on `key` now, as a bare [`Grant`] (no key clone, no
    /// `Arc`): the caller must hand it to [`release`](Self::release).
    pub(crate) fn try_acquire_grant(&self, key: &K, n: usize) -> Result<Grant, TryAcquireError>
    where
        K: Hash + Eq + Clone,
    {
        self.state.lock().try_acquire(key, n)
    }

    /// [`try_acquire_grant`](Self::try_acquire_grant) of `n` permits up to
    /// `count` times over in one lock (see [`SemaphoreState::try_acquire_up_to`]).
    pub(crate) fn try_acquire_grant_up_to(
        &self,
        key: &K,
        n: usize,
        count: usize,
    ) -> Result<Grant, TryAcquireError>
    where
        K: Hash + Eq + Clone,
    {
        self.state.lock().try_acquire_up_to(key, n, count)
    }

    /// Releases `grant`, then wakes whoever it let through.
    pub(crate) fn release(&self, grant: Grant) {
        if grant.permits() == 0 {
            return;
        }
        let mut woken = WakeList::new();
        self.state.lock().release(grant, &mut woken);
        woken.wake_all();
    }
}
