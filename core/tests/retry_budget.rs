//! Retry budgets: retries ≤ min + ratio × requests over a sliding window.

use core::time::Duration;

use proptest::prelude::*;
use weir::retry::{BudgetPolicy, BudgetWindow, BUDGET_SLOTS};
use weir::Instant;

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn ten_percent() -> BudgetPolicy {
    BudgetPolicy {
        ratio: 0.1,
        min_per_window: 3,
        window: Duration::from_secs(10),
    }
}

#[test]
fn low_traffic_keys_get_the_floor() {
    let p = ten_percent();
    let mut w = BudgetWindow::default();
    w.record_request(&p, at(0));
    let granted = (0..10).filter(|_| w.try_spend(&p, at(1))).count();
    assert_eq!(granted, 3);
}

#[test]
fn busy_keys_get_the_ratio() {
    let p = ten_percent();
    let mut w = BudgetWindow::default();
    for i in 0..200 {
        w.record_request(&p, at(i));
    }
    let granted = (0..100).filter(|_| w.try_spend(&p, at(300))).count();
    assert_eq!(granted, 3 + 20);
    assert_eq!(w.counts(&p, at(300)), (200, 23));
}

#[test]
fn a_denied_retry_spends_nothing() {
    let p = BudgetPolicy {
        ratio: 0.0,
        min_per_window: 1,
        ..ten_percent()
    };
    let mut w = BudgetWindow::default();
    assert!(w.try_spend(&p, at(0)));
    for _ in 0..5 {
        assert!(!w.try_spend(&p, at(0)));
    }
    assert_eq!(w.counts(&p, at(0)), (0, 1));
}

#[test]
fn the_window_slides_slot_by_slot() {
    let p = BudgetPolicy {
        ratio: 0.0,
        min_per_window: 2,
        ..ten_percent()
    };
    let mut w = BudgetWindow::default();
    assert!(w.try_spend(&p, at(0))); // slot 0
    assert!(w.try_spend(&p, at(5_000))); // slot 5
    assert!(!w.try_spend(&p, at(9_999)));
    // At 10 s slot 0 leaves the window: one retry frees up, not two.
    assert!(w.try_spend(&p, at(10_000)));
    assert!(!w.try_spend(&p, at(10_000)));
    assert!(!w.try_spend(&p, at(14_999)));
    assert!(w.try_spend(&p, at(15_000)));
    assert!(!w.is_empty_at(&p, at(15_000)));
    assert!(w.is_empty_at(&p, at(30_000)));
}

#[test]
fn a_clock_stepping_back_counts_into_the_newest_slot() {
    let p = BudgetPolicy {
        ratio: 0.0,
        min_per_window: 2,
        ..ten_percent()
    };
    let mut w = BudgetWindow::default();
    assert!(w.try_spend(&p, at(50_000)));
    assert!(w.try_spend(&p, at(1_000)));
    assert!(!w.try_spend(&p, at(0)));
    // Both were counted at 50 s, so both leave the window together.
    assert!(w.try_spend(&p, at(60_000)));
}

#[test]
fn invalid_budgets_name_their_field() {
    let bad_ratio = BudgetPolicy {
        ratio: f64::NAN,
        ..ten_percent()
    };
    assert_eq!(bad_ratio.validate().unwrap_err().field, "budget.ratio");
    let negative = BudgetPolicy {
        ratio: -0.5,
        ..ten_percent()
    };
    assert_eq!(negative.validate().unwrap_err().field, "budget.ratio");
    let no_window = BudgetPolicy {
        window: Duration::ZERO,
        ..ten_percent()
    };
    assert_eq!(no_window.validate().unwrap_err().field, "budget.window");
}

#[derive(Clone, Debug)]
enum Op {
    Request,
    Retry,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whenever a retry is granted, the window (slot-aligned, as the ring
    /// counts it) holds at most min + ratio × its requests retries; a retry is
    /// denied only when that many are already spent.
    #[test]
    fn retries_never_exceed_the_budget(
        ops in prop::collection::vec((prop_oneof![Just(Op::Request), Just(Op::Retry)], 0u64..700), 1..300),
        ratio_pct in 0u32..50,
        min in 0u32..4,
    ) {
        let p = BudgetPolicy { ratio: f64::from(ratio_pct) / 100.0, min_per_window: min, window: Duration::from_secs(1) };
        let slot = 1_000 / BUDGET_SLOTS as u64;
        let mut w = BudgetWindow::default();
        let mut now = 0;
        let mut log: Vec<(u64, bool)> = Vec::new(); // (slot index, is_retry) of counted events
        for (op, gap) in ops {
            now += gap;
            let head = now / slot;
            let in_window = |s: u64| s + BUDGET_SLOTS as u64 > head;
            match op {
                Op::Request => { w.record_request(&p, at(now)); log.push((head, false)); }
                Op::Retry => {
                    let granted = w.try_spend(&p, at(now));
                    if granted { log.push((head, true)); }
                    let requests = log.iter().filter(|(s, r)| !r && in_window(*s)).count() as u32;
                    let retries = log.iter().filter(|(s, r)| *r && in_window(*s)).count() as u64;
                    if granted {
                        prop_assert!(retries <= p.allowed(requests), "{} retries for {} requests", retries, requests);
                    } else {
                        prop_assert!(retries >= p.allowed(requests), "denied with {} of {} spent", retries, p.allowed(requests));
                    }
                }
            }
            let requests = log.iter().filter(|(s, r)| !r && in_window(*s)).count() as u32;
            let retries = log.iter().filter(|(s, r)| *r && in_window(*s)).count() as u32;
            prop_assert_eq!(w.counts(&p, at(now)), (requests, retries));
        }
    }
}
