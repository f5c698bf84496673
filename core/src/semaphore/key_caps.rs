//! Per-key soft caps: a cap for one key that overrides the default, kept
//! apart from the key's slot so that it survives the slot's eviction.
//!
//! A *soft* cap is the per-key limit an adaptive controller sets
//! ([`Limiter`](crate::Limiter) with `per_key_adaptive`). Unlike the hard
//! per-key cap of [`SemaphoreState::new`](super::SemaphoreState::new) it
//! moves at runtime key by key, so a request larger than it is not an
//! error: it is admitted alone, when its key has nothing else in flight.
//!
//! Invariants:
//! - `cap_of(key)` is the override set last for `key` if one is set, else
//!   the default; it is never `Some(0)` (setting 0 stores 1);
//! - an override stays until [`remove`](KeyCaps::remove)d: evicting the
//!   key's slot from the semaphore does not touch it, so a slot created
//!   again for the key starts from the override, not from the default;
//! - the table holds exactly the keys given an override and not removed
//!   since; its owner (the limiter, which removes the override when it
//!   evicts the key's controller) bounds it;
//! - entries are found by the semaphore's own hash of the key, computed
//!   once per slot creation: with no override set, lookups cost nothing.

use hashbrown::hash_table::{Entry, HashTable};

struct Override<K> {
    key: K,
    hash: u64,
    cap: usize,
}

/// Soft per-key caps: a default and overrides by key.
pub(crate) struct KeyCaps<K> {
    default: Option<usize>,
    overrides: HashTable<Override<K>>,
}

impl<K> KeyCaps<K> {
    pub(crate) fn new() -> Self {
        KeyCaps {
            default: None,
            overrides: HashTable::new(),
        }
    }

    pub(crate) fn set_default(&mut self, cap: Option<usize>) {
        self.default = cap.map(|c| c.max(1));
    }

    /// How many overrides are stored.
    pub(crate) fn len(&self) -> usize {
        self.overrides.len()
    }
}

impl<K: Eq> KeyCaps<K> {
    /// The soft cap of `key` (whose hash is `hash`).
    #[inline]
    pub(crate) fn cap_of(&self, hash: u64, key: &K) -> Option<usize> {
        if self.overrides.is_empty() {
            return self.default;
        }
        match self.overrides.find(hash, |o| o.key == *key) {
            Some(o) => Some(o.cap),
            None => self.default,
        }
    }

    /// Sets `key`'s override; returns the soft cap now in force for it.
    pub(crate) fn set(&mut self, hash: u64, key: &K, cap: usize) -> usize
    where
        K: Clone,
    {
        let cap = cap.max(1);
        match self.overrides.entry(hash, |o| o.key == *key, |o| o.hash) {
            Entry::Occupied(mut entry) => entry.get_mut().cap = cap,
            Entry::Vacant(entry) => {
                entry.insert(Override {
                    key: key.clone(),
                    hash,
                    cap,
                });
            }
        }
        cap
    }

    /// Drops `key`'s override; returns the soft cap now in force for it
    /// (the default).
    pub(crate) fn remove(&mut self, hash: u64, key: &K) -> Option<usize> {
        if let Ok(entry) = self.overrides.find_entry(hash, |o| o.key == *key) {
            entry.remove();
            if self.overrides.capacity() > 64
                && self.overrides.len() * 4 < self.overrides.capacity()
            {
                self.overrides.shrink_to(0, |o| o.hash);
            }
        }
        self.default
    }
}
