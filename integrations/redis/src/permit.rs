//! [`SharedPermit`]: work admitted by a [`SharedLimiter`](crate::SharedLimiter).
//!
//! Invariants: while the permit lives, a task renews its lease every third of
//! the lease duration, so a live holder never loses it; dropping the permit
//! stops the renewal and releases the lease (in a spawned task, bounded by
//! the store's timeout — if that fails the lease simply expires), and gives
//! back the local permits.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::lease::LeaseCall;
use crate::store::RedisStore;

/// A lease held in the store.
#[derive(Debug)]
pub(crate) struct HeldLease {
    pub(crate) store: Arc<RedisStore>,
    pub(crate) sets: Vec<String>,
    pub(crate) caps: Vec<usize>,
    pub(crate) id: String,
    pub(crate) cost: u32,
    pub(crate) renewal: JoinHandle<()>,
}

impl HeldLease {
    pub(crate) fn call(&self) -> LeaseCall<'_> {
        LeaseCall {
            sets: &self.sets,
            caps: &self.caps,
            id: &self.id,
            cost: self.cost,
            lease: self.store.options().lease,
            channel: "",
            now_ms: None,
        }
    }
}

/// Renew `lease` every third of its duration until aborted.
pub(crate) fn spawn_renewal(
    store: Arc<RedisStore>,
    sets: Vec<String>,
    id: String,
    cost: u32,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = store.options().lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let call = LeaseCall {
                sets: &sets,
                caps: &[],
                id: &id,
                cost,
                lease: store.options().lease,
                channel: "",
                now_ms: None,
            };
            if let Ok(false) = store
                .call("renew", |mut c| async move { call.renew(&mut c).await })
                .await
            {
                return; // lost: the lease had expired
            }
        }
    })
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.renewal.abort();
        if self.sets.is_empty() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(&self.store);
        let sets = std::mem::take(&mut self.sets);
        let id = std::mem::take(&mut self.id);
        let cost = self.cost;
        let channel = format!("{}released", store.options().prefix);
        handle.spawn(async move {
            let call = LeaseCall {
                sets: &sets,
                caps: &[],
                id: &id,
                cost,
                lease: store.options().lease,
                channel: &channel,
                now_ms: None,
            };
            let _ = store
                .call("release", |mut c| async move { call.release(&mut c).await })
                .await;
        });
    }
}

/// Work admitted by a shared limiter; drop it when the work ends.
#[derive(Debug)]
pub struct SharedPermit {
    pub(crate) lease: Option<HeldLease>,
    pub(crate) local: Option<weir::LimiterPermit<String>>,
    pub(crate) fallback: Option<weir::LimiterPermit<String>>,
}

impl SharedPermit {
    /// True when the permit holds a lease in the store (false when admitted
    /// by the `Open` / `Local` policy during a store failure, or when the
    /// limiter has no caps).
    pub fn is_shared(&self) -> bool {
        self.lease.is_some()
    }

    /// True when the `Local` policy's in-memory limiter admitted it.
    pub fn is_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// Release now and wait for the store to confirm (dropping releases too,
    /// without waiting).
    pub async fn release(mut self) {
        drop(self.local.take());
        drop(self.fallback.take());
        if let Some(mut lease) = self.lease.take() {
            lease.renewal.abort();
            let store = Arc::clone(&lease.store);
            let channel = format!("{}released", store.options().prefix);
            let mut call = lease.call();
            call.channel = &channel;
            let _ = store
                .call("release", |mut c| async move { call.release(&mut c).await })
                .await;
            lease.sets.clear(); // the drop's release finds nothing to do
            lease.cost = 0;
        }
    }
}
