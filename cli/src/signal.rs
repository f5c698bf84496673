//! [`Signal`]: a one-shot flag many tasks can wait for (the run's "stop
//! pulling URLs" and "abort in-flight requests").
//!
//! Invariants: once fired it stays fired; `wait` returns at once after
//! that, and every waiter registered before is woken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A one-shot broadcast flag (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Signal(Arc<(AtomicBool, Notify)>);

impl Signal {
    /// Fires it (idempotent).
    pub fn fire(&self) {
        self.0 .0.store(true, Ordering::Release);
        self.0 .1.notify_waiters();
    }

    /// Whether it has fired.
    pub fn fired(&self) -> bool {
        self.0 .0.load(Ordering::Acquire)
    }

    /// Resolves once it has fired.
    pub async fn wait(&self) {
        loop {
            let notified = self.0 .1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.fired() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_every_waiter_and_stays_fired() {
        let s = Signal::default();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.wait().await })
            })
            .collect();
        tokio::task::yield_now().await;
        s.fire();
        for w in waiters {
            w.await.unwrap();
        }
        s.wait().await;
        assert!(s.fired());
    }
}
