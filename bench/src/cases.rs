//! Every benchmark's id and the weir/peer pairs that the ratio table compares.

/// Items per iteration in the `limited_as_completed` benchmarks.
pub const LAC_ITEMS: usize = 10_000;
/// In-flight limit in the `limited_as_completed` benchmarks.
pub const LAC_LIMIT: usize = 64;

/// One criterion benchmark: `group/name`, and how many operations one
/// iteration performs (to report time per operation).
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Criterion group name.
    pub group: &'static str,
    /// Criterion function name within the group.
    pub name: &'static str,
    /// Operations per criterion iteration.
    pub ops_per_iter: usize,
}

impl Case {
    const fn new(group: &'static str, name: &'static str) -> Self {
        Case {
            group,
            name,
            ops_per_iter: 1,
        }
    }

    const fn per_item(group: &'static str, name: &'static str, items: usize) -> Self {
        Case {
            group,
            name,
            ops_per_iter: items,
        }
    }

    /// `group/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }
}

/// A weir case set against a peer case, with the target ratio if any.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    /// The weir side.
    pub weir: Case,
    /// The peer side.
    pub peer: Case,
    /// Target for `weir / peer` (`None`: shown for context only).
    pub target_ratio: Option<f64>,
    /// Target for weir's absolute ns per operation, if any.
    pub target_ns: Option<f64>,
}

/// Group: keyed acquire + release (weir, tokio) or keyed check (governor).
pub const KEYED: &str = "keyed_acquire";
/// Group: GCRA `check` on a fake clock read with one atomic load (both sides).
pub const GCRA_FAKE: &str = "gcra_check_fake_clock";
/// Group: GCRA `check` on each crate's real default clock.
pub const GCRA_REAL: &str = "gcra_check_real_clock";
/// Group: one read of each crate's real default clock (context for `GCRA_REAL`).
pub const CLOCK: &str = "clock_read";
/// Group: completion-order stream over ready futures, per item.
pub const LAC: &str = "as_completed_ready";
/// Group: two threads running the same operation on one shared limiter at
/// once; time per operation = wall time / operations of both threads.
pub const CONTENDED: &str = "contended_2_threads";

/// weir keyed semaphore, `u64` keys.
pub const WEIR_SEM_U64: Case = Case::new(KEYED, "weir_keyed_semaphore_u64");
/// weir keyed semaphore, `&'static str` keys.
pub const WEIR_SEM_STR: Case = Case::new(KEYED, "weir_keyed_semaphore_str");
/// tokio `Semaphore::try_acquire` + drop (no keys).
pub const TOKIO_SEM: Case = Case::new(KEYED, "tokio_semaphore_unkeyed");
/// governor `DefaultKeyedRateLimiter::check_key`, `u64` keys.
pub const GOV_KEYED_U64: Case = Case::new(KEYED, "governor_keyed_u64");
/// governor `DefaultKeyedRateLimiter::check_key`, `&'static str` keys.
pub const GOV_KEYED_STR: Case = Case::new(KEYED, "governor_keyed_str");

/// weir `RateLimiter<(), _>::check` on the fake clock.
pub const WEIR_GCRA_DIRECT_FAKE: Case = Case::new(GCRA_FAKE, "weir_direct");
/// weir `RateLimiter<u64, _>::check` on the fake clock.
pub const WEIR_GCRA_KEYED_FAKE: Case = Case::new(GCRA_FAKE, "weir_keyed_u64");
/// governor direct `check` on `FakeRelativeClock`.
pub const GOV_GCRA_DIRECT_FAKE: Case = Case::new(GCRA_FAKE, "governor_direct");
/// governor keyed `check_key` on `FakeRelativeClock`.
pub const GOV_GCRA_KEYED_FAKE: Case = Case::new(GCRA_FAKE, "governor_keyed_u64");

/// weir direct check on `FastClock` (the default std clock).
pub const WEIR_GCRA_DIRECT_REAL: Case = Case::new(GCRA_REAL, "weir_direct_fastclock");
/// weir keyed check on `FastClock`.
pub const WEIR_GCRA_KEYED_REAL: Case = Case::new(GCRA_REAL, "weir_keyed_u64_fastclock");
/// governor direct check on its default (quanta) clock.
pub const GOV_GCRA_DIRECT_REAL: Case = Case::new(GCRA_REAL, "governor_direct_quanta");
/// governor keyed check on its default (quanta) clock.
pub const GOV_GCRA_KEYED_REAL: Case = Case::new(GCRA_REAL, "governor_keyed_u64_quanta");

/// weir `FastClock::now` (the default std clock: calibrated TSC via `rdtscp`).
pub const WEIR_CLOCK: Case = Case::new(CLOCK, "weir_fastclock_now");
/// weir `StdClock::now` (`std::time::Instant` since the clock's origin).
pub const WEIR_STD_CLOCK: Case = Case::new(CLOCK, "weir_stdclock_now");
/// governor's default clock read (`QuantaClock::now`, TSC-based).
pub const GOV_CLOCK: Case = Case::new(CLOCK, "governor_quanta_now");

/// weir `limited_as_completed`.
pub const WEIR_LAC: Case = Case::per_item(LAC, "weir_limited_as_completed", LAC_ITEMS);
/// futures `buffer_unordered`.
pub const FUTURES_BU: Case = Case::per_item(LAC, "futures_buffer_unordered", LAC_ITEMS);
/// futures-buffered `buffered_unordered`.
pub const FB_BU: Case = Case::per_item(LAC, "futures_buffered_buffered_unordered", LAC_ITEMS);

/// weir `RateLimiter<(), FastClock>::check`, one global quota (lock-free), 2 threads.
pub const WEIR_GCRA_DIRECT_2T: Case = Case::new(CONTENDED, "weir_gcra_direct_fastclock");
/// governor direct `check` on its quanta clock, 2 threads.
pub const GOV_GCRA_DIRECT_2T: Case = Case::new(CONTENDED, "governor_direct_quanta");
/// weir keyed GCRA `check`, `u64` keys, `FastClock`, 2 threads.
pub const WEIR_GCRA_KEYED_2T: Case = Case::new(CONTENDED, "weir_gcra_keyed_u64_fastclock");
/// governor keyed `check_key`, `u64` keys, quanta clock, 2 threads.
pub const GOV_GCRA_KEYED_2T: Case = Case::new(CONTENDED, "governor_keyed_u64_quanta");
/// weir keyed semaphore `try_acquire` + drop, `u64` keys, 2 threads.
pub const WEIR_SEM_2T: Case = Case::new(CONTENDED, "weir_keyed_semaphore_u64");
/// tokio `Semaphore::try_acquire` + drop, 2 threads.
pub const TOKIO_SEM_2T: Case = Case::new(CONTENDED, "tokio_semaphore_unkeyed");

/// Group: the atomic primitives alone (context for the ratios above).
pub const PRIMITIVES: &str = "primitives";
/// One 16-byte compare-and-swap (`lock cmpxchg16b`): weir's lock-free GCRA.
pub const CAS16: Case = Case::new(PRIMITIVES, "cas_16_bytes");
/// One 8-byte compare-and-swap: governor's GCRA.
pub const CAS8: Case = Case::new(PRIMITIVES, "cas_8_bytes");
/// `std::sync::Mutex` lock + unlock, uncontended (weir's semaphore: 2 per pair).
pub const MUTEX: Case = Case::new(PRIMITIVES, "std_mutex_lock_unlock");

/// The comparisons printed by the ratio table, in order.
pub const PAIRS: &[Pair] = &[
    Pair {
        weir: WEIR_SEM_U64,
        peer: GOV_KEYED_U64,
        target_ratio: Some(1.0),
        target_ns: Some(40.0),
    },
    Pair {
        weir: WEIR_SEM_STR,
        peer: GOV_KEYED_STR,
        target_ratio: Some(1.0),
        target_ns: Some(40.0),
    },
    Pair {
        weir: WEIR_SEM_U64,
        peer: TOKIO_SEM,
        target_ratio: Some(1.5),
        target_ns: None,
    },
    Pair {
        weir: WEIR_GCRA_DIRECT_FAKE,
        peer: GOV_GCRA_DIRECT_FAKE,
        target_ratio: Some(1.0),
        target_ns: None,
    },
    Pair {
        weir: WEIR_GCRA_KEYED_FAKE,
        peer: GOV_GCRA_KEYED_FAKE,
        target_ratio: Some(1.0),
        target_ns: None,
    },
    Pair {
        weir: WEIR_GCRA_DIRECT_REAL,
        peer: GOV_GCRA_DIRECT_REAL,
        target_ratio: Some(1.0),
        target_ns: None,
    },
    Pair {
        weir: WEIR_GCRA_KEYED_REAL,
        peer: GOV_GCRA_KEYED_REAL,
        target_ratio: Some(1.0),
        target_ns: None,
    },
    Pair {
        weir: WEIR_CLOCK,
        peer: GOV_CLOCK,
        target_ratio: Some(1.1),
        target_ns: None,
    },
    Pair {
        weir: WEIR_STD_CLOCK,
        peer: GOV_CLOCK,
        target_ratio: None,
        target_ns: None,
    },
    Pair {
        weir: WEIR_LAC,
        peer: FUTURES_BU,
        target_ratio: Some(0.7),
        target_ns: None,
    },
    Pair {
        weir: WEIR_LAC,
        peer: FB_BU,
        target_ratio: None,
        target_ns: None,
    },
    Pair {
        weir: CAS16,
        peer: CAS8,
        target_ratio: None,
        target_ns: None,
    },
    Pair {
        weir: WEIR_GCRA_DIRECT_2T,
        peer: GOV_GCRA_DIRECT_2T,
        target_ratio: None,
        target_ns: None,
    },
    Pair {
        weir: WEIR_GCRA_KEYED_2T,
        peer: GOV_GCRA_KEYED_2T,
        target_ratio: None,
        target_ns: None,
    },
    Pair {
        weir: WEIR_SEM_2T,
        peer: GOV_GCRA_KEYED_2T,
        target_ratio: None,
        target_ns: None,
    },
    Pair {
        weir: WEIR_SEM_2T,
        peer: TOKIO_SEM_2T,
        target_ratio: None,
        target_ns: None,
    },
];
