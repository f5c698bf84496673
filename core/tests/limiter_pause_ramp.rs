//! After a pause (a server's `Retry-After`), the key eases back in: the
//! waiters queued behind the pause do not all start in the instant it ends.

#[path = "support/mod.rs"]
mod support;
use support::manual_limiter;

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use futures::task::noop_waker;
use weir::{Clock, Instant, LimiterAcquire, LimiterConfig, LimiterGrant, ManualClock};

fn admitted(waiting: &mut Vec<LimiterAcquire<&'static str, ManualClock>>) -> Vec<LimiterGrant> {
    let waker = noop_waker();
    let mut grants = Vec::new();
    waiting.retain_mut(
        |w| match Pin::new(w).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(r) => {
                grants.push(r.unwrap());
                false
            }
            Poll::Pending => true,
        },
    );
    grants
}

#[test]
fn ten_waiters_behind_a_pause_start_one_probe_then_a_doubling_ramp() {
    let (l, clock) = manual_limiter(LimiterConfig {
        concurrency: Some(10),
        ..Default::default()
    });
    l.pause_until(&"host", Instant::from_nanos(1_000_000_000));
    let mut waiting: Vec<_> = (0..10).map(|_| l.acquire_grant("host", 1)).collect();
    assert!(admitted(&mut waiting).is_empty());
    let mut starts = Vec::new();
    // Step through time 10 ms at a time for four seconds.
    for _ in 0..400 {
        clock.advance(Duration::from_millis(10));
        for grant in admitted(&mut waiting) {
            starts.push(clock.now().as_nanos() / 1_000_000);
            l.release(grant);
        }
    }
    // One probe when the pause ends, the next a step (1 s) later, then
    // every 500 ms, then every 250 ms...
    assert_eq!(&starts[..5], &[1_000, 2_000, 2_500, 3_000, 3_250]);
    assert!(
        starts.windows(2).all(|w| w[1] > w[0]),
        "never two at once: {starts:?}"
    );
    // Another key was never held by the ramp.
    assert!(l.try_acquire_grant(&"other", 1).is_ok());
}
