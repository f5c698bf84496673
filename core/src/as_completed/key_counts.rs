//! [`KeyCounts`]: where a [`Lookahead`](super::Lookahead) keeps each key's
//! running and waiting items — a hash map for any key, or [`DenseKeys`]
//! for keys numbered from 0 by the driver (the JS `limitedAsCompleted`'s:
//! no hashing, no second map in the wasm).
//!
//! Invariants: a key not counted reads as zero; `forget` is called only for
//! a key whose counts are both zero, so forgetting never loses an item.

use core::hash::Hash;

use crate::hash::HashMap;
use alloc::vec::Vec;

/// A key's items: started and not yet finished, and buffered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Started and not yet finished.
    pub running: usize,
    /// Waiting in the look-ahead buffer.
    pub waiting: usize,
}

/// Per-key [`Count`]s.
pub trait KeyCounts<K> {
    /// The count of `key` (zero if it is not counted).
    fn get(&self, key: &K) -> Count;
    /// The count of `key`, counted from zero if it was not.
    fn entry(&mut self, key: &K) -> &mut Count;
    /// Stops counting `key`, whose counts are zero.
    fn forget(&mut self, key: &K);
}

impl<K: Hash + Eq + Clone> KeyCounts<K> for HashMap<K, Count> {
    fn get(&self, key: &K) -> Count {
        HashMap::get(self, key).copied().unwrap_or_default()
    }

    fn entry(&mut self, key: &K) -> &mut Count {
        // Clones the key only when it is new.
        if !self.contains_key(key) {
            self.insert(key.clone(), Count::default());
        }
        self.get_mut(key).expect("counted above")
    }

    fn forget(&mut self, key: &K) {
        self.remove(key);
    }
}

/// Counts of keys numbered `0, 1, 2, …` by the driver, in a `Vec` indexed
/// by number. The driver reuses a number once the key is forgotten
/// ([`Lookahead::finish`](super::Lookahead::finish) says so), so the `Vec`
/// grows only to the most keys alive at once.
///
/// ```
/// use weir::as_completed::{DenseKeys, Lookahead};
///
/// let mut keys = Lookahead::with_counts(2, 1, 4, DenseKeys::default()).unwrap();
/// assert_eq!(keys.offer(0, 'x'), Some((0, 'x')));
/// assert_eq!(keys.offer(0, 'y'), None, "key 0 is at its cap");
/// assert!(!keys.finish(&0), "key 0 still has y waiting");
/// assert_eq!(keys.next_start(), Some((0, 'y')));
/// assert!(keys.finish(&0), "key 0 is forgotten: its number may name another key");
/// ```
#[derive(Debug, Clone, Default)]
pub struct DenseKeys {
    counts: Vec<Count>,
}

impl DenseKeys {
    /// Room for numbers below `keys` without growing.
    pub fn with_capacity(keys: usize) -> Self {
        Self {
            counts: Vec::with_capacity(keys),
        }
    }
}

impl KeyCounts<u32> for DenseKeys {
    fn get(&self, key: &u32) -> Count {
        self.counts.get(*key as usize).copied().unwrap_or_default()
    }

    fn entry(&mut self, key: &u32) -> &mut Count {
        let at = *key as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, Count::default());
        }
        &mut self.counts[at]
    }

    fn forget(&mut self, key: &u32) {
        if let Some(count) = self.counts.get_mut(*key as usize) {
            *count = Count::default();
        }
    }
}
