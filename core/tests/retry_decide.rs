//! `RetryController::decide` and the per-key figures.

use core::time::Duration;

use proptest::prelude::*;
use weir::retry::{
    Attempt, BudgetPolicy, Decision, GiveUpReason, LatencyHistogram, Outcome, RetryController,
    RetryPolicy,
};
use weir::Instant;

const KEY: &str = "a.example:443";

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn get(outcome: Outcome, retry: u32) -> Attempt<'static> {
    Attempt {
        method: "GET",
        outcome,
        retry,
        retry_after: None,
        replayable: true,
        started: Instant::ZERO,
    }
}

fn roomy() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: ms(100),
        max_delay: ms(5_000),
        budget: BudgetPolicy {
            ratio: 1.0,
            min_per_window: 100,
            window: Duration::from_secs(10),
        },
        ..Default::default()
    }
}

fn controller(policy: RetryPolicy) -> RetryController<&'static str> {
    RetryController::new(policy, 7).unwrap()
}

#[test]
fn successes_and_other_statuses_are_final() {
    let mut c = controller(roomy());
    for status in [200, 204, 301, 404, 500, 502] {
        assert_eq!(
            c.decide(&KEY, at(1), &get(Outcome::Status(status), 0)),
            Decision::give_up(GiveUpReason::NotRetryable),
            "{status}"
        );
    }
}

#[test]
fn retryable_statuses_and_network_errors_back_off_with_jitter() {
    let mut c = controller(roomy());
    for (retry, outcome) in [
        (0, Outcome::Status(429)),
        (1, Outcome::Status(503)),
        (2, Outcome::NetworkError),
    ] {
        match c.decide(&KEY, at(1), &get(outcome, retry)) {
            Decision::Retry {
                after,
                pause_key_until: None,
            } => {
                assert!(after <= ms(100 << retry), "{after:?} for retry {retry}")
            }
            other => panic!("{outcome:?}: {other:?}"),
        }
    }
    // The 4th attempt (3 retries made) is the last.
    assert_eq!(
        c.decide(&KEY, at(1), &get(Outcome::Status(503), 3)),
        Decision::give_up(GiveUpReason::AttemptsExhausted)
    );
}

#[test]
fn one_attempt_means_no_retry() {
    let mut c = controller(RetryPolicy {
        attempts: 1,
        ..roomy()
    });
    assert_eq!(
        c.decide(&KEY, at(0), &get(Outcome::Status(429), 0)),
        Decision::give_up(GiveUpReason::AttemptsExhausted)
    );
}

#[test]
fn only_idempotent_methods_are_retried_by_default() {
    let mut c = controller(roomy());
    for method in ["get", "HEAD", "Options", "PUT", "DELETE"] {
        let a = Attempt {
            method,
            ..get(Outcome::NetworkError, 0)
        };
        assert!(
            matches!(c.decide(&KEY, at(0), &a), Decision::Retry { .. }),
            "{method}"
        );
    }
    for method in ["POST", "PATCH", "CONNECT"] {
        let a = Attempt {
            method,
            ..get(Outcome::Status(503), 0)
        };
        assert_eq!(
            c.decide(&KEY, at(0), &a),
            Decision::give_up(GiveUpReason::MethodNotRetryable)
        );
    }
    // …unless the policy says otherwise.
    let mut c = controller(RetryPolicy {
        methods: vec!["POST".into()],
        ..roomy()
    });
    let post = Attempt {
        method: "post",
        ..get(Outcome::Status(503), 0)
    };
    assert!(matches!(
        c.decide(&KEY, at(0), &post),
        Decision::Retry { .. }
    ));
}

#[test]
fn streamed_bodies_are_not_replayed() {
    let mut c = controller(roomy());
    let a = Attempt {
        method: "PUT",
        replayable: false,
        ..get(Outcome::Status(503), 0)
    };
    assert_eq!(
        c.decide(&KEY, at(0), &a),
        Decision::give_up(GiveUpReason::BodyNotReplayable)
    );
}

#[test]
fn retry_after_pauses_the_key_capped_by_max_delay() {
    let mut c = controller(roomy());
    let a = Attempt {
        retry_after: Some(Duration::from_secs(1)),
        ..get(Outcome::Status(429), 0)
    };
    assert_eq!(
        c.decide(&KEY, at(10), &a),
        Decision::Retry {
            after: ms(1_000),
            pause_key_until: Some(at(1_010))
        }
    );
    let s = c.stats(&KEY, at(500)).unwrap();
    assert_eq!(s.cooldown_until, Some(at(1_010)));
    assert_eq!(c.stats(&KEY, at(1_010)).unwrap().cooldown_until, None);

    let long = Attempt {
        retry_after: Some(Duration::from_secs(3_600)),
        ..get(Outcome::Status(503), 1)
    };
    assert_eq!(
        c.decide(&KEY, at(2_000), &long),
        Decision::Retry {
            after: ms(5_000),
            pause_key_until: Some(at(7_000))
        }
    );
    // "Retry-After: 0" means now: no pause.
    let zero = Attempt {
        retry_after: Some(Duration::ZERO),
        ..get(Outcome::Status(429), 0)
    };
    assert_eq!(
        c.decide(&KEY, at(8_000), &zero),
        Decision::Retry {
            after: Duration::ZERO,
            pause_key_until: None
        }
    );
}

#[test]
fn the_budget_caps_retries_per_key() {
    let policy = RetryPolicy {
        attempts: 10,
        budget: BudgetPolicy {
            ratio: 0.1,
            min_per_window: 2,
            window: Duration::from_secs(10),
        },
        ..roomy()
    };
    let mut c = controller(policy);
    for _ in 0..30 {
        c.sent(&KEY, at(0), 0);
    }
    let decisions: Vec<_> = (0..10)
        .map(|_| c.decide(&KEY, at(1), &get(Outcome::Status(503), 0)))
        .collect();
    let granted = decisions
        .iter()
        .filter(|d| matches!(d, Decision::Retry { .. }))
        .count();
    assert_eq!(granted, 2 + 3);
    assert_eq!(
        decisions[9],
        Decision::give_up(GiveUpReason::BudgetExhausted)
    );
    // Another key has its own budget.
    assert!(matches!(
        c.decide(&"b", at(1), &get(Outcome::Status(503), 0)),
        Decision::Retry { .. }
    ));
    // Once the window has slid past, the key may retry again.
    assert!(matches!(
        c.decide(&KEY, at(10_001), &get(Outcome::Status(503), 0)),
        Decision::Retry { .. }
    ));
    let s = c.stats(&KEY, at(10_001)).unwrap();
    assert_eq!((s.sent, s.retried), (30, 6));
}

#[test]
fn figures_follow_the_request_life() {
    let mut c = controller(roomy());
    c.queued(&KEY, at(0));
    c.queued(&KEY, at(0));
    assert_eq!(c.stats(&KEY, at(0)).unwrap().queued, 2);
    c.unqueued(&KEY, at(5));
    let started = c.sent(&KEY, at(5), 0);
    let s = c.stats(&KEY, at(5)).unwrap();
    assert_eq!((s.queued, s.in_flight, s.sent, s.p50), (1, 1, 1, None));
    let a = Attempt {
        started,
        ..get(Outcome::Status(200), 0)
    };
    c.decide(&KEY, at(45), &a);
    c.done(&KEY, at(50));
    let s = c.stats(&KEY, at(50)).unwrap();
    assert_eq!((s.in_flight, s.sent, s.retried, s.status_429), (0, 1, 0, 0));
    let p50 = s.p50.unwrap();
    assert!(p50 >= ms(35) && p50 <= ms(45), "{p50:?}");
    c.decide(&KEY, at(50), &get(Outcome::NetworkError, 0));
    assert_eq!(c.stats(&KEY, at(50)).unwrap().network_errors, 1);
    assert_eq!(c.all_stats(at(50)).len(), 1);
    assert!(c.stats(&"unseen", at(50)).is_none());
}

#[test]
fn idle_keys_are_evicted_busy_ones_kept() {
    let mut c = controller(RetryPolicy {
        max_delay: Duration::from_secs(60),
        ..roomy()
    });
    c.sent(&"busy", at(0), 0); // in flight, never done
    c.sent(&"idle", at(0), 0);
    c.done(&"idle", at(1));
    c.queued(&"waiting", at(0));
    let paused = Attempt {
        retry_after: Some(Duration::from_secs(60)),
        ..get(Outcome::Status(429), 0)
    };
    c.decide(&"cooling", at(0), &paused);
    c.evict_idle(at(5_000));
    assert_eq!(c.len(), 4, "nothing is idle for a whole window yet");
    c.evict_idle(at(20_000));
    let mut left: Vec<_> = c
        .all_stats(at(20_000))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    left.sort_unstable();
    assert_eq!(left, ["busy", "cooling", "waiting"]);
    c.evict_idle(at(61_000));
    assert_eq!(c.len(), 2);
}

#[test]
fn memory_is_bounded_by_active_keys() {
    let mut c: RetryController<u64> = RetryController::new(roomy(), 1).unwrap();
    // 200k one-off keys, one per millisecond: each is idle 10 s later.
    for i in 0..200_000u64 {
        c.sent(&i, at(i), 0);
        c.done(&i, at(i));
        assert!(
            c.len() <= 2 * 10_000 + 64,
            "{} keys resident at {}",
            c.len(),
            i
        );
    }
}

#[test]
fn invalid_policies_name_their_field() {
    let cases: [(RetryPolicy, &str); 6] = [
        (
            RetryPolicy {
                attempts: 0,
                ..roomy()
            },
            "attempts",
        ),
        (
            RetryPolicy {
                statuses: vec![429, 600],
                ..roomy()
            },
            "statuses",
        ),
        (
            RetryPolicy {
                methods: vec![String::new()],
                ..roomy()
            },
            "methods",
        ),
        (
            RetryPolicy {
                base_delay: Duration::ZERO,
                ..roomy()
            },
            "base_delay",
        ),
        (
            RetryPolicy {
                max_delay: ms(10),
                ..roomy()
            },
            "max_delay",
        ),
        (
            RetryPolicy {
                budget: BudgetPolicy {
                    ratio: f64::INFINITY,
                    ..Default::default()
                },
                ..roomy()
            },
            "budget.ratio",
        ),
    ];
    for (policy, field) in cases {
        let err = RetryController::<u8>::new(policy, 0).unwrap_err();
        assert_eq!(err.field, field);
        assert!(err.to_string().contains(field));
    }
}

#[test]
fn a_clock_stepping_back_reads_as_standing_still() {
    let mut c = controller(roomy());
    let paused = Attempt {
        retry_after: Some(Duration::from_secs(1)),
        ..get(Outcome::Status(429), 0)
    };
    assert_eq!(
        c.decide(&KEY, at(5_000), &paused),
        Decision::Retry {
            after: ms(1_000),
            pause_key_until: Some(at(6_000))
        }
    );
    // An earlier `now` is clamped to 5 s: the pause ends at 6 s, not 1 s.
    match c.decide(&KEY, at(0), &paused) {
        Decision::Retry {
            pause_key_until, ..
        } => assert_eq!(pause_key_until, Some(at(6_000))),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Percentiles are within the histogram's resolution of the exact
    /// nearest-rank percentile.
    #[test]
    fn percentiles_track_exact_ones(mut samples in prop::collection::vec(1u64..50_000_000, 1..400)) {
        let mut h = LatencyHistogram::new();
        for us in &samples {
            h.record(Duration::from_micros(*us));
        }
        samples.sort_unstable();
        for p in [50.0, 95.0, 99.0, 100.0] {
            let rank = ((p / 100.0 * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            let exact = samples[rank - 1] as f64;
            let got = h.percentile(p).unwrap().as_micros() as f64;
            prop_assert!((got - exact).abs() <= exact * 0.125 + 1.0, "p{}: {} vs exact {}", p, got, exact);
        }
        prop_assert_eq!(h.count(), samples.len() as u64);
    }

    /// Whatever happens, decisions respect the policy: never more attempts,
    /// never a retry of POST or of a non-replayable body, delays ≤ max_delay.
    #[test]
    fn decisions_respect_the_policy(
        seed in any::<u64>(),
        steps in prop::collection::vec((0u16..6, 0u32..6, any::<bool>(), any::<bool>(), prop::option::of(0u64..100_000), 0u64..3_000), 1..100),
    ) {
        let policy = RetryPolicy { attempts: 4, max_delay: ms(10_000), ..Default::default() };
        let mut c: RetryController<u8> = RetryController::new(policy.clone(), seed).unwrap();
        let mut now = 0;
        let mut granted = 0u64;
        for (status_pick, retry, post, replayable, retry_after, gap) in steps {
            now += gap;
            let outcome = [Outcome::Status(200), Outcome::Status(429), Outcome::Status(503), Outcome::Status(500), Outcome::NetworkError, Outcome::Status(404)][status_pick as usize];
            let started = c.sent(&0, at(now), retry);
            let a = Attempt { method: if post { "POST" } else { "GET" }, outcome, retry, retry_after: retry_after.map(ms), replayable, started };
            match c.decide(&0, at(now), &a) {
                Decision::Retry { after, pause_key_until } => {
                    granted += 1;
                    prop_assert!(!post && replayable && retry + 1 < policy.attempts);
                    prop_assert!(matches!(outcome, Outcome::Status(429 | 503) | Outcome::NetworkError));
                    prop_assert!(after <= policy.max_delay);
                    if let Some(until) = pause_key_until {
                        prop_assert_eq!(until, at(now) + after);
                    }
                    if retry_after.is_none() {
                        prop_assert!(pause_key_until.is_none());
                        prop_assert!(after <= weir::retry::backoff_ceiling(policy.base_delay, policy.max_delay, retry));
                    }
                }
                Decision::GiveUp { .. } => {}
            }
        }
        prop_assert_eq!(c.stats(&0, at(now)).unwrap().retried, granted);
    }
}

#[test]
fn per_call_policies_share_the_key_budget() {
    let mut c = controller(RetryPolicy {
        budget: BudgetPolicy {
            ratio: 0.0,
            min_per_window: 2,
            window: Duration::from_secs(10),
        },
        ..roomy()
    });
    let patient = RetryPolicy {
        attempts: 10,
        statuses: vec![500],
        ..roomy()
    };
    // The call's statuses apply…
    assert!(c
        .decide(&KEY, at(0), &get(Outcome::Status(429), 0))
        .is_retry());
    assert_eq!(
        c.decide_with(&patient, &KEY, at(0), &get(Outcome::Status(429), 0)),
        Decision::give_up(GiveUpReason::NotRetryable)
    );
    assert!(c
        .decide_with(&patient, &KEY, at(0), &get(Outcome::Status(500), 5))
        .is_retry());
    // …but the budget is the key's: 2 per window, both spent.
    assert_eq!(
        c.decide_with(&patient, &KEY, at(0), &get(Outcome::Status(500), 6)),
        Decision::give_up(GiveUpReason::BudgetExhausted)
    );
    // A new budget (another window length) starts the windows afresh.
    c.set_budget(BudgetPolicy {
        ratio: 0.0,
        min_per_window: 1,
        window: Duration::from_secs(1),
    })
    .unwrap();
    assert!(c
        .decide(&KEY, at(1), &get(Outcome::Status(503), 0))
        .is_retry());
    assert!(!c
        .decide(&KEY, at(1), &get(Outcome::Status(503), 0))
        .is_retry());
    assert_eq!(
        c.set_budget(BudgetPolicy {
            ratio: -1.0,
            ..Default::default()
        })
        .unwrap_err()
        .field,
        "budget.ratio"
    );
}

/// A `Retry-After` pauses the key whether the request is retried or not:
/// attempts spent, a method not repeated. A status the policy does not
/// retry leaves the key alone. Such a retry spends no budget.
#[test]
fn retry_after_pauses_the_key_when_giving_up_too() {
    let with_retry_after = |method: &'static str, status: u16, retry: u32| Attempt {
        method,
        retry_after: Some(ms(1_000)),
        ..get(Outcome::Status(status), retry)
    };
    let pause = Some(at(10) + ms(1_000));
    let mut c = controller(RetryPolicy {
        attempts: 2,
        ..roomy()
    });
    assert_eq!(
        c.decide(&KEY, at(10), &with_retry_after("GET", 429, 1)),
        Decision::GiveUp {
            reason: GiveUpReason::AttemptsExhausted,
            pause_key_until: pause
        }
    );
    assert_eq!(
        c.decide(&KEY, at(10), &with_retry_after("POST", 503, 0)),
        Decision::GiveUp {
            reason: GiveUpReason::MethodNotRetryable,
            pause_key_until: pause
        }
    );
    assert_eq!(
        c.decide(&KEY, at(10), &with_retry_after("GET", 301, 0))
            .pause_key_until(),
        None
    );
    assert_eq!(c.stats(&KEY, at(10)).unwrap().cooldown_until, pause);
    let mut starved = controller(RetryPolicy {
        budget: BudgetPolicy {
            ratio: 0.0,
            min_per_window: 0,
            window: Duration::from_secs(10),
        },
        ..roomy()
    });
    // A retry the server scheduled is paced by its pause: no budget spent.
    assert_eq!(
        starved.decide(&KEY, at(10), &with_retry_after("GET", 429, 0)),
        Decision::Retry {
            after: ms(1_000),
            pause_key_until: pause
        }
    );
    assert_eq!(
        starved.decide(&KEY, at(10), &get(Outcome::Status(429), 0)),
        Decision::give_up(GiveUpReason::BudgetExhausted)
    );
}
