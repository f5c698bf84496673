//! Full-jitter back-off over the seeded PRNG.

use core::time::Duration;

use proptest::prelude::*;
use weir::retry::{backoff_ceiling, full_jitter, SplitMix64};

const MS: Duration = Duration::from_millis(1);

#[test]
fn splitmix_matches_reference_vectors() {
    // Reference outputs of SplitMix64 seeded with 1234567.
    let mut rng = SplitMix64::new(1_234_567);
    assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
    assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
}

#[test]
fn ceilings_double_then_cap() {
    let (base, max) = (100 * MS, 2_000 * MS);
    let ceilings: Vec<_> = (0..8).map(|n| backoff_ceiling(base, max, n)).collect();
    assert_eq!(
        ceilings,
        [100, 200, 400, 800, 1600, 2000, 2000, 2000].map(|m| m * MS)
    );
    assert_eq!(backoff_ceiling(base, max, u32::MAX), max);
    assert_eq!(
        backoff_ceiling(Duration::MAX, Duration::MAX, 3).as_nanos(),
        u128::from(u64::MAX)
    );
}

#[test]
fn the_same_seed_gives_the_same_delays() {
    let draw = |seed| {
        let mut rng = SplitMix64::new(seed);
        (0..20)
            .map(|n| full_jitter(10 * MS, 5_000 * MS, n % 6, &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(draw(9), draw(9));
    assert_ne!(draw(9), draw(10));
}

#[test]
fn jitter_is_spread_over_the_whole_range() {
    // Full jitter: uniform on [0, ceiling]. With a fixed seed this is exact
    // arithmetic, not a flaky statistical test.
    let mut rng = SplitMix64::new(2024);
    let ceiling = 800 * MS;
    let samples: Vec<_> = (0..10_000)
        .map(|_| full_jitter(100 * MS, 10_000 * MS, 3, &mut rng))
        .collect();
    assert!(samples.iter().all(|d| *d <= ceiling));
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    assert!(mean > 380 * MS && mean < 420 * MS, "mean {mean:?}");
    // Each tenth of the range gets roughly a tenth of the samples.
    let mut deciles = [0u32; 10];
    for d in &samples {
        deciles[((d.as_nanos() * 10 / (ceiling.as_nanos() + 1)) as usize).min(9)] += 1;
    }
    assert!(
        deciles.iter().all(|n| (850..1150).contains(n)),
        "{deciles:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn jitter_never_exceeds_its_ceiling(
        seed in any::<u64>(),
        base_ms in 1u64..10_000,
        max_ms in 10_000u64..100_000,
        retry in 0u32..80,
    ) {
        let (base, max) = (Duration::from_millis(base_ms), Duration::from_millis(max_ms));
        let mut rng = SplitMix64::new(seed);
        let ceiling = backoff_ceiling(base, max, retry);
        prop_assert!(ceiling <= max);
        prop_assert!(ceiling >= base.min(max));
        for _ in 0..8 {
            prop_assert!(full_jitter(base, max, retry, &mut rng) <= ceiling);
        }
    }

    #[test]
    fn below_or_eq_stays_in_range(seed in any::<u64>(), max in any::<u64>()) {
        let mut rng = SplitMix64::new(seed);
        for _ in 0..8 {
            prop_assert!(rng.below_or_eq(max) <= max);
        }
        prop_assert_eq!(SplitMix64::new(seed).below_or_eq(0), 0);
    }
}
