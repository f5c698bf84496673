//! `SharedLimiter::try_admit`, the guard's seam: two limiters on separate
//! connections (two servers of a fleet) shed one client by one shared quota
//! and one shared cap, with the core's figures.

mod support;

use std::sync::Arc;
use std::time::Duration;

use weir::{LimiterConfig, Quota};
use weir_redis::{Admission, SharedLimiter, StoreOptions};

fn limiter(url: &str, limits: LimiterConfig) -> Arc<SharedLimiter> {
    let options = StoreOptions {
        prefix: "a:".into(),
        timeout: Duration::from_secs(2),
        ..Default::default()
    };
    support::closed_limiter(url, options, limits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_shed_one_client_with_the_cores_figures() {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let limits = || LimiterConfig {
        per_key_rate: vec![Quota::per_second(3).unwrap()],
        ..Default::default()
    };
    let fleet = [
        limiter(&server.url(), limits()),
        limiter(&server.url(), limits()),
    ];
    let mut remaining = Vec::new();
    for i in 0..3 {
        match fleet[i % 2].try_admit("client", 1).await.unwrap() {
            Admission::Admitted { figures, .. } => {
                let f = figures.expect("quotas give figures");
                remaining.push(f.remaining.unwrap());
                assert_eq!(f.tightest, Some(0));
            }
            other => panic!("unit {i}: {other:?}"),
        }
    }
    assert_eq!(remaining, [2, 1, 0]);
    match fleet[1].try_admit("client", 1).await.unwrap() {
        Admission::RateLimited {
            retry_after,
            figures,
        } => {
            // The fourth unit is due a third of a second after the first.
            assert!(
                retry_after > Duration::from_millis(250)
                    && retry_after <= Duration::from_nanos(333_333_334)
            );
            let f = figures.unwrap();
            assert_eq!(f.remaining, Some(0));
            assert_eq!(f.retry_after, retry_after);
        }
        other => panic!("the 4th: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_cap_makes_the_other_server_busy() {
    let Some(server) = support::RedisServer::start() else {
        return;
    };
    let limits = || LimiterConfig {
        per_key: Some(1),
        ..Default::default()
    };
    let a = limiter(&server.url(), limits());
    let b = limiter(&server.url(), limits());
    let held = match a.try_admit("client", 1).await.unwrap() {
        Admission::Admitted { permit, figures } => {
            assert!(figures.is_none(), "no quotas, no figures");
            permit
        }
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        b.try_admit("client", 1).await.unwrap(),
        Admission::Busy
    ));
    held.release().await;
    assert!(matches!(
        b.try_admit("client", 1).await.unwrap(),
        Admission::Admitted { .. }
    ));
}
