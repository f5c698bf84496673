//! GCRA arithmetic: window bounds, no drift, exact not-until instants, several
//! quotas at once, frozen and backward clocks.

use core::time::Duration;

use proptest::prelude::*;
use weir::rate::Gcra;
use weir::{Denied, Instant, ManualClock, Quota, RateLimiter};

/// Every window over the admitted sequence obeys `cost ≤ burst + rate·w`,
/// checked exactly in scaled integers: `cost·I ≤ burst·I + w·L`.
fn assert_windows(quota: &Quota, admitted: &[(u64, u32)]) {
    let i = quota.interval().as_nanos();
    let l = u128::from(quota.limit());
    let b = u128::from(quota.burst());
    for start in 0..admitted.len() {
        let mut cost = 0u128;
        for &(t, c) in &admitted[start..] {
            cost += u128::from(c);
            let w = u128::from(t - admitted[start].0);
            assert!(
                cost * i <= b * i + w * l,
                "window [{}, {t}] admitted {cost} > burst {b} + rate·{w}ns for {quota:?}",
                admitted[start].0
            );
        }
    }
}

/// One quota checked four ways: the pure cell, a limiter on the lock-free
/// path (a single global quota), the same with a floor range of 2^6 ns (a
/// re-base through the lock every few checks), and a limiter on the locked
/// path (the same quota plus one that never binds). The single-quota
/// properties below hold for each.
enum Subject {
    Cell(Gcra),
    Limiter(Box<RateLimiter<(), ManualClock>>, ManualClock),
}

impl Subject {
    fn all(quota: Quota) -> [Subject; 4] {
        let limiter = |quotas: &[Quota], lock_free: bool, range_bits: Option<u32>| {
            let clock = ManualClock::new();
            let limiter =
                RateLimiter::new(quotas, &[], clock.clone()).with_lock_free_range_bits(range_bits);
            assert_eq!(limiter.is_lock_free(), lock_free);
            Subject::Limiter(Box::new(limiter), clock)
        };
        let never_binding = Quota::new(u32::MAX, Duration::from_nanos(1))
            .unwrap()
            .with_burst(u32::MAX)
            .unwrap();
        [
            Subject::Cell(Gcra::new(quota)),
            limiter(&[quota], true, None),
            limiter(&[quota], true, Some(6)),
            limiter(&[quota, never_binding], false, None),
        ]
    }

    fn check(&mut self, now: u64, cost: u32) -> Result<(), Instant> {
        match self {
            Subject::Cell(cell) => cell.check(Instant::from_nanos(now), cost),
            Subject::Limiter(limiter, clock) => {
                clock.set(Instant::from_nanos(now));
                limiter.check(&(), cost).map_err(not_until)
            }
        }
    }

    fn peek(&mut self, now: u64, cost: u32) -> Result<(), Instant> {
        match self {
            Subject::Cell(cell) => cell.peek(Instant::from_nanos(now), cost),
            Subject::Limiter(limiter, clock) => {
                clock.set(Instant::from_nanos(now));
                limiter.peek(&(), cost).map_err(not_until)
            }
        }
    }
}

fn not_until(denied: Denied) -> Instant {
    match denied {
        Denied::NotUntil(at) => at,
        Denied::ExceedsBurst { .. } => Instant::MAX,
    }
}

fn quota_strategy() -> impl Strategy<Value = Quota> {
    (1u32..20, 1u64..5_000, 1u32..10).prop_map(|(limit, interval, burst)| {
        Quota::new(limit, Duration::from_nanos(interval))
            .unwrap()
            .with_burst(burst)
            .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random arrivals and costs against one cell: every window holds.
    #[test]
    fn every_window_is_bounded(
        quota in quota_strategy(),
        arrivals in prop::collection::vec((0u64..2_000, 1u32..10), 1..150),
    ) {
        for mut cell in Subject::all(quota) {
            let mut now = 0u64;
            let mut admitted = Vec::new();
            for &(gap, cost) in &arrivals {
                now += gap;
                if cell.check(now, cost).is_ok() {
                    admitted.push((now, cost));
                }
            }
            assert_windows(&quota, &admitted);
        }
    }

    /// Greedy demand (retrying exactly at each not-until) over a long run
    /// admits exactly `burst + ⌊D·L/I⌋` whenever `(burst − 1)·T ≥ 1 ns`: no
    /// drift, no rounding loss. (With less slack than one clock tick, the
    /// window bound forces whole-ns spacing: then at least one per ⌈T⌉.)
    #[test]
    fn long_run_admits_exactly_the_rate(quota in quota_strategy(), periods in 1u64..200) {
        let interval = quota.interval().as_nanos() as u64;
        let span = interval * periods + 7;
        for mut cell in Subject::all(quota) {
            let mut now = 0u64;
            let mut admitted = 0u64;
            while now <= span {
                match cell.check(now, 1) {
                    Ok(()) => admitted += 1,
                    Err(at) => {
                        prop_assert!(at.as_nanos() > now);
                        now = at.as_nanos();
                    }
                }
            }
            let (l, b) = (u64::from(quota.limit()), u64::from(quota.burst()));
            let expected = b + span * l / interval;
            if (b - 1) * interval >= l {
                prop_assert_eq!(admitted, expected);
            } else {
                prop_assert!(admitted <= expected);
                prop_assert!(admitted > span / interval.div_ceil(l), "admitted {}", admitted);
            }
        }
    }

    /// Random demand above the rate, checked at random gaps: the window bound
    /// holds and the long-run total is within one burst of the rate.
    #[test]
    fn dense_demand_tracks_the_rate(quota in quota_strategy(), gaps in prop::collection::vec(0u64..50, 500..2_000), way in 0usize..4) {
        let mut cell = Subject::all(quota).into_iter().nth(way).unwrap();
        let mut now = 0u64;
        let mut admitted = Vec::new();
        for gap in gaps {
            now += gap;
            // Demand: keep asking until denied at this instant.
            while cell.check(now, 1).is_ok() {
                admitted.push((now, 1));
            }
        }
        assert_windows(&quota, &admitted);
        let total = admitted.len() as u128;
        let ideal = u128::from(now) * u128::from(quota.limit()) / quota.interval().as_nanos();
        prop_assert!(total <= ideal + u128::from(quota.burst()));
        // Each admission comes at most one gap (< 50 ns) plus one clock tick
        // after its theoretical time.
        let (l, i) = (u128::from(quota.limit()), quota.interval().as_nanos());
        prop_assert!((total + 1) * (i + 51 * l) >= u128::from(now) * l, "total {} ideal {}", total, ideal);
    }

    /// The instant a denied check names is the first instant it passes.
    #[test]
    fn not_until_is_exact(
        quota in quota_strategy(),
        arrivals in prop::collection::vec((0u64..500, 1u32..10), 1..60),
        cost in 1u32..10,
    ) {
        let cost = cost.min(quota.burst());
        for mut cell in Subject::all(quota) {
            let mut now = 0u64;
            for &(gap, c) in &arrivals {
                now += gap;
                let _ = cell.check(now, c.min(quota.burst()));
            }
            if let Err(at) = cell.peek(now, cost) {
                prop_assert!(at.as_nanos() > now);
                prop_assert_eq!(
                    cell.peek(at.as_nanos() - 1, cost),
                    Err(at),
                    "one ns early must be denied with the same answer"
                );
                prop_assert_eq!(cell.check(at.as_nanos(), cost), Ok(()));
            }
        }
    }

    /// Several quotas on one limiter behave exactly like independent cells
    /// that consume only when all admit; every bound holds for each quota.
    #[test]
    fn several_quotas_are_atomic(
        q1 in quota_strategy(),
        q2 in quota_strategy(),
        keyed in any::<bool>(),
        arrivals in prop::collection::vec((0u64..2_000, 1u32..10), 1..150),
    ) {
        let clock = ManualClock::new();
        let limiter = if keyed {
            RateLimiter::new(&[q1], &[q2], clock.clone())
        } else {
            RateLimiter::new(&[q1, q2], &[], clock.clone())
        };
        let (mut m1, mut m2) = (Gcra::new(q1), Gcra::new(q2));
        let min_burst = q1.burst().min(q2.burst());
        let mut admitted = Vec::new();
        let mut now = 0u64;
        for (gap, cost) in arrivals {
            now += gap;
            clock.set(Instant::from_nanos(now));
            let t = Instant::from_nanos(now);
            let got = limiter.check(&"k", cost);
            if cost > min_burst {
                prop_assert_eq!(got, Err(Denied::ExceedsBurst { cost, burst: min_burst }));
                continue;
            }
            match (m1.peek(t, cost), m2.peek(t, cost)) {
                (Ok(()), Ok(())) => {
                    prop_assert_eq!(got, Ok(()));
                    m1.check(t, cost).unwrap();
                    m2.check(t, cost).unwrap();
                    admitted.push((now, cost));
                }
                (a, b) => {
                    let expected = a.err().into_iter().chain(b.err()).max().unwrap();
                    prop_assert_eq!(got, Err(Denied::NotUntil(expected)));
                }
            }
        }
        assert_windows(&q1, &admitted);
        assert_windows(&q2, &admitted);
    }

    /// A clock that jumps back and forth never panics and never admits more
    /// than the bound on the forward-only axis (the running maximum).
    #[test]
    fn clock_stepping_back_never_over_admits(
        quota in quota_strategy(),
        times in prop::collection::vec((0u64..20_000, 1u32..10), 1..150),
        lock_free in any::<bool>(),
        range_bits in prop_oneof![Just(None), (1u32..12).prop_map(Some)],
    ) {
        let clock = ManualClock::new();
        // A single global quota runs lock-free; with a per-key one, locked.
        let per_key = if lock_free { &[][..] } else { &[quota][..] };
        let limiter = RateLimiter::new(&[quota], per_key, clock.clone())
            .with_lock_free_range_bits(range_bits);
        prop_assert_eq!(limiter.is_lock_free(), lock_free);
        let mut high = 0u64;
        let mut admitted = Vec::new();
        for (t, cost) in times {
            clock.set(Instant::from_nanos(t));
            if cost <= quota.burst() {
                high = high.max(t); // the limiter reads the clock only then
            }
            if limiter.check(&1u8, cost).is_ok() {
                admitted.push((high, cost));
            }
        }
        assert_windows(&quota, &admitted);
    }
}

#[test]
fn three_per_second_for_an_hour_is_exact() {
    let mut cell = Gcra::new(Quota::per_second(3).unwrap());
    let end = 3_600_000_000_000u64;
    let (mut now, mut admitted) = (0u64, 0u64);
    while now <= end {
        match cell.check(Instant::from_nanos(now), 1) {
            Ok(()) => admitted += 1,
            Err(at) => now = at.as_nanos(),
        }
    }
    assert_eq!(admitted, 3 + 3 * 3_600);
}

#[test]
fn one_ns_before_not_until_is_denied() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(&[], &[Quota::per_second(3).unwrap()], clock.clone());
    for _ in 0..3 {
        limiter.check(&"k", 1).unwrap();
    }
    // 1/3 s is 333_333_333.33… ns: the answer is rounded up, never down.
    let Err(Denied::NotUntil(at)) = limiter.check(&"k", 1) else {
        panic!("should be denied")
    };
    assert_eq!(at, Instant::from_nanos(333_333_334));
    clock.set(Instant::from_nanos(at.as_nanos() - 1));
    assert_eq!(limiter.check(&"k", 1), Err(Denied::NotUntil(at)));
    clock.set(at);
    assert_eq!(limiter.check(&"k", 1), Ok(()));
    // The next slot carries the remainder: 2/3 s, rounded up once.
    assert_eq!(
        limiter.check(&"k", 1),
        Err(Denied::NotUntil(Instant::from_nanos(666_666_667)))
    );
}

#[test]
fn frozen_clock_admits_only_the_burst() {
    let clock = ManualClock::starting_at(Instant::from_nanos(5_000_000_000));
    let limiter = RateLimiter::new(
        &[Quota::per_second(10).unwrap()],
        &[Quota::per_second(4).unwrap().with_burst(6).unwrap()],
        clock.clone(),
    );
    let admitted = (0..1_000)
        .filter(|_| limiter.check(&"k", 1).is_ok())
        .count();
    assert_eq!(admitted, 6);
    let others = (0..1_000)
        .filter(|_| limiter.check(&"other", 1).is_ok())
        .count();
    assert_eq!(others, 4, "the global 10/s leaves 4 for another key");
}

#[test]
fn clock_stepping_back_admits_nothing_extra() {
    let clock = ManualClock::starting_at(Instant::from_nanos(10_000_000_000));
    let limiter = RateLimiter::new(&[], &[Quota::per_second(2).unwrap()], clock.clone());
    assert_eq!(limiter.check(&"k", 2), Ok(()));
    clock.set(Instant::ZERO);
    assert_eq!(
        limiter.check(&"k", 1),
        Err(Denied::NotUntil(Instant::from_nanos(10_500_000_000)))
    );
    // Even after eviction is attempted, the stepped-back clock gains nothing.
    limiter.evict_idle();
    assert_eq!(limiter.keys(), 1);
    clock.set(Instant::from_nanos(10_499_999_999));
    assert!(limiter.check(&"k", 1).is_err());
    clock.set(Instant::from_nanos(10_500_000_000));
    assert_eq!(limiter.check(&"k", 1), Ok(()));
    // Extreme instants: no panic, answers saturate.
    clock.set(Instant::MAX);
    assert_eq!(limiter.check(&"k", 2), Ok(()));
    assert!(limiter.check(&"k", 2).is_err());
}

#[test]
fn exceeding_the_burst_is_an_error_not_a_hang() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(
        &[Quota::per_minute(60).unwrap()],
        &[Quota::per_second(4).unwrap()],
        clock,
    );
    assert_eq!(
        limiter.check(&"k", 5),
        Err(Denied::ExceedsBurst { cost: 5, burst: 4 })
    );
    assert_eq!(
        limiter.peek(&"k", 5),
        Err(Denied::ExceedsBurst { cost: 5, burst: 4 })
    );
    assert_eq!(limiter.check(&"k", 4), Ok(()));
    let mut cell = Gcra::new(Quota::per_second(1).unwrap());
    assert_eq!(cell.check(Instant::ZERO, 2), Err(Instant::MAX));
}

#[test]
fn denial_by_one_quota_consumes_nothing_in_the_other() {
    let clock = ManualClock::new();
    // 4/s and 60/min: the burst of 4 then per-second pacing, capped per minute.
    let limiter = RateLimiter::new(
        &[Quota::per_second(4).unwrap(), Quota::per_minute(6).unwrap()],
        &[],
        clock.clone(),
    );
    for _ in 0..4 {
        limiter.check(&(), 1).unwrap();
    }
    // Denied by 4/s (until 250 ms); 60/min must be untouched: 2 left.
    for _ in 0..100 {
        assert_eq!(
            limiter.check(&(), 1),
            Err(Denied::NotUntil(Instant::from_nanos(250_000_000)))
        );
    }
    clock.set(Instant::from_nanos(500_000_000));
    assert_eq!(limiter.check(&(), 1), Ok(()));
    assert_eq!(limiter.check(&(), 1), Ok(()));
    // Now the per-minute quota is the one that binds: next slot at 10 s.
    assert_eq!(
        limiter.check(&(), 1),
        Err(Denied::NotUntil(Instant::from_nanos(10_000_000_000)))
    );
    assert_eq!(
        limiter.peek(&(), 1),
        Err(Denied::NotUntil(Instant::from_nanos(10_000_000_000)))
    );
}

#[test]
fn quota_validation() {
    use weir::QuotaError;
    assert_eq!(
        Quota::new(0, Duration::from_secs(1)),
        Err(QuotaError::ZeroLimit)
    );
    assert_eq!(Quota::new(1, Duration::ZERO), Err(QuotaError::ZeroInterval));
    assert_eq!(
        Quota::per_second(1).unwrap().with_burst(0),
        Err(QuotaError::ZeroBurst)
    );
    let q = Quota::per_minute(60).unwrap().with_burst(7).unwrap();
    assert_eq!(
        (q.limit(), q.interval(), q.burst()),
        (60, Duration::from_secs(60), 7)
    );
    assert!(!QuotaError::ZeroLimit.to_string().is_empty());
}
