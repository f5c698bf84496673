//! The adaptive controllers fed by hand: bounds, stale samples, overload,
//! probing, keyed eviction and caps.

use core::time::Duration;

use proptest::prelude::*;
use weir::adaptive::{AdaptiveConfig, AdaptiveLimit, Algorithm, KeyedAdaptive, Outcome, Sample};
use weir::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(t: Duration) -> Instant {
    Instant::from_nanos(t.as_nanos() as u64)
}

fn config(min: u32, max: u32, initial: u32, algorithm: Algorithm) -> AdaptiveConfig {
    AdaptiveConfig {
        min,
        max,
        initial,
        algorithm,
    }
}

/// Runs rounds of a closed loop against a server whose RTT at concurrency
/// `n` is `rtt(n)`: each round sends `limit` requests at `now` and feeds
/// their samples one RTT later. Returns the time after the last round.
fn rounds(
    limit: &mut AdaptiveLimit,
    mut now: Duration,
    n: usize,
    rtt: impl Fn(u32) -> Duration,
) -> Duration {
    for _ in 0..n {
        let in_flight = limit.limit();
        let r = rtt(in_flight);
        now += r;
        for i in 0..in_flight.max(16) {
            let jitter = Duration::from_micros(u64::from(i % 7) * 100);
            limit.on_sample(at(now + jitter), Sample::ok(r + jitter, in_flight));
        }
        now += ms(1);
    }
    now
}

#[test]
fn config_errors_name_the_field() {
    let ok = AdaptiveConfig::default();
    assert_eq!(
        AdaptiveConfig { min: 0, ..ok }
            .validate()
            .unwrap_err()
            .field,
        "min"
    );
    let bad_max = AdaptiveConfig {
        min: 5,
        max: 4,
        initial: 5,
        ..ok
    };
    assert_eq!(bad_max.validate().unwrap_err().field, "max");
    let err = AdaptiveConfig { initial: 0, ..ok }.validate().unwrap_err();
    assert_eq!(err.field, "initial");
    assert_eq!(
        err.to_string(),
        "invalid adaptive option `initial`: must lie between `min` and `max`"
    );
    assert!(AdaptiveLimit::new(bad_max).is_err());
    assert_eq!(
        KeyedAdaptive::<u8>::new(ok, Some(0)).unwrap_err().field,
        "global"
    );
}

#[test]
fn overload_backs_off_once_per_round_of_requests() {
    for (algorithm, factor) in [(Algorithm::Gradient, 0.8), (Algorithm::Aimd, 0.9)] {
        let mut limit = AdaptiveLimit::new(config(1, 1000, 100, algorithm)).unwrap();
        let t = at(ms(1_000));
        let refused = |rtt| Sample {
            rtt: ms(rtt),
            in_flight: 100,
            outcome: Outcome::TooManyRequests,
        };
        let first = limit.on_sample(t, refused(5));
        assert_eq!(first, (100.0 * factor) as u32, "{algorithm:?}");
        // Requests sent before the cut come back refused too: no second cut.
        for i in 1..50 {
            assert_eq!(
                limit.on_sample(t + ms(i), refused(5 + i)),
                first,
                "{algorithm:?}"
            );
        }
        // A request sent after the cut and refused cuts again.
        let second = limit.on_sample(t + ms(100), refused(50));
        assert_eq!(second, (f64::from(first) * factor) as u32, "{algorithm:?}");
    }
}

#[test]
fn cancelled_requests_change_nothing() {
    for algorithm in [Algorithm::Gradient, Algorithm::Aimd] {
        let mut limit = AdaptiveLimit::new(config(1, 100, 10, algorithm)).unwrap();
        let before = limit.stats();
        for i in 0..1000 {
            let s = Sample {
                rtt: ms(1 + i % 300),
                in_flight: 10,
                outcome: Outcome::Cancelled,
            };
            limit.on_sample(at(ms(1000 + i)), s);
        }
        assert_eq!(limit.stats(), before, "{algorithm:?}");
    }
}

#[test]
fn the_gradient_overshoots_the_knee_once_then_holds_it() {
    // A knee at 40: RTT 100 ms up to 40 in flight, then 100 ms · n / 40.
    let knee = |n: u32| ms(100 * u64::from(n.max(40)) / 40);
    let mut limit = AdaptiveLimit::new(config(1, 1000, 10, Algorithm::Gradient)).unwrap();
    let (mut now, mut highest, mut cut) = (Duration::ZERO, 0, false);
    for _ in 0..60 {
        now = rounds(&mut limit, now, 1, knee);
        highest = highest.max(limit.limit());
        cut |= limit.stats().gradient < 1.0;
    }
    // Slow start doubles past the knee once (10, 20, 40, 80), the gradient
    // cuts back, and it settles within the tolerance above the knee.
    assert!(cut);
    assert!(highest <= 80, "{highest}");
    let l = limit.limit();
    assert!((40..=46).contains(&l), "{:?}", limit.stats());
}

#[test]
fn a_slower_path_is_not_mistaken_for_queueing_for_long() {
    // Flat 50 ms: the limit climbs. Then the path itself becomes 150 ms at
    // any concurrency: windows read as queueing and cut, until a probe (or
    // five windows stuck at min) re-measures the base; then it climbs again.
    let flat = |ms_: u64| move |_: u32| ms(ms_);
    let mut limit = AdaptiveLimit::new(config(1, 200, 10, Algorithm::Gradient)).unwrap();
    let now = rounds(&mut limit, Duration::ZERO, 40, flat(50));
    assert_eq!(limit.limit(), 200);
    let now = rounds(&mut limit, now, 12, flat(150));
    let after_cut = limit.stats();
    assert!(after_cut.limit < 200, "{after_cut:?}");
    rounds(&mut limit, now, 150, flat(150));
    let stats = limit.stats();
    assert_eq!(stats.limit, 200, "{stats:?}");
    let base = stats.min_rtt.unwrap();
    assert!(base >= ms(150) && base <= ms(151), "{stats:?}");
}

#[test]
fn keys_are_independent_capped_and_evicted_when_idle() {
    let mut keyed = KeyedAdaptive::new(config(2, 50, 10, Algorithm::Gradient), Some(6))
        .unwrap()
        .with_idle_after(Duration::from_secs(5));
    assert_eq!(keyed.limit_of(&"a"), 6);
    let drop = Sample {
        rtt: ms(3),
        in_flight: 6,
        outcome: Outcome::Dropped,
    };
    let t = at(Duration::from_secs(1));
    assert_eq!(keyed.on_sample(&"a", t, drop), 6); // 10 · 0.8 = 8, capped
    assert_eq!(keyed.stats_of(&"a").unwrap().limit, 8);
    assert!(keyed.stats_of(&"b").is_none());
    keyed.on_sample(&"b", at(Duration::from_secs(4)), Sample::ok(ms(3), 1));
    keyed.evict_idle(at(Duration::from_secs(6)));
    assert!(keyed.stats_of(&"a").is_none());
    assert!(keyed.stats_of(&"b").is_some());
    assert_eq!(keyed.len(), 1);
    // Many keys: the amortised sweep keeps only the recent ones resident.
    for i in 0..10_000u32 {
        let key: &'static str = Box::leak(i.to_string().into_boxed_str());
        keyed.on_sample(
            &key,
            at(Duration::from_secs(10 + u64::from(i))),
            Sample::ok(ms(3), 1),
        );
    }
    assert!(keyed.len() <= 64, "{}", keyed.len());
}

proptest! {
    /// Whatever the samples and however the clock moves (even back), the
    /// limit stays within [min, max].
    #[test]
    fn the_limit_stays_within_its_bounds(
        min in 1u32..20,
        span in 0u32..200,
        aimd in any::<bool>(),
        steps in proptest::collection::vec((0u64..400, -50i64..300, 0u32..500, 0u8..6), 1..400),
    ) {
        let max = min + span;
        let algorithm = if aimd { Algorithm::Aimd } else { Algorithm::Gradient };
        let mut limit = AdaptiveLimit::new(config(min, max, min + span / 2, algorithm)).unwrap();
        let mut now: i64 = 1_000_000_000;
        for (rtt_ms, dt_ms, in_flight, outcome) in steps {
            now = (now + dt_ms * 1_000_000).max(0);
            let outcome = [Outcome::Ok, Outcome::Dropped, Outcome::TooManyRequests,
                Outcome::Unavailable, Outcome::Timeout, Outcome::Cancelled][usize::from(outcome)];
            let l = limit.on_sample(Instant::from_nanos(now as u64), Sample { rtt: ms(rtt_ms), in_flight, outcome });
            prop_assert!(l >= min && l <= max, "{} not in [{}, {}]", l, min, max);
            prop_assert_eq!(l, limit.limit());
        }
    }
}
