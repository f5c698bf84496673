//! [`Reorder`]: the reorder window of the input-order form — positions
//! handed out in input order, outputs given back in input order, at most
//! `capacity` held.
//!
//! Invariants:
//! - `held() <= capacity()`: [`reserve`](Reorder::reserve) answers `None`
//!   when every place is taken (by items running, or finished and waiting
//!   for an earlier one), and the caller stops pulling until the oldest
//!   item is popped. Nothing is dropped: a finished output keeps its place.
//! - Places are a ring: the `n`-th reserved place is `(head + n) % capacity`,
//!   so a place is reused only after the item before it was popped.
//! - [`pop`](Reorder::pop) gives back only the oldest held item, and only
//!   once it is finished: outputs come out in exactly the order places were
//!   reserved.
//! - [`finish`](Reorder::finish) accepts each reserved place once; a place
//!   not reserved, or finished already, is refused (`Err` gives the output
//!   back) and changes nothing.
//!
//! [`LimitedOrdered`](super::LimitedOrdered) drives it with the futures'
//! outputs; the JS `limitedAsCompleted({ ordered: true })` drives a
//! `Reorder<()>` through the wasm bindings and keeps the values itself,
//! indexed by place.

use alloc::boxed::Box;

use super::ZeroLimit;

/// A ring of `capacity` places for outputs waiting for their turn.
///
/// ```
/// use weir::as_completed::Reorder;
///
/// let mut ring = Reorder::new(2).unwrap();
/// let a = ring.reserve().unwrap();
/// let b = ring.reserve().unwrap();
/// assert_eq!(ring.reserve(), None, "full: the pull stops");
/// ring.finish(b, "second").unwrap();
/// assert_eq!(ring.pop(), None, "the first is not finished yet");
/// ring.finish(a, "first").unwrap();
/// assert_eq!(ring.pop(), Some("first"));
/// assert_eq!(ring.pop(), Some("second"));
/// ```
pub struct Reorder<T> {
    outputs: Box<[Option<T>]>,
    /// Place of the oldest held item.
    head: usize,
    /// Places reserved and not yet popped (running or finished).
    held: usize,
}

impl<T> Reorder<T> {
    /// A ring of `capacity` places, allocated once; [`ZeroLimit`] if 0.
    pub fn new(capacity: usize) -> Result<Self, ZeroLimit> {
        if capacity == 0 {
            return Err(ZeroLimit);
        }
        Ok(Self {
            outputs: (0..capacity).map(|_| None).collect(),
            head: 0,
            held: 0,
        })
    }

    /// The bound on held items.
    pub fn capacity(&self) -> usize {
        self.outputs.len()
    }

    /// Places reserved and not yet popped.
    pub fn held(&self) -> usize {
        self.held
    }

    /// The place of the oldest held item (the next [`pop`](Reorder::pop)
    /// frees it), or of the next reserved one when nothing is held.
    pub fn head(&self) -> usize {
        self.head
    }

    /// Whether every place is taken.
    pub fn is_full(&self) -> bool {
        self.held == self.outputs.len()
    }

    /// The place of the next item in input order, or `None` when full.
    pub fn reserve(&mut self) -> Option<usize> {
        if self.is_full() {
            return None;
        }
        let place = (self.head + self.held) % self.outputs.len();
        self.held += 1;
        Some(place)
    }

    /// The item at `place` finished with `output`. `Err(output)` if `place`
    /// is not reserved or is finished already.
    pub fn finish(&mut self, place: usize, output: T) -> Result<(), T> {
        let capacity = self.outputs.len();
        if place >= capacity || (place + capacity - self.head) % capacity >= self.held {
            return Err(output);
        }
        match &mut self.outputs[place] {
            Some(_) => Err(output),
            slot => {
                *slot = Some(output);
                Ok(())
            }
        }
    }

    /// The oldest item's output, if it has finished; frees its place.
    pub fn pop(&mut self) -> Option<T> {
        if self.held == 0 {
            return None;
        }
        let output = self.outputs[self.head].take()?;
        self.head = (self.head + 1) % self.outputs.len();
        self.held -= 1;
        Some(output)
    }
}

impl<T> core::fmt::Debug for Reorder<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reorder")
            .field("capacity", &self.outputs.len())
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn refuses_zero_and_foreign_or_repeated_places() {
        assert!(Reorder::<()>::new(0).is_err());
        let mut ring = Reorder::new(3).unwrap();
        assert_eq!(ring.finish(0, 'x'), Err('x'), "nothing reserved");
        let a = ring.reserve().unwrap();
        assert_eq!(ring.finish(a + 1, 'x'), Err('x'), "not reserved");
        assert_eq!(ring.finish(7, 'x'), Err('x'), "out of range");
        assert_eq!(ring.finish(a, 'a'), Ok(()));
        assert_eq!(ring.finish(a, 'b'), Err('b'), "finished twice");
        assert_eq!(ring.pop(), Some('a'));
        assert_eq!(ring.pop(), None);
    }

    proptest! {
        /// Any order of finishing gives outputs back in input order, with
        /// never more than `capacity` held, and nothing lost.
        #[test]
        fn outputs_come_back_in_input_order(
            capacity in 1usize..6,
            steps in proptest::collection::vec(0usize..8, 0..200),
            n in 0usize..40,
        ) {
            let mut ring = Reorder::new(capacity).unwrap();
            let mut next = 0usize; // next input index to pull
            let mut running: Vec<(usize, usize)> = Vec::new(); // (place, input index)
            let mut out = Vec::new();
            let mut steps = steps.into_iter().chain(core::iter::repeat(0));
            while out.len() < n {
                while next < n {
                    match ring.reserve() {
                        Some(place) => { running.push((place, next)); next += 1; }
                        None => break,
                    }
                }
                prop_assert!(ring.held() <= capacity);
                if !running.is_empty() {
                    let pick = steps.next().unwrap() % running.len();
                    let (place, index) = running.swap_remove(pick);
                    prop_assert_eq!(ring.finish(place, index), Ok(()));
                }
                while let Some(index) = ring.pop() { out.push(index); }
            }
            prop_assert_eq!(out, (0..n).collect::<Vec<_>>());
            prop_assert_eq!(ring.held(), 0);
        }
    }
}
