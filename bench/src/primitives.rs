//! The atomic primitives the hot paths are built from, timed alone: what
//! each side's check or acquire + release pays at least.
//!
//! - [`Cas8`]: one `AtomicU64::compare_exchange` (governor's GCRA state);
//! - [`Cas16`]: one `lock cmpxchg16b` on a 16-byte aligned pair (weir's
//!   lock-free GCRA state: clock floor + backlog), x86-64 only;
//! - a `std::sync::Mutex` lock + unlock is timed directly in the benchmark
//!   (weir's keyed semaphore takes two per acquire + release).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// An `AtomicU64` advanced by compare-and-swap.
#[derive(Debug, Default)]
pub struct Cas8(AtomicU64);

impl Cas8 {
    /// Adds 1 by one compare-and-swap from the value loaded.
    #[inline]
    pub fn bump(&self) -> bool {
        let v = self.0.load(Ordering::Relaxed);
        self.0
            .compare_exchange(v, v + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }
}

/// A 16-byte pair advanced by `lock cmpxchg16b`.
#[derive(Debug)]
#[repr(C, align(16))]
pub struct Cas16(UnsafeCell<[u64; 2]>);

impl Cas16 {
    /// A zeroed pair, if the CPU has `cmpxchg16b`.
    #[cfg(target_arch = "x86_64")]
    pub fn new() -> Option<Self> {
        std::is_x86_feature_detected!("cmpxchg16b").then(|| Cas16(UnsafeCell::new([0, 0])))
    }
}

// SAFETY: accessed only through `bump`'s atomic instruction and plain loads
// whose tearing only makes the compare-and-swap fail.
unsafe impl Sync for Cas16 {}

impl Cas16 {
    /// Adds 1 to both words by one 16-byte compare-and-swap from the
    /// (possibly torn) words loaded.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    pub fn bump(&self) -> bool {
        let ptr = self.0.get().cast::<u64>();
        // SAFETY: `ptr` is aligned and live; volatile plain loads.
        let (lo, hi) = unsafe { (ptr.read_volatile(), ptr.add(1).read_volatile()) };
        let swapped: u8;
        // SAFETY: aligned 16 bytes, `cmpxchg16b` checked by `new`; `rbx` is
        // swapped in and restored around the instruction (LLVM reserves it).
        unsafe {
            std::arch::asm!(
                "xchg {t}, rbx",
                "lock cmpxchg16b xmmword ptr [{p}]",
                "sete {ok}",
                "mov rbx, {t}",
                p = in(reg) ptr,
                t = inout(reg) lo + 1 => _,
                ok = out(reg_byte) swapped,
                in("rcx") hi + 1,
                inout("rax") lo => _,
                inout("rdx") hi => _,
                options(nostack),
            );
        }
        swapped != 0
    }
}
