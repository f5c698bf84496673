//! A key used again soon is found where it was: an acquire + release pair
//! on a hot key neither hashes nor clones (re-inserts) it, and idle keys are
//! still evicted beyond the 32 used last.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use weir::KeyedSemaphore;

#[derive(Default)]
struct Counts {
    hashes: AtomicUsize,
    clones: AtomicUsize,
    drops: AtomicUsize,
}

/// A key that counts how often it is hashed, cloned and dropped.
struct Key {
    id: u32,
    counts: Arc<Counts>,
}

impl Key {
    fn new(id: u32, counts: &Arc<Counts>) -> Self {
        Key {
            id,
            counts: counts.clone(),
        }
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        self.counts.clones.fetch_add(1, Ordering::Relaxed);
        Key::new(self.id, &self.counts)
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.counts.drops.fetch_add(1, Ordering::Relaxed);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.counts.hashes.fetch_add(1, Ordering::Relaxed);
        self.id.hash(state);
    }
}

fn count(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::Relaxed)
}

#[test]
fn a_hot_key_is_hashed_and_stored_once() {
    let counts = Arc::new(Counts::default());
    let sem = KeyedSemaphore::new(Some(16), Some(4)).unwrap();
    for _ in 0..100 {
        drop(sem.try_acquire(Key::new(7, &counts), 1).unwrap());
    }
    assert_eq!(count(&counts.hashes), 1, "only the first acquire hashes");
    assert_eq!(count(&counts.clones), 1, "the key is stored once");
    assert_eq!(
        sem.stats().keys,
        0,
        "an idle key does not count as resident"
    );
    assert_eq!(sem.in_flight_of(&Key::new(7, &counts)), 0);
}

#[test]
fn keys_taking_turns_are_each_stored_once_and_hashed_once_per_acquire() {
    let counts = Arc::new(Counts::default());
    let sem = KeyedSemaphore::new(Some(16), Some(4)).unwrap();
    for i in 0..800u32 {
        drop(sem.try_acquire(Key::new(i % 8, &counts), 1).unwrap());
    }
    assert_eq!(count(&counts.clones), 8);
    assert_eq!(
        count(&counts.hashes),
        800,
        "one hash per acquire, none per release"
    );
}

#[test]
fn idle_keys_beyond_the_32_used_last_are_evicted() {
    let counts = Arc::new(Counts::default());
    let sem = KeyedSemaphore::new(None, Some(1)).unwrap();
    let held = sem.try_acquire(Key::new(1_000, &counts), 1).unwrap();
    for i in 0..100u32 {
        drop(sem.try_acquire(Key::new(i, &counts), 1).unwrap());
    }
    // Stored copies still alive: the held key's and the 32 idle ones.
    let stored = count(&counts.clones) - (count(&counts.drops) - 100);
    assert_eq!(stored, 33);
    assert_eq!(sem.stats().keys, 1);
    // The keys used last are still found without a new copy.
    let before = count(&counts.clones);
    drop(sem.try_acquire(Key::new(99, &counts), 1).unwrap());
    assert_eq!(count(&counts.clones), before);
    drop(sem.try_acquire(Key::new(0, &counts), 1).unwrap());
    assert_eq!(
        count(&counts.clones),
        before + 1,
        "key 0 was evicted long ago"
    );
    drop(held);
    drop(sem);
    assert_eq!(
        count(&counts.clones) + 103,
        count(&counts.drops),
        "every copy and every argument dropped"
    );
}
