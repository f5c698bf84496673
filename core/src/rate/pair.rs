//! [`AtomicPair`]: two `u64`s replaced together by one compare-and-swap.
//!
//! Invariants:
//! - [`compare_exchange`](AtomicPair::compare_exchange) is one atomic step on
//!   both words (`lock cmpxchg16b` on x86-64, a full barrier); it is the only
//!   way the pair changes, so every value it ever holds was written whole;
//! - [`load`](AtomicPair::load) reads the two words one after the other and
//!   may return a *torn* pair (halves of two different values). Callers use
//!   a loaded pair only as the expected value of a compare-and-swap, which
//!   fails on a torn pair and returns the true one;
//! - under `cfg(loom)` the pair is two loom atomics (so loom explores torn
//!   loads) and a loom mutex that makes the compare-and-swap one step.
//!
//! Built only where [`SUPPORTED`] is true at compile time; whether the CPU
//! has `cmpxchg16b` is asked once, by [`AtomicPair::available`].

/// Whether this build has a lock-free pair at all.
pub(crate) const SUPPORTED: bool = cfg!(any(loom, all(feature = "std", target_arch = "x86_64")));

#[cfg(all(not(loom), feature = "std", target_arch = "x86_64"))]
mod imp {
    use core::cell::UnsafeCell;

    /// Two `u64`s, 16-byte aligned as `cmpxchg16b` requires.
    #[repr(C, align(16))]
    pub(crate) struct AtomicPair {
        words: UnsafeCell<[u64; 2]>,
    }

    // SAFETY: every access goes through `asm!` (atomic `cmpxchg16b`, or plain
    // loads whose tearing the callers tolerate): there is no Rust-level data
    // race on `words`.
    unsafe impl Sync for AtomicPair {}
    unsafe impl Send for AtomicPair {}

    impl AtomicPair {
        pub(crate) const fn new(value: [u64; 2]) -> Self {
            AtomicPair {
                words: UnsafeCell::new(value),
            }
        }

        /// Whether the CPU has `cmpxchg16b` (asked once per process).
        pub(crate) fn available() -> bool {
            std::is_x86_feature_detected!("cmpxchg16b")
        }

        /// Both words, possibly torn (see the module invariants).
        #[inline]
        pub(crate) fn load(&self) -> [u64; 2] {
            let ptr = self.words.get().cast::<u64>();
            let (lo, hi): (u64, u64);
            // SAFETY: `ptr` points to two live, aligned u64s; plain loads.
            unsafe {
                core::arch::asm!(
                    "mov {lo}, qword ptr [{ptr}]",
                    "mov {hi}, qword ptr [{ptr} + 8]",
                    ptr = in(reg) ptr,
                    lo = out(reg) lo,
                    hi = out(reg) hi,
                    options(nostack, preserves_flags, readonly),
                );
            }
            [lo, hi]
        }

        /// Replace `current` by `new` in one atomic step, or return the
        /// value found instead. Only call after [`available`](Self::available).
        #[inline]
        pub(crate) fn compare_exchange(
            &self,
            current: [u64; 2],
            new: [u64; 2],
        ) -> Result<(), [u64; 2]> {
            let ptr = self.words.get().cast::<u64>();
            let (lo, hi): (u64, u64);
            let swapped: u64;
            // SAFETY: `ptr` is 16-byte aligned and live; the caller checked
            // that the CPU has `cmpxchg16b`. `rbx` cannot be named as an
            // operand, so the new low word is swapped into it and `rbx`
            // restored after (`mov` and `xchg` leave ZF, the swap's outcome,
            // alone). Every other operand has a fixed register: one of the
            // allocator's choice could be `rbx` (the outcome was once given
            // `bl`, which the restore then overwrote: every swap read as
            // failed, and the caller retried — and admitted — until denied).
            unsafe {
                core::arch::asm!(
                    "xchg {rbx_tmp}, rbx",
                    "lock cmpxchg16b xmmword ptr [rdi]",
                    "sete cl",
                    "mov rbx, {rbx_tmp}",
                    in("rdi") ptr,
                    rbx_tmp = inout(reg) new[0] => _,
                    inout("rcx") new[1] => swapped,
                    inout("rax") current[0] => lo,
                    inout("rdx") current[1] => hi,
                    options(nostack),
                );
            }
            if swapped as u8 != 0 {
                Ok(())
            } else {
                Err([lo, hi])
            }
        }
    }
}

#[cfg(loom)]
mod imp {
    use loom::sync::atomic::{AtomicU64, Ordering};
    use loom::sync::Mutex;

    pub(crate) struct AtomicPair {
        words: [AtomicU64; 2],
        /// Makes a compare-and-swap one step; loads ignore it (and may tear).
        cas: Mutex<()>,
    }

    impl AtomicPair {
        pub(crate) fn new(value: [u64; 2]) -> Self {
            AtomicPair {
                words: [AtomicU64::new(value[0]), AtomicU64::new(value[1])],
                cas: Mutex::new(()),
            }
        }

        pub(crate) fn available() -> bool {
            true
        }

        pub(crate) fn load(&self) -> [u64; 2] {
            [
                self.words[0].load(Ordering::Acquire),
                self.words[1].load(Ordering::Acquire),
            ]
        }

        pub(crate) fn compare_exchange(
            &self,
            current: [u64; 2],
            new: [u64; 2],
        ) -> Result<(), [u64; 2]> {
            let _step = self.cas.lock().unwrap();
            let found = [
                self.words[0].load(Ordering::Acquire),
                self.words[1].load(Ordering::Acquire),
            ];
            if found != current {
                return Err(found);
            }
            // The high word first: a torn load then sees the new high word
            // with the old low one, like any other mix of two values.
            self.words[1].store(new[1], Ordering::Release);
            self.words[0].store(new[0], Ordering::Release);
            Ok(())
        }
    }
}

/// Builds without a lock-free pair: never available, never changed.
#[cfg(not(any(loom, all(feature = "std", target_arch = "x86_64"))))]
mod imp {
    pub(crate) struct AtomicPair([u64; 2]);

    impl AtomicPair {
        pub(crate) const fn new(value: [u64; 2]) -> Self {
            AtomicPair(value)
        }

        pub(crate) fn available() -> bool {
            false
        }

        pub(crate) fn load(&self) -> [u64; 2] {
            self.0
        }

        pub(crate) fn compare_exchange(
            &self,
            _current: [u64; 2],
            _new: [u64; 2],
        ) -> Result<(), [u64; 2]> {
            Err(self.0)
        }
    }
}

pub(crate) use imp::AtomicPair;

#[cfg(all(test, not(loom), feature = "std", target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn compare_exchange_replaces_both_words_or_reports_the_value_found() {
        assert!(
            AtomicPair::available(),
            "x86-64 CPUs of this century have cmpxchg16b"
        );
        let pair = AtomicPair::new([1, 2]);
        assert_eq!(pair.load(), [1, 2]);
        assert_eq!(pair.compare_exchange([1, 3], [9, 9]), Err([1, 2]));
        assert_eq!(pair.compare_exchange([0, 2], [9, 9]), Err([1, 2]));
        assert_eq!(pair.compare_exchange([1, 2], [u64::MAX, 7]), Ok(()));
        assert_eq!(pair.load(), [u64::MAX, 7]);
    }

    /// Two threads add 1 to both words 100,000 times each through CAS loops
    /// that start from possibly torn loads: no update is lost, and the two
    /// words never disagree.
    #[test]
    fn concurrent_increments_are_never_lost_or_torn() {
        let pair = std::sync::Arc::new(AtomicPair::new([0, 0]));
        let threads: std::vec::Vec<_> = (0..2)
            .map(|_| {
                let pair = pair.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        let mut cur = pair.load();
                        loop {
                            let next = [cur[0] + 1, cur[1] + 1];
                            match pair.compare_exchange(cur, next) {
                                Ok(()) => break,
                                Err(found) => {
                                    assert_eq!(found[0], found[1], "a CAS saw a torn pair");
                                    cur = found;
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(pair.load(), [200_000, 200_000]);
    }
}
