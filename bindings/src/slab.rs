//! Permits held on the Rust side, handed to JS as integer ids.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::Borrow as _;

use alloc::rc::Rc;

use core::cell::RefCell;

/// Ids pack a slot index (low 32 bits, plus one so that `0` is never an id)
/// and the slot's generation (high bits), so a stale or repeated id can never
/// release somebody else's permit. They stay exact in an `f64` (< 2^53), and
/// are packed and unpacked with integer operations only.
const MAX_GENERATION: u32 = (1 << 20) - 1;

/// A slab of values addressed by `f64` ids that JS can hold as numbers.
///
/// Inserting reuses freed slots (no allocation once warm); removing with an id
/// that is stale, repeated or made up returns `None`.
///
/// ```
/// let mut slab = weir_wasm::PermitSlab::new();
/// let id = slab.insert("permit");
/// assert!(id > 0.0);
/// assert_eq!(slab.remove(id), Some("permit"));
/// assert_eq!(slab.remove(id), None); // released once only
/// ```
#[derive(Debug)]
pub struct PermitSlab<P> {
    slots: Vec<Slot<P>>,
    free: Vec<u32>,
    len: usize,
}

#[derive(Debug)]
struct Slot<P> {
    generation: u32,
    value: Option<P>,
}

impl<P> PermitSlab<P> {
    /// An empty slab.
    pub const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// Store `value`; returns its id (always `> 0`).
    pub fn insert(&mut self, value: P) -> f64 {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        self.len += 1;
        ((u64::from(slot.generation) << 32) | (u64::from(index) + 1)) as f64
    }

    /// The slot index `id` names, if `id` is current.
    fn index_of(&self, id: f64) -> Option<usize> {
        // A saturating cast: NaN, negatives and fractions below 1 give 0,
        // non-integers and out-of-range values fail the round trip.
        let bits = id as u64;
        if bits as f64 != id || bits >> 32 > u64::from(MAX_GENERATION) {
            return None;
        }
        let index = (bits as u32).checked_sub(1)? as usize;
        let slot = self.slots.get(index)?;
        if u64::from(slot.generation) != bits >> 32 || slot.value.is_none() {
            return None;
        }
        Some(index)
    }

    /// The value stored under `id`, if it is still there.
    ///
    /// ```
    /// let mut slab = weir_wasm::PermitSlab::new();
    /// let id = slab.insert(3);
    /// *slab.get_mut(id).unwrap() -= 1;
    /// assert_eq!(slab.remove(id), Some(2));
    /// assert_eq!(slab.get_mut(id), None);
    /// ```
    pub fn get_mut(&mut self, id: f64) -> Option<&mut P> {
        let index = self.index_of(id)?;
        self.slots[index].value.as_mut()
    }

    /// Take the value stored under `id`, if it is still there.
    pub fn remove(&mut self, id: f64) -> Option<P> {
        let index = self.index_of(id)?;
        let slot = &mut self.slots[index];
        let value = slot.value.take()?;
        slot.generation = if slot.generation == MAX_GENERATION {
            0
        } else {
            slot.generation + 1
        };
        self.free.push(index as u32);
        self.len -= 1;
        Some(value)
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A raw class's permits, shared with the waiting acquires that add to them.
pub(crate) type Permits<P> = Rc<RefCell<PermitSlab<P>>>;

/// Take grant `id` out of `permits` and hand it back to `limiter`; `false`
/// for an id already released (or never issued).
pub(crate) fn release_grant<K, T>(
    permits: &Permits<weir::LimiterGrant>,
    limiter: &weir::Limiter<K, T>,
    id: f64,
) -> bool
where
    K: core::hash::Hash + Eq + Clone,
    T: weir::Timer,
{
    let grant = permits.write().remove(id);
    match grant {
        // Outside the slab's borrow: releasing wakes the next waiters.
        Some(grant) => {
            limiter.release(grant);
            true
        }
        None => false,
    }
}

impl<P> Default for PermitSlab<P> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::PermitSlab;

    #[test]
    fn ids_are_positive_and_unique_while_held() {
        let mut slab = PermitSlab::new();
        let a = slab.insert(1);
        let b = slab.insert(2);
        assert!(a >= 1.0 && b >= 1.0 && a != b);
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.remove(b), Some(2));
        assert_eq!(slab.remove(a), Some(1));
        assert!(slab.is_empty());
    }

    #[test]
    fn stale_id_does_not_release_the_slot_reuser() {
        let mut slab = PermitSlab::new();
        let old = slab.insert("first");
        assert_eq!(slab.remove(old), Some("first"));
        let new = slab.insert("second");
        assert_ne!(old, new, "a reused slot gets a fresh id");
        assert_eq!(slab.remove(old), None);
        assert_eq!(slab.remove(new), Some("second"));
    }

    #[test]
    fn garbage_ids_are_rejected() {
        let mut slab = PermitSlab::new();
        slab.insert(());
        for id in [
            0.0,
            -1.0,
            0.5,
            1.5,
            f64::NAN,
            f64::INFINITY,
            2.0,
            4_294_967_296.0,
            1e300,
        ] {
            assert_eq!(slab.remove(id), None, "id {id}");
        }
        assert_eq!(slab.len(), 1);
    }
}
