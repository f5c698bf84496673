//! `RawAsCompleted`: the core's pull rules of `limited_as_completed` for the
//! JS `limitedAsCompleted`, which keeps the items, their values and their
//! promises and asks this class what it may pull, start and yield.
//!
//! Guarantees: every decision is the core's state machine, unchanged —
//! [`Window`] (at most `limit` out of the source), [`Reorder`] (input order,
//! a reorder window of `limit` places) or [`Lookahead`] (at most `limit`
//! running and `perKey` per key, `lookahead` items buffered). Places, item
//! numbers and keys cross as `u32` (JS numbers its keys and reuses a
//! number once `done` says the key is forgotten: no strings cross, and the
//! wasm counts keys in a `Vec` by number, [`DenseKeys`]); "nothing" is [`NONE`]
//! (`wireNames().none`), never a number retyped in JS.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;
use weir::as_completed::{DenseKeys, Lookahead, Reorder, Window};

use crate::errors::range_error;

/// What `pull`, `pop`, `offer` and `nextStart` answer for "nothing": the
/// window is full, no result is due, the item waits, no buffered item can
/// start.
pub const NONE: u32 = u32::MAX;

/// A `RangeError` naming `what` when `bytes` cannot be allocated: the
/// rules allocate their buffers up front, and a failed allocation would
/// abort the wasm instance (every limiter with it) instead of throwing.
fn fits(bytes: usize, what: &str) -> Result<(), JsValue> {
    let refused = || {
        crate::errors::range_error_of(&["limitedAsCompleted: ", what, " is too large to allocate"])
    };
    if bytes == 0 {
        return Ok(());
    }
    let layout = core::alloc::Layout::from_size_align(bytes, 1).map_err(|_| refused())?;
    // SAFETY: `layout` has a non-zero size; the block is freed at once with
    // the same layout. The global allocator answers null (no abort) when the
    // memory cannot grow.
    let probe = unsafe { alloc::alloc::alloc(layout) };
    if probe.is_null() {
        return Err(refused());
    }
    // SAFETY: allocated just above with `layout`.
    unsafe { alloc::alloc::dealloc(probe, layout) };
    Ok(())
}

enum Rule {
    Window(Window),
    Ordered(Reorder<()>),
    Keyed(Lookahead<u32, u32, DenseKeys>),
}

/// One iteration's pull rule; see the module docs.
#[wasm_bindgen]
pub struct RawAsCompleted {
    rule: Rule,
}

#[wasm_bindgen]
impl RawAsCompleted {
    /// `limit` out of the source (completion order), or with `ordered` a
    /// reorder window of `limit` places, or with `perKey > 0` the keyed
    /// look-ahead (`limit` running, `perKey` per key, `lookahead` buffered).
    /// A `RangeError` for a `limit` or `perKey` of 0 given, or for `ordered`
    /// with `perKey`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        limit: u32,
        ordered: bool,
        per_key: u32,
        lookahead: u32,
    ) -> Result<RawAsCompleted, JsValue> {
        let zero = |_| range_error("limitedAsCompleted: limits must be at least 1");
        let limit = limit as usize;
        let rule = match (ordered, per_key) {
            (false, 0) => Rule::Window(Window::new(limit).map_err(zero)?),
            (true, 0) => {
                // One byte per place, allocated up front.
                fits(limit, "'concurrency' (the reorder window)")?;
                Rule::Ordered(Reorder::new(limit).map_err(zero)?)
            }
            (false, per_key) => {
                fits(
                    (lookahead as usize).saturating_mul(8),
                    "'lookahead' (the look-ahead buffer)",
                )?;
                Rule::Keyed(
                    Lookahead::with_counts(
                        limit,
                        per_key as usize,
                        lookahead as usize,
                        DenseKeys::default(),
                    )
                    .map_err(zero)?,
                )
            }
            (true, _) => {
                return Err(range_error(
                    "limitedAsCompleted: 'ordered' has no per-key look-ahead",
                ))
            }
        };
        Ok(RawAsCompleted { rule })
    }

    /// Whether one more item may be pulled from the source now.
    #[wasm_bindgen(js_name = canPull)]
    pub fn can_pull(&self) -> bool {
        match &self.rule {
            Rule::Window(w) => w.can_pull(),
            Rule::Ordered(r) => !r.is_full(),
            Rule::Keyed(k) => k.can_pull(),
        }
    }

    /// Count one item out of the source: its place in input order
    /// (ordered), `0` (completion order), or [`NONE`] when full (the pull
    /// stops) and for the keyed rule (which takes items through `offer`).
    pub fn pull(&mut self) -> u32 {
        match &mut self.rule {
            Rule::Window(w) => {
                if w.pull() {
                    0
                } else {
                    NONE
                }
            }
            Rule::Ordered(r) => r.reserve().map_or(NONE, |place| place as u32),
            Rule::Keyed(_) => NONE,
        }
    }

    /// The item at `place` finished (ordered); `false` if that place is not
    /// running. Other rules: `false`.
    pub fn finish(&mut self, place: u32) -> bool {
        match &mut self.rule {
            Rule::Ordered(r) => r.finish(place as usize, ()).is_ok(),
            _ => false,
        }
    }

    /// Ordered: the place of the oldest item if it finished (its place is
    /// freed: yield its value now), else [`NONE`]. Completion order: one
    /// pulled item was yielded or dropped (answers `0`).
    pub fn pop(&mut self) -> u32 {
        match &mut self.rule {
            Rule::Window(w) => {
                w.release();
                0
            }
            Rule::Ordered(r) => {
                let place = r.head() as u32;
                r.pop().map_or(NONE, |()| place)
            }
            Rule::Keyed(_) => NONE,
        }
    }

    /// Keyed: a pulled item (`item` numbers it) of the key numbered `key`.
    /// Answers `item` when it starts now, [`NONE`] when it waits in the
    /// look-ahead buffer.
    pub fn offer(&mut self, key: u32, item: u32) -> u32 {
        match &mut self.rule {
            Rule::Keyed(k) => k.offer(key, item).map_or(NONE, |(_, item)| item),
            _ => NONE,
        }
    }

    /// Keyed: a started item of key `key` finished (then call `nextStart`
    /// until it answers [`NONE`]). `true` when the key is forgotten: nothing
    /// of it runs or waits, its number may name another key.
    pub fn done(&mut self, key: u32) -> bool {
        match &mut self.rule {
            Rule::Keyed(k) => k.finish(&key),
            _ => false,
        }
    }

    /// Keyed: the number of the oldest buffered item that can start now, or
    /// [`NONE`].
    #[wasm_bindgen(js_name = nextStart)]
    pub fn next_start(&mut self) -> u32 {
        match &mut self.rule {
            Rule::Keyed(k) => k.next_start().map_or(NONE, |(_, item)| item),
            _ => NONE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_hands_out_places_and_gives_them_back_in_input_order() {
        let mut rule = RawAsCompleted::new(2, true, 0, 0).ok().unwrap();
        let (a, b) = (rule.pull(), rule.pull());
        assert_ne!(a, b);
        assert_eq!(rule.pull(), NONE, "full: the pull stops");
        assert!(!rule.can_pull());
        assert!(rule.finish(b));
        assert!(!rule.finish(b), "finished twice");
        assert_eq!(rule.pop(), NONE, "the first is still running");
        assert!(rule.finish(a));
        assert_eq!((rule.pop(), rule.pop(), rule.pop()), (a, b, NONE));
        assert!(rule.can_pull());
    }

    #[test]
    fn keyed_starts_other_keys_and_forgets_idle_ones() {
        // 2 running, 1 per key, 1 buffered.
        let mut rule = RawAsCompleted::new(2, false, 1, 1).ok().unwrap();
        assert_eq!(rule.offer(0, 10), 10, "starts");
        assert_eq!(rule.offer(0, 11), NONE, "key 0 is at its cap: waits");
        assert!(!rule.can_pull(), "the buffer is full");
        assert_eq!(rule.next_start(), NONE);
        assert!(!rule.done(0), "key 0 still has an item waiting");
        assert_eq!(rule.next_start(), 11);
        assert_eq!(rule.offer(1, 12), 12, "key 1 is not blocked by key 0");
        assert!(rule.done(0), "nothing of key 0 is left");
        assert!(rule.done(1));
        assert_eq!(rule.pull(), NONE, "keyed items come in through offer");
    }

    #[test]
    fn completion_order_counts_the_window() {
        let mut rule = RawAsCompleted::new(1, false, 0, 0).ok().unwrap();
        assert_eq!(rule.pull(), 0);
        assert_eq!(rule.pull(), NONE);
        rule.pop();
        assert!(rule.can_pull());
    }
}
