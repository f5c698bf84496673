//! [`Window`]: the pull rule of the completion-order form — at most `limit`
//! items pulled and not yet yielded.
//!
//! Invariants:
//! - `held() <= limit()` always: [`pull`](Window::pull) refuses (returns
//!   `false`) when the window is full, so the caller stops pulling; nothing
//!   is dropped, the source simply is not advanced.
//! - [`release`](Window::release) is called once per pulled item, when its
//!   output is yielded (or the item is abandoned); a release with nothing
//!   held is ignored, so the count never wraps.
//!
//! [`LimitedAsCompleted`](super::LimitedAsCompleted) drives it, and so does
//! the JS `limitedAsCompleted` (through the wasm bindings).

use super::ZeroLimit;

/// How many items may be out of the source at once, and how many are.
///
/// ```
/// use weir::as_completed::Window;
///
/// let mut window = Window::new(2).unwrap();
/// assert!(window.pull() && window.pull());
/// assert!(!window.pull(), "full: the pull stops");
/// window.release();
/// assert!(window.can_pull());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    limit: usize,
    held: usize,
}

impl Window {
    /// A window of `limit` items; [`ZeroLimit`] if `limit` is 0.
    pub fn new(limit: usize) -> Result<Self, ZeroLimit> {
        if limit == 0 {
            return Err(ZeroLimit);
        }
        Ok(Self { limit, held: 0 })
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Items pulled and not yet released.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Whether one more item may be pulled.
    pub fn can_pull(&self) -> bool {
        self.held < self.limit
    }

    /// Counts one more item out of the source; `false` (and nothing
    /// counted) when the window is full.
    pub fn pull(&mut self) -> bool {
        if self.held >= self.limit {
            return false;
        }
        self.held += 1;
        true
    }

    /// One pulled item was yielded or abandoned.
    pub fn release(&mut self) {
        self.held = self.held.saturating_sub(1);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn zero_is_refused_and_the_bound_holds() {
        assert_eq!(Window::new(0), Err(ZeroLimit));
        let mut w = Window::new(3).unwrap();
        let pulled = (0..10).filter(|_| w.pull()).count();
        assert_eq!((pulled, w.held()), (3, 3));
        w.release();
        w.release();
        w.release();
        w.release(); // one too many: ignored
        assert_eq!(w.held(), 0);
        assert!(w.pull());
    }
}
