//! [`FastClock`]: the default clock under `std` — a calibrated time-stamp
//! counter where the hardware and the OS vouch for it, the OS monotonic
//! clock otherwise.
//!
//! Invariants:
//! - one counter for every core: the counter path is taken only on x86-64
//!   when the CPU reports an invariant TSC (constant rate through power
//!   states) and `rdtscp`, and, on Linux, when the kernel itself has chosen
//!   `tsc` as its clocksource (it does so only after its cross-CPU
//!   synchronisation check passed, and switches away if its watchdog later
//!   sees the TSC drift); everywhere else the OS monotonic clock is read (as
//!   [`StdClock`](super::StdClock) does);
//! - readings on one thread never decrease. The counter is read with plain
//!   `rdtsc`, which is not ordered with memory accesses: a reading taken
//!   just after seeing another thread's reading may come out a few
//!   nanoseconds below it (an `rdtscp` or `lfence` would order it, at about
//!   twice the cost of the read, measured on the development machine). Every
//!   algorithm here clamps `now` to the latest instant it has seen, so such
//!   a reading counts as time standing still: never an extra admission;
//! - the counter is scaled to nanoseconds by quanta's calibration against
//!   the OS monotonic clock (done once per process, on the first clock built);
//! - the origin is the clock's creation; copies share it.

use super::{Clock, Instant, StdClock};

/// The fastest monotonic clock the platform offers, measured from the moment
/// it was created: a calibrated TSC read (as fast as quanta's, about a third
/// of `std::time::Instant::now`'s cost) where it is safe, else [`StdClock`].
///
/// ```
/// use weir::{Clock, FastClock, Quota, RateLimiter};
/// let clock = FastClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// let limiter = RateLimiter::new(&[Quota::per_second(100)?], &[], clock);
/// assert!(limiter.check(&(), 1).is_ok());
/// # Ok::<(), weir::QuotaError>(())
/// ```
#[derive(Clone, Debug)]
pub struct FastClock {
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    /// quanta's calibrated counter, and its raw reading at our origin.
    #[cfg(target_arch = "x86_64")]
    Counter { clock: quanta::Clock, origin: u64 },
    /// The OS monotonic clock.
    Os(StdClock),
}

impl FastClock {
    /// A clock whose origin is now. The first clock built in a process may
    /// take a few milliseconds (quanta calibrates the counter once).
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        if counter_is_trusted() {
            let clock = quanta::Clock::new();
            let origin = read_counter();
            return FastClock {
                source: Source::Counter { clock, origin },
            };
        }
        FastClock {
            source: Source::Os(StdClock::new()),
        }
    }

    /// True when this clock reads the CPU's counter (false: the OS clock).
    pub fn is_counter(&self) -> bool {
        !matches!(self.source, Source::Os(_))
    }
}

impl Default for FastClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for FastClock {
    #[inline]
    fn now(&self) -> Instant {
        match &self.source {
            #[cfg(target_arch = "x86_64")]
            Source::Counter { clock, origin } => {
                // Counter ticks since the origin, scaled to ns by quanta's
                // calibration (0 if a reading ever came out below the origin).
                Instant::from_nanos(clock.delta_as_nanos(*origin, read_counter()))
            }
            Source::Os(clock) => clock.now(),
        }
    }
}

/// The TSC (unordered with memory accesses; see the module docs).
#[cfg(target_arch = "x86_64")]
#[inline]
fn read_counter() -> u64 {
    // SAFETY: `rdtsc` exists on every x86-64 CPU and has no side effects.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

/// Whether the counter may be used: the CPU has an invariant TSC and
/// `rdtscp`, and (on Linux) the kernel's clocksource is `tsc`. Decided once
/// per process.
#[cfg(target_arch = "x86_64")]
fn counter_is_trusted() -> bool {
    static TRUSTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // `__cpuid` is a safe fn on recent compilers, unsafe on older ones.
    #[allow(unused_unsafe)]
    *TRUSTED.get_or_init(|| {
        use core::arch::x86_64::__cpuid;
        // SAFETY: `cpuid` is available on every x86-64 CPU.
        let max_extended = unsafe { __cpuid(0x8000_0000) }.eax;
        if max_extended < 0x8000_0007 {
            return false;
        }
        // SAFETY: as above; both leaves are at most `max_extended`.
        let rdtscp = unsafe { __cpuid(0x8000_0001) }.edx & (1 << 27) != 0;
        let invariant = unsafe { __cpuid(0x8000_0007) }.edx & (1 << 8) != 0;
        let kernel = if cfg!(target_os = "linux") {
            let path = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
            std::fs::read_to_string(path).is_ok_and(|s| s.trim() == "tsc")
        } else {
            true
        };
        rdtscp && invariant && kernel
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    /// Readings never decrease, and track the OS clock to within 0.1 %
    /// (calibration error) over a short span.
    #[test]
    fn fast_clock_is_monotonic_and_tracks_the_os_clock() {
        let clock = FastClock::new();
        let os = std::time::Instant::now();
        let start = clock.now();
        let mut last = start;
        for _ in 0..100_000 {
            let t = clock.now();
            assert!(t >= last, "{t:?} < {last:?}");
            last = t;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let fast = clock.now().as_nanos() - start.as_nanos();
        let real = os.elapsed().as_nanos() as u64;
        // `fast` started a little after `os` and ended a little before; the
        // calibration may be off by some 100 ppm on a loaded machine.
        let slack = real / 1_000 + 2_000_000;
        assert!(fast.abs_diff(real) <= slack, "fast {fast} ns, os {real} ns");
    }

    /// Two threads (free to run on both cores) read one clock in turn: a
    /// reading taken after seeing another thread's reading is never more
    /// than a few microseconds below it (an unsynchronised TSC would be off
    /// by far more; `rdtsc` may run a few ns ahead of the load).
    #[test]
    fn readings_handed_between_threads_agree_across_cores() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let clock = FastClock::new();
        let shared = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (clock, shared, barrier) = (clock.clone(), shared.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..50_000 {
                        let seen = shared.load(Ordering::Acquire);
                        let t = clock.now().as_nanos();
                        assert!(
                            t + 10_000 >= seen,
                            "read {t} after another thread read {seen}"
                        );
                        shared.fetch_max(t, Ordering::AcqRel);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}
