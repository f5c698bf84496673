//! RAII permits: dropping one releases its key and global permits at once.

use core::fmt;

use super::keyed::KeyedSemaphore;
use super::state::Grant;
use super::Arc;

/// Permits held on one key of a [`KeyedSemaphore`]; dropping it releases
/// them (key and global together) and lets the next waiters through.
///
/// ```
/// use weir::KeyedSemaphore;
/// let sem = KeyedSemaphore::new(Some(4), None).unwrap();
/// let permit = sem.try_acquire("k", 3).unwrap();
/// assert_eq!((permit.key(), permit.permits()), (&"k", 3));
/// assert_eq!(sem.in_flight_of(&"k"), 3);
/// drop(permit);
/// assert_eq!(sem.in_flight_of(&"k"), 0);
/// ```
#[must_use = "permits are released as soon as the Permit is dropped"]
pub struct Permit<'a, K> {
    sem: &'a KeyedSemaphore<K>,
    key: K,
    grant: Grant,
}

impl<'a, K> Permit<'a, K> {
    pub(crate) fn new(sem: &'a KeyedSemaphore<K>, key: K, grant: Grant) -> Self {
        Permit { sem, key, grant }
    }

    /// The key the permits are held on.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// How many permits are held.
    pub fn permits(&self) -> usize {
        self.grant.permits()
    }
}

impl<K> Drop for Permit<'_, K> {
    fn drop(&mut self) {
        self.sem
            .release(core::mem::replace(&mut self.grant, Grant::EMPTY));
    }
}

impl<K: fmt::Debug> fmt::Debug for Permit<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("key", &self.key)
            .field("permits", &self.permits())
            .finish()
    }
}

/// A [`Permit`] that owns an `Arc` of its semaphore, so it borrows nothing
/// and may be moved to other tasks or threads.
///
/// ```
/// use std::sync::Arc;
/// use weir::KeyedSemaphore;
/// # futures::executor::block_on(async {
/// let sem = Arc::new(KeyedSemaphore::new(None, Some(2)).unwrap());
/// let permit = sem.acquire_owned(1u8, 2).await.unwrap();
/// assert_eq!(permit.permits(), 2);
/// drop(permit);
/// assert_eq!(sem.stats().in_flight, 0);
/// # });
/// ```
#[must_use = "permits are released as soon as the OwnedPermit is dropped"]
pub struct OwnedPermit<K> {
    sem: Arc<KeyedSemaphore<K>>,
    key: K,
    grant: Grant,
}

impl<K> OwnedPermit<K> {
    pub(crate) fn new(sem: Arc<KeyedSemaphore<K>>, key: K, grant: Grant) -> Self {
        OwnedPermit { sem, key, grant }
    }

    /// The key the permits are held on.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// How many permits are held.
    pub fn permits(&self) -> usize {
        self.grant.permits()
    }
}

impl<K> Drop for OwnedPermit<K> {
    fn drop(&mut self) {
        self.sem
            .release(core::mem::replace(&mut self.grant, Grant::EMPTY));
    }
}

impl<K: fmt::Debug> fmt::Debug for OwnedPermit<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("key", &self.key)
            .field("permits", &self.permits())
            .finish()
    }
}
