//! [`SharedLimiter`]: a `weir::Limiter`'s options, enforced across every
//! process that shares a store prefix.
//!
//! Admission, in the core's order (pause, then permits, then rate tokens):
//! 1. the local `weir::Limiter` (caps only) orders this process's waiters —
//!    FIFO per key, round-robin across keys — and bounds the queue;
//! 2. the shared caps: a lease in the store (`lease.lua`); a waiter sleeps
//!    until a release is published or the earliest lease expires, whichever
//!    is first — never on a fixed interval;
//! 3. the shared quotas and pauses: one `gcra.lua` call; a denial names the
//!    exact wait, which is cached locally ("denied until T") so the key's
//!    other callers in this process cost no round trip until T. While anyone
//!    of this process waits on the key, callers queue FIFO and one at a time
//!    talks to the store.
//!
//! The rule (GCRA, all-or-none) is the core's, computed by the script to the
//! nanosecond (see the differential test). When a store call fails or times
//! out, the [`FailurePolicy`] decides.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weir::{Limiter, LimiterConfig, Quota, TokioTimer};

use crate::cache::DeniedCache;
use crate::error::{SharedError, StoreError};
use crate::health::StoreStats;
use crate::keys::Keys;
use crate::lease::{LeaseCall, LeaseReply};
use crate::permit::{spawn_renewal, HeldLease, SharedPermit};
use crate::policy::{divide_cap, divide_quota, FailurePolicy};
use crate::rate::{Cell, Figures, RateCall, RateReply};
use crate::store::RedisStore;

/// What [`SharedLimiter::try_admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// Admitted: hold the permit while the work runs.
    Admitted {
        /// The permit (leases released when dropped).
        permit: SharedPermit,
        /// The key's figures after this admission (`None` without quotas, or
        /// when admitted by a failure policy).
        figures: Option<Figures>,
    },
    /// A shared quota or pause refuses it for this long (exact).
    RateLimited {
        /// The wait the store computed.
        retry_after: Duration,
        /// The key's figures (nothing was consumed).
        figures: Option<Figures>,
    },
    /// A shared concurrency cap is full.
    Busy,
}

/// Options of a [`SharedLimiter`].
#[derive(Clone, Debug, Default)]
pub struct SharedConfig {
    /// The limits, as for a `weir::Limiter`; enforced fleet-wide.
    pub limits: LimiterConfig,
    /// What to do while the store fails.
    pub on_store_error: FailurePolicy,
    /// For [`FailurePolicy::Local`]: each process's share of the limits is
    /// `1 / local_share` (default 1: the whole limits).
    pub local_share: u32,
}

/// Shared limits: concurrency caps, rate quotas and pauses that every process
/// using the same store prefix (and the same options) enforces together.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use weir::{LimiterConfig, Quota};
/// use weir_redis::{FailurePolicy, RedisStore, SharedConfig, SharedLimiter, StoreOptions};
/// let store = RedisStore::new(
///     redis::Client::open("redis://127.0.0.1/")?,
///     StoreOptions { prefix: "crawler:".into(), ..Default::default() },
/// )?;
/// let limiter = SharedLimiter::new(store, SharedConfig {
///     limits: LimiterConfig {
///         concurrency: Some(100),
///         per_key: Some(8),
///         per_key_rate: vec![Quota::per_second(20)?],
///         ..Default::default()
///     },
///     on_store_error: FailurePolicy::Closed,
///     local_share: 1,
/// })?;
/// let permit = limiter.acquire("api.example.com", 1).await?; // shared by every process
/// drop(permit);
/// # Ok(()) }
/// ```
pub struct SharedLimiter {
    store: Arc<RedisStore>,
    keys: Keys,
    config: LimiterConfig,
    policy: FailurePolicy,
    max_cost: u32,
    order: Arc<Limiter<String, TokioTimer>>,
    fallback: Arc<Limiter<String, TokioTimer>>,
    lanes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    denied: Mutex<DeniedCache>,
    process: String,
    next_id: AtomicU64,
}

impl std::fmt::Debug for SharedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimiter")
            .field("prefix", &self.keys.prefix())
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SharedLimiter {
    /// A shared limiter over `store`. Errors name the bad option.
    pub fn new(store: Arc<RedisStore>, config: SharedConfig) -> Result<Self, weir::ConfigError> {
        let limits = config.limits;
        let order = Limiter::new(
            LimiterConfig {
                concurrency: limits.concurrency,
                per_key: limits.per_key,
                rate: Vec::new(),
                per_key_rate: Vec::new(),
                max_queue: limits.max_queue,
                adaptive: limits.adaptive,
                per_key_adaptive: limits.per_key_adaptive,
            },
            TokioTimer::new(),
        )?;
        let share = config.local_share.max(1);
        let fallback = Limiter::new(
            LimiterConfig {
                concurrency: divide_cap(limits.concurrency, share),
                per_key: divide_cap(limits.per_key, share),
                rate: limits
                    .rate
                    .iter()
                    .map(|&q| divide_quota(q, share))
                    .collect(),
                per_key_rate: limits
                    .per_key_rate
                    .iter()
                    .map(|&q| divide_quota(q, share))
                    .collect(),
                max_queue: None,
                adaptive: None,
                per_key_adaptive: None,
            },
            TokioTimer::new(),
        )?;
        let global_state = limits.concurrency.is_some() || !limits.rate.is_empty();
        let keys = Keys::new(&store.options().prefix, global_state);
        let max_cost = limits
            .rate
            .iter()
            .chain(&limits.per_key_rate)
            .map(Quota::burst)
            .min()
            .unwrap_or(u32::MAX);
        let process = format!(
            "{}:{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        Ok(SharedLimiter {
            store,
            keys,
            config: limits,
            policy: config.on_store_error,
            max_cost,
            order: Arc::new(order),
            fallback: Arc::new(fallback),
            lanes: Mutex::new(HashMap::new()),
            denied: Mutex::new(DeniedCache::default()),
            process,
            next_id: AtomicU64::new(0),
        })
    }

    /// The store's counters and mode.
    pub fn store_stats(&self) -> StoreStats {
        self.store.stats()
    }

    /// The store.
    pub fn store(&self) -> &Arc<RedisStore> {
        &self.store
    }

    /// The limits.
    pub fn config(&self) -> &LimiterConfig {
        &self.config
    }

    fn has_caps(&self) -> bool {
        self.config.concurrency.is_some() || self.config.per_key.is_some()
    }

    fn lease_sets(&self, key: &str) -> (Vec<String>, Vec<usize>) {
        let mut sets = Vec::new();
        let mut caps = Vec::new();
        if let Some(c) = self.config.concurrency {
            sets.push(self.keys.global_leases());
            caps.push(c);
        }
        if let Some(c) = self.config.per_key {
            sets.push(self.keys.key_leases(key));
            caps.push(c);
        }
        (sets, caps)
    }

    fn cells(&self, key: &str) -> Vec<Cell> {
        let global = self.config.rate.iter().map(|q| Cell {
            key: self.keys.global_rate(q),
            quota: *q,
        });
        let keyed = self.config.per_key_rate.iter().map(|q| Cell {
            key: self.keys.key_rate(key, q),
            quota: *q,
        });
        global.chain(keyed).collect()
    }

    /// The pauses that hold `key` (no API pauses every key: one key read).
    fn pause_keys(&self, key: &str) -> Vec<String> {
        vec![self.keys.pause(key)]
    }

    fn permit_id(&self) -> String {
        format!(
            "{}:{}",
            self.process,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// One `gcra.lua` call for `key`.
    async fn rate_call(&self, key: &str, cost: u32) -> Result<RateReply, StoreError> {
        self.rate_call_with(key, cost, false).await
    }

    /// One `gcra.lua` call for `key`, with the figures when asked.
    async fn rate_call_with(
        &self,
        key: &str,
        cost: u32,
        figures: bool,
    ) -> Result<RateReply, StoreError> {
        let cells = self.cells(key);
        let pauses = self.pause_keys(key);
        let slack = u64::try_from(self.store.options().ttl_slack.as_millis()).unwrap_or(u64::MAX);
        self.store
            .call("rate", |mut c| async move {
                RateCall {
                    cells: &cells,
                    pauses: &pauses,
                    cost,
                    commit: true,
                    figures,
                    now: None,
                    ttl_slack_ms: slack,
                }
                .run(&mut c)
                .await
            })
            .await
    }

    fn lane(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut lanes = self.lanes.lock().unwrap();
        if lanes.len() > 1024 {
            lanes.retain(|_, lane| Arc::strong_count(lane) > 1);
        }
        Arc::clone(lanes.entry(key.to_owned()).or_default())
    }

    /// The fallback for a failed store call, per the policy.
    async fn on_failure(
        &self,
        error: StoreError,
        key: &str,
        cost: u32,
        wait: bool,
    ) -> Result<Option<weir::LimiterPermit<String>>, SharedError> {
        match self.policy {
            FailurePolicy::Closed => Err(SharedError::Store(error)),
            FailurePolicy::Open => Ok(None),
            FailurePolicy::Local => {
                let permit = if wait {
                    self.fallback.acquire(key.to_owned(), cost).await?
                } else {
                    self.fallback.try_acquire(key.to_owned(), cost)?
                };
                Ok(Some(permit))
            }
        }
    }

    /// Admit `cost` units for `key`, waiting as long as the shared limits
    /// require. Fails at once for a cost no limit can ever admit, and on a
    /// store failure under [`FailurePolicy::Closed`].
    pub async fn acquire(
        &self,
        key: impl Into<String>,
        cost: u32,
    ) -> Result<SharedPermit, SharedError> {
        self.admit(key.into(), cost, true).await
    }

    /// Admit now or say why not (one round trip per phase at most; none
    /// while the key is known to be denied).
    pub async fn try_acquire(
        &self,
        key: impl Into<String>,
        cost: u32,
    ) -> Result<SharedPermit, SharedError> {
        self.admit(key.into(), cost, false).await
    }

    async fn admit(&self, key: String, cost: u32, wait: bool) -> Result<SharedPermit, SharedError> {
        if cost > self.max_cost {
            return Err(SharedError::ExceedsBurst { cost });
        }
        let local = if wait {
            self.order.acquire(key.clone(), cost).await?
        } else {
            self.order.try_acquire(key.clone(), cost)?
        };
        let mut permit = SharedPermit {
            lease: None,
            local: Some(local),
            fallback: None,
        };
        if self.has_caps() {
            match self.take_lease(&key, cost, wait).await {
                Ok(lease) => permit.lease = Some(lease),
                Err(Ok(e)) => return Err(e),
                Err(Err(store_error)) => {
                    permit.fallback = self.on_failure(store_error, &key, cost, wait).await?;
                    return Ok(permit);
                }
            }
        }
        match self.take_rate(&key, cost, wait).await {
            Ok(()) => Ok(permit),
            Err(Ok(e)) => Err(e),
            Err(Err(store_error)) => {
                permit.fallback = self.on_failure(store_error, &key, cost, wait).await?;
                Ok(permit)
            }
        }
    }

    /// Phase 2. `Err(Ok(_))`: refused; `Err(Err(_))`: the store failed.
    async fn take_lease(
        &self,
        key: &str,
        cost: u32,
        wait: bool,
    ) -> Result<HeldLease, Result<SharedError, StoreError>> {
        let (sets, caps) = self.lease_sets(key);
        let id = self.permit_id();
        let lease = self.store.options().lease;
        loop {
            // Registered before the attempt, so a release in between is not missed.
            let released = self.store.released().notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let call = LeaseCall {
                sets: &sets,
                caps: &caps,
                id: &id,
                cost,
                lease,
                channel: "",
                now_ms: None,
            };
            let reply = self
                .store
                .call("lease", |mut c| async move { call.acquire(&mut c).await })
                .await
                .map_err(Err)?;
            match reply {
                LeaseReply::Granted { .. } => {
                    let renewal =
                        spawn_renewal(Arc::clone(&self.store), sets.clone(), id.clone(), cost);
                    return Ok(HeldLease {
                        store: Arc::clone(&self.store),
                        sets,
                        caps,
                        id,
                        cost,
                        renewal,
                    });
                }
                LeaseReply::Full {
                    cap,
                    earliest_expiry_in,
                } => {
                    if !wait {
                        return Err(Ok(SharedError::Busy));
                    }
                    let Some(expiry) = earliest_expiry_in else {
                        return Err(Ok(SharedError::Limiter(weir::LimiterError::TooLarge {
                            requested: cost as usize,
                            limit: caps[cap],
                        })));
                    };
                    tokio::select! {
                        () = &mut released => {}
                        () = tokio::time::sleep(expiry + Duration::from_millis(1)) => {}
                    }
                }
            }
        }
    }

    /// Phase 3. `Err(Ok(_))`: refused; `Err(Err(_))`: the store failed.
    async fn take_rate(
        &self,
        key: &str,
        cost: u32,
        wait: bool,
    ) -> Result<(), Result<SharedError, StoreError>> {
        let now = tokio::time::Instant::now();
        let cached = self.denied.lock().unwrap().denied_until(key, now);
        if let Some(until) = cached.filter(|_| !wait) {
            return Err(Ok(SharedError::RateLimited {
                retry_after: until - now,
            }));
        }
        // Nobody of this process waits on the key and it is not known
        // denied: straight to the store (concurrent callers' calls pipeline
        // on the connection; the server takes them in the order sent).
        let queued = self.lane_busy(key);
        if cached.is_none() && !queued {
            match self.try_rate(key, cost).await? {
                None => return Ok(()),
                Some(retry_after) if !wait => {
                    return Err(Ok(SharedError::RateLimited { retry_after }))
                }
                Some(_) => {}
            }
        } else if !wait {
            // A try never jumps ahead of this process's waiters.
            return Err(Ok(SharedError::RateLimited {
                retry_after: Duration::ZERO,
            }));
        }
        // Queue: FIFO per key within the process, one caller at a time
        // talking to the store, and none before the cached "denied until".
        let lane = self.lane(key);
        let _turn = lane.lock().await;
        loop {
            let now = tokio::time::Instant::now();
            let cached = self.denied.lock().unwrap().denied_until(key, now);
            if let Some(until) = cached {
                tokio::time::sleep_until(until).await;
            }
            if self.try_rate(key, cost).await?.is_none() {
                return Ok(());
            }
        }
    }

    /// One `gcra.lua` call: `None` when admitted, else the wait (cached).
    async fn try_rate(
        &self,
        key: &str,
        cost: u32,
    ) -> Result<Option<Duration>, Result<SharedError, StoreError>> {
        let reply = self.rate_call(key, cost).await.map_err(Err)?;
        if reply.admitted {
            return Ok(None);
        }
        let Some(wait_for) = reply.wait else {
            return Err(Ok(SharedError::ExceedsBurst { cost }));
        };
        let now = tokio::time::Instant::now();
        self.denied.lock().unwrap().deny(key, now + wait_for, now);
        Ok(Some(wait_for))
    }

    /// True while a caller of this process waits in `key`'s lane.
    fn lane_busy(&self, key: &str) -> bool {
        self.lanes
            .lock()
            .unwrap()
            .get(key)
            .is_some_and(|lane| Arc::strong_count(lane) > 1)
    }

    /// One decision now, never waiting, with the rate figures a server sends
    /// as `RateLimit-*` / `Retry-After` headers — the seam for a guard (a
    /// tower layer) sharing its limits: a lease per cap, then one `gcra.lua`
    /// call. A store failure follows the policy: `Closed` is
    /// `Err(SharedError::Store)`, `Open` admits (no figures), `Local` asks the
    /// in-memory limiter.
    pub async fn try_admit(
        &self,
        key: impl Into<String>,
        cost: u32,
    ) -> Result<Admission, SharedError> {
        let key = key.into();
        if cost > self.max_cost {
            return Err(SharedError::ExceedsBurst { cost });
        }
        let local = self.order.try_acquire(key.clone(), cost)?;
        let mut permit = SharedPermit {
            lease: None,
            local: Some(local),
            fallback: None,
        };
        if self.has_caps() {
            match self.take_lease(&key, cost, false).await {
                Ok(lease) => permit.lease = Some(lease),
                Err(Ok(SharedError::Busy)) => return Ok(Admission::Busy),
                Err(Ok(e)) => return Err(e),
                Err(Err(store_error)) => {
                    permit.fallback = self.on_failure(store_error, &key, cost, false).await?;
                    return Ok(Admission::Admitted {
                        permit,
                        figures: None,
                    });
                }
            }
        }
        let has_quotas = !(self.config.rate.is_empty() && self.config.per_key_rate.is_empty());
        match self.rate_call_with(&key, cost, has_quotas).await {
            Ok(reply) if reply.admitted => Ok(Admission::Admitted {
                permit,
                figures: reply.figures,
            }),
            Ok(reply) => match reply.wait {
                None => Err(SharedError::ExceedsBurst { cost }),
                Some(retry_after) => Ok(Admission::RateLimited {
                    retry_after,
                    figures: reply.figures,
                }),
            },
            Err(store_error) => {
                permit.fallback = self.on_failure(store_error, &key, cost, false).await?;
                Ok(Admission::Admitted {
                    permit,
                    figures: None,
                })
            }
        }
    }

    /// Hold every process's acquires of `key` for `pause` (a shared
    /// `Retry-After` cooldown). Pauses only lengthen.
    pub async fn pause(&self, key: &str, pause: Duration) -> Result<(), StoreError> {
        let pause_key = self.keys.pause(key);
        let slack = u64::try_from(self.store.options().ttl_slack.as_millis()).unwrap_or(u64::MAX);
        self.store
            .call("pause", |mut c| async move {
                crate::pause::pause_for(&mut c, &pause_key, pause, true, None, slack).await
            })
            .await
            .map(drop)
    }
}
