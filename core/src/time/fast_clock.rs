//! [`FastClock`]: the default clock under `std` — a calibrated time-stamp
//! counter where the hardware and the OS vouch for it, the OS monotonic
//! clock otherwise.
//!
//! Invariants:
//! - readings of one clock (and of its copies) never decrease, on any core:
//!   the counter path is taken only on x86-64 when the CPU reports an
//!   invariant TSC (constant rate through power states) and `rdtscp`, and,
//!   on Linux, when the kernel itself has chosen `tsc` as its clocksource
//!   (it does so only after its cross-CPU synchronisation check passed, and
//!   switches away if its watchdog later sees the TSC drift); everywhere
//!   else the OS monotonic clock is read (as [`StdClock`](super::StdClock)
//!   does);
//! - the counter is read with `rdtscp`, which waits until every earlier load
//!   is globally visible: a reading taken after observing another thread's
//!   reading is never smaller than it (a plain `rdtsc` may execute ahead of
//!   that load);
//! - the counter is scaled to nanoseconds by quanta's calibration against
//!   the OS monotonic clock (done once per process, on the first clock built);
//! - the origin is the clock's creation; copies share it.
//!
//! Every algorithm in this crate tolerates a clock that stands still or
//! steps back (it clamps to the latest instant it has seen), so even a
//! counter that drifted across sockets could only make decisions stricter.

use super::{Clock, Instant, StdClock};

/// The fastest monotonic clock the platform offers, measured from the moment
/// it was created: a calibrated TSC read (≈ 4 ns on x86-64, against ≈ 20–30 ns
/// for `std::time::Instant::now`) where it is safe, else [`StdClock`].
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

/// The TSC, read once every earlier load is globally visible.
#[cfg(target_arch = "x86_64")]
#[inline]
fn read_counter() -> u64 {
    let mut aux = 0u32;
    // SAFETY: `rdtscp` exists (checked by `counter_is_trusted` before any
    // `Source::Counter` is built) and only writes `aux`.
    unsafe { core::arch::x86_64::__rdtscp(&mut aux) }
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

    /// Two threads (free to run on both cores) read one clock in lock step:
    /// a reading taken after another thread's reading (ordered by a
    /// release/acquire hand-off) is never smaller.
    #[test]
    fn readings_handed_between_threads_never_go_back() {
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
                        assert!(t >= seen, "read {t} after another thread read {seen}");
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
