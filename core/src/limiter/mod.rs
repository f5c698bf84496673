//! [`Limiter`]: concurrency caps, rate quotas and a bounded queue in one
//! entry point — the one the bindings and integrations use.
//!
//! Admission order for a waiting acquire, chosen so that nothing waiting for
//! one key holds capacity another key could use:
//! 1. wait, holding nothing, until the key's pause (`pause_until`, e.g. from
//!    `Retry-After`) is over and its rate tokens are there, as the head of
//!    the key's rate queue (FIFO per key);
//! 2. take the concurrency permits (global + per key; FIFO per key,
//!    round-robin across keys), keeping that place;
//! 3. take the rate tokens (global + per-key quotas, all at once) at the
//!    instant the permits are granted, so that the instants work *starts*
//!    obey every quota exactly. If they went to other keys meanwhile, the
//!    permits go straight back and the wait returns to step 1: no permit is
//!    ever held while waiting for time.

mod acquire;
mod adaptive;
mod config;
mod error;
mod grant;
mod status;

pub use acquire::LimiterAcquire;
pub use adaptive::{AdaptiveLimits, InFlight};
pub use config::{ConfigError, LimiterConfig};
pub use error::LimiterError;
pub use grant::LimiterGrant;
pub(crate) use status::CellStatus;
pub use status::RateStatus;

use core::future::Future;
use core::hash::Hash;

use crate::adaptive::{AdaptiveLimit, KeyedAdaptive};
use crate::rate::{Denied, Quota, RateLimiter};
use crate::semaphore::{Grant, KeyedSemaphore, OwnedPermit, TryAcquireError};
use crate::sync::{AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::{Instant, Timer};
use alloc::sync::Arc;

/// Concurrency caps (global and per key), rate quotas (global and per key)
/// and a bounded wait queue, enforced together.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use weir::{Limiter, LimiterConfig, LimiterError, ManualClock, Quota};
/// let clock = ManualClock::new();
/// let limiter = Arc::new(Limiter::new(
///     LimiterConfig {
///         concurrency: Some(2),
///         per_key_rate: vec![Quota::per_second(1).unwrap()],
///         ..Default::default()
///     },
///     clock.clone(),
/// ).unwrap());
/// let a = limiter.try_acquire("a.example", 1).unwrap();
/// // The key's quota is spent for this second:
/// assert!(matches!(limiter.try_acquire("a.example", 1), Err(LimiterError::RateLimited { .. })));
/// // Another key has its own quota, and the global cap has room:
/// let b = limiter.acquire("b.example", 1).await.unwrap();
/// assert_eq!(limiter.stats().in_flight, 2);
/// drop((a, b));
/// assert_eq!(limiter.stats().in_flight, 0);
/// # });
/// ```
#[derive(Debug)]
pub struct Limiter<K: Hash + Eq + Clone, T> {
    semaphore: Arc<KeyedSemaphore<K>>,
    rate: RateLimiter<K, T>,
    max_queue: Option<usize>,
    queued: AtomicUsize,
    /// Whether the rate state can say no: quotas exist, or a pause was set
    /// once. While false, admission skips the rate state entirely (no lock,
    /// no clock read) — the common "concurrency caps only" case.
    rate_engaged: AtomicBool,
    /// The adaptive controller of the global cap, and the configured
    /// `concurrency` that caps it.
    adaptive: Option<(Mutex<AdaptiveLimit>, Option<usize>)>,
    /// One adaptive controller per key (`per_key_adaptive`), whose limits
    /// are the keys' soft caps in the semaphore.
    per_key_adaptive: Option<Mutex<KeyedAdaptive<K>>>,
}

/// Statistics of a [`Limiter`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Permits held (sum of costs of admitted, unreleased work).
    pub in_flight: usize,
    /// Acquires waiting (for a pause, a permit, or a rate token).
    pub queued: usize,
    /// Keys resident in the concurrency state (in flight or waiting).
    pub keys: usize,
    /// Keys resident in the rate state (not yet idle).
    pub rate_keys: usize,
}

/// Work admitted by a [`Limiter`]; dropping it returns the concurrency
/// permits (global and per key together). Rate tokens are spent for good.
#[derive(Debug)]
pub struct LimiterPermit<K: Hash + Eq + Clone> {
    _permit: OwnedPermit<K>,
}

impl<K: Hash + Eq + Clone, T: Timer> Limiter<K, T> {
    /// A limiter enforcing `config`, reading and sleeping on `timer`.
    pub fn new(config: LimiterConfig, timer: T) -> Result<Self, ConfigError> {
        config.validate()?;
        let adaptive = config.adaptive.map(|a| AdaptiveLimit::from_valid(a, 0));
        let concurrency = match &adaptive {
            Some(a) => Some(cap(a.limit(), config.concurrency)),
            None => config.concurrency,
        };
        let semaphore =
            KeyedSemaphore::new(concurrency, config.per_key).map_err(|_| ConfigError {
                field: "concurrency",
                problem: "must be at least 1",
            })?;
        let per_key_adaptive = config
            .per_key_adaptive
            .map(|a| adaptive::keyed(a, config.per_key));
        if let Some(keyed) = &per_key_adaptive {
            semaphore.set_default_key_cap(Some(cap(keyed.config().initial, config.per_key)));
        }
        Ok(Self {
            semaphore: Arc::new(semaphore),
            rate: RateLimiter::new(&config.rate, &config.per_key_rate, timer),
            max_queue: config.max_queue,
            queued: AtomicUsize::new(0),
            rate_engaged: AtomicBool::new(
                !(config.rate.is_empty() && config.per_key_rate.is_empty()),
            ),
            adaptive: adaptive.map(|a| (Mutex::new(a), config.concurrency)),
            per_key_adaptive: per_key_adaptive.map(Mutex::new),
        })
    }

    /// Admits `cost` units of work for `key` now, or says why not — never
    /// waits. Does not jump ahead of waiters.
    pub fn try_acquire(&self, key: K, cost: u32) -> Result<LimiterPermit<K>, LimiterError> {
        let LimiterGrant(grant) = self.try_acquire_grant(&key, cost)?;
        Ok(LimiterPermit {
            _permit: OwnedPermit::new(Arc::clone(&self.semaphore), key, grant),
        })
    }

    /// [`try_acquire`](Self::try_acquire) without the RAII guard: the permits
    /// as a plain [`LimiterGrant`] (no key clone, no `Arc`), to be handed to
    /// [`release`](Self::release). For hosts that keep permits in tables of
    /// their own, like the wasm bindings.
    pub fn try_acquire_grant(&self, key: &K, cost: u32) -> Result<LimiterGrant, LimiterError> {
        let grant = self.take_permits(key, cost)?;
        // One rate lock and clock read on the way in: consume, or give the
        // permits straight back (no waiter can be behind a fresh grant).
        if self.rate_engaged() {
            if let Err(d) = self.rate.check(key, cost) {
                self.semaphore.release(grant);
                return Err(denied(d));
            }
        }
        Ok(LimiterGrant(grant))
    }

    /// Admits `cost` units of work for `key` now and lets them go at once:
    /// a momentary admission, as a rate limiter's `check` is. Rate tokens are
    /// spent; nothing is held. Answers as [`try_acquire`](Self::try_acquire)
    /// does, and does not jump ahead of waiters either.
    ///
    /// Without concurrency caps nobody ever waits for a permit. The
    /// concurrency state is then not touched at all: one rate check, no copy
    /// of the key.
    ///
    /// ```
    /// use weir::{Limiter, LimiterConfig, LimiterError, ManualClock, Quota};
    /// let limiter = Limiter::new(
    ///     LimiterConfig { per_key_rate: vec![Quota::per_second(2).unwrap()], ..Default::default() },
    ///     ManualClock::new(),
    /// ).unwrap();
    /// assert!(limiter.try_pass(&"k", 1).is_ok());
    /// assert!(limiter.try_pass(&"k", 1).is_ok());
    /// assert!(matches!(limiter.try_pass(&"k", 1), Err(LimiterError::RateLimited { .. })));
    /// assert_eq!((limiter.stats().in_flight, limiter.stats().keys), (0, 0));
    /// ```
    pub fn try_pass(&self, key: &K, cost: u32) -> Result<(), LimiterError> {
        if self.limits() != (None, None) {
            let grant = self.try_acquire_grant(key, cost)?;
            self.release(grant);
            return Ok(());
        }
        if self.rate_engaged() {
            self.rate.check(key, cost).map_err(denied)?;
        }
        Ok(())
    }

    /// [`try_acquire_grant`](Self::try_acquire_grant) of `cost` up to `count`
    /// times over, in one lock: a grant of `k * cost` permits with
    /// `1 <= k <= count`, as many as the caps allow now (the same rules: no
    /// jumping ahead of waiters). With rate quotas every unit of work must
    /// pass them on its own, so `k` is then always 1. Split units off with
    /// [`LimiterGrant::split_off`] to release them one by one.
    ///
    /// ```
    /// use weir::{Limiter, LimiterConfig, ManualClock};
    /// let limiter = Limiter::new(
    ///     LimiterConfig { concurrency: Some(3), ..Default::default() },
    ///     ManualClock::new(),
    /// ).unwrap();
    /// let mut lease = limiter.try_acquire_grants(&"k", 1, 10).unwrap();
    /// assert_eq!(lease.permits(), 3);
    /// limiter.release(lease.split_off(1));
    /// assert_eq!(limiter.stats().in_flight, 2);
    /// limiter.release(lease);
    /// assert_eq!(limiter.stats().in_flight, 0);
    /// ```
    pub fn try_acquire_grants(
        &self,
        key: &K,
        cost: u32,
        count: u32,
    ) -> Result<LimiterGrant, LimiterError> {
        if count <= 1 || self.rate_engaged() {
            return self.try_acquire_grant(key, cost);
        }
        self.semaphore
            .try_acquire_grant_up_to(key, cost as usize, count as usize)
            .map(LimiterGrant)
            .map_err(|e| self.refusal(key, cost, e))
    }

    /// [`try_acquire`](Self::try_acquire) and then
    /// [`rate_status`](Self::rate_status) of the same key in one go: the rate
    /// check and the figures under one lock and one clock read. The figures
    /// are those right after this admission (`None` without rate quotas) —
    /// what a server puts in the `RateLimit-*` headers of the response.
    ///
    /// ```
    /// use weir::{Limiter, LimiterConfig, ManualClock, Quota};
    /// let limiter = Limiter::new(
    ///     LimiterConfig { per_key_rate: vec![Quota::per_second(4)?], ..Default::default() },
    ///     ManualClock::new(),
    /// ).unwrap();
    /// let (permit, status) = limiter.try_acquire_with_status("10.0.0.1", 1).unwrap();
    /// assert_eq!(status, limiter.rate_status(&"10.0.0.1"));
    /// assert_eq!(status.unwrap().remaining, 3);
    /// drop(permit);
    /// # Ok::<(), weir::QuotaError>(())
    /// ```
    pub fn try_acquire_with_status(
        &self,
        key: K,
        cost: u32,
    ) -> Result<(LimiterPermit<K>, Option<RateStatus>), LimiterError> {
        let (LimiterGrant(grant), status) = self.try_acquire_grant_with_status(&key, cost)?;
        let permit = LimiterPermit {
            _permit: OwnedPermit::new(Arc::clone(&self.semaphore), key, grant),
        };
        Ok((permit, status))
    }

    /// [`try_acquire_with_status`](Self::try_acquire_with_status) as a plain
    /// [`LimiterGrant`] for [`release`](Self::release).
    pub fn try_acquire_grant_with_status(
        &self,
        key: &K,
        cost: u32,
    ) -> Result<(LimiterGrant, Option<RateStatus>), LimiterError> {
        if !self.rate_engaged() {
            // No quotas and never paused: no figures, no rate lock.
            return self.try_acquire_grant(key, cost).map(|g| (g, None));
        }
        let grant = self.take_permits(key, cost)?;
        match self.rate.check_with_status(key, cost) {
            Ok(status) => Ok((LimiterGrant(grant), status)),
            Err(d) => {
                self.semaphore.release(grant);
                Err(denied(d))
            }
        }
    }

    /// The semaphore's part of a non-waiting admission: the permits, or why
    /// not — `Busy`, unless the rate state says more precisely (a denial with
    /// its not-until instant wins over `Busy`).
    fn take_permits(&self, key: &K, cost: u32) -> Result<Grant, LimiterError> {
        self.semaphore
            .try_acquire_grant(key, cost as usize)
            .map_err(|e| self.refusal(key, cost, e))
    }

    /// The limiter's answer for a semaphore refusal of `cost` on `key`.
    fn refusal(&self, key: &K, cost: u32, e: TryAcquireError) -> LimiterError {
        match e {
            TryAcquireError::TooLarge { requested, limit } => {
                LimiterError::TooLarge { requested, limit }
            }
            TryAcquireError::NoPermits => {
                if self.rate_engaged() {
                    if let Err(d) = self.rate.peek(key, cost) {
                        return denied(d);
                    }
                }
                LimiterError::Busy
            }
        }
    }

    /// Gives back the permits of `grant` (from this limiter), letting the
    /// next waiters through. Rate tokens are spent for good.
    pub fn release(&self, grant: LimiterGrant) {
        self.semaphore.release(grant.0);
    }

    /// Admits `cost` units of work for `key`, waiting as long as it takes
    /// (unless the queue is full). Dropping the future leaves the queue and
    /// returns whatever it held.
    pub fn acquire(
        self: &Arc<Self>,
        key: K,
        cost: u32,
    ) -> impl Future<Output = Result<LimiterPermit<K>, LimiterError>> + 'static
    where
        K: 'static,
        T: 'static,
    {
        let semaphore = Arc::clone(&self.semaphore);
        let waiting = self.acquire_grant(key.clone(), cost);
        async move {
            let LimiterGrant(grant) = waiting.await?;
            Ok(LimiterPermit {
                _permit: OwnedPermit::new(semaphore, key, grant),
            })
        }
    }

    /// [`acquire`](Self::acquire) without the RAII guard: a named future
    /// resolving to a [`LimiterGrant`] for [`release`](Self::release).
    pub fn acquire_grant(self: &Arc<Self>, key: K, cost: u32) -> LimiterAcquire<K, T> {
        LimiterAcquire::new(Arc::clone(self), key, cost)
    }

    /// Holds every new and waiting acquire for `key` until `until` (a
    /// cooldown, e.g. from `Retry-After`). Work already admitted goes on.
    pub fn pause_until(&self, key: &K, until: Instant) {
        self.rate_engaged.store(true, Ordering::Release);
        self.rate.pause_until(key, until);
    }

    /// Changes the concurrency caps at runtime: raising wakes waiters;
    /// lowering never revokes permits already held.
    pub fn set_limits(
        &self,
        concurrency: Option<usize>,
        per_key: Option<usize>,
    ) -> Result<(), ConfigError> {
        LimiterConfig {
            concurrency,
            per_key,
            ..Default::default()
        }
        .validate()?;
        self.semaphore
            .set_limits(concurrency, per_key)
            .map_err(|_| ConfigError {
                field: "concurrency",
                problem: "must be at least 1",
            })
    }

    /// The concurrency caps in force: `(concurrency, per_key)`.
    pub fn limits(&self) -> (Option<usize>, Option<usize>) {
        self.semaphore.limits()
    }

    /// Current figures.
    pub fn stats(&self) -> LimiterStats {
        let s = self.semaphore.stats();
        LimiterStats {
            in_flight: s.in_flight,
            queued: self.queued.load(Ordering::Relaxed),
            keys: s.keys,
            rate_keys: self.rate.keys(),
        }
    }

    /// The rate figures of `key` now (for `RateLimit-*` headers and an exact
    /// `Retry-After`), consuming nothing; `None` without rate quotas.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weir::{Clock, Limiter, LimiterConfig, LimiterError, ManualClock, Quota};
    /// let clock = ManualClock::new();
    /// let limiter = Limiter::new(
    ///     LimiterConfig { per_key_rate: vec![Quota::per_second(2)?], ..Default::default() },
    ///     clock.clone(),
    /// ).unwrap();
    /// let _a = limiter.try_acquire("10.0.0.1", 1).unwrap();
    /// let _b = limiter.try_acquire("10.0.0.1", 1).unwrap();
    /// let Err(LimiterError::RateLimited { not_until }) = limiter.try_acquire("10.0.0.1", 1) else {
    ///     unreachable!()
    /// };
    /// let status = limiter.rate_status(&"10.0.0.1").unwrap();
    /// assert_eq!(status.remaining, 0);
    /// assert_eq!(clock.now() + status.retry_after, not_until); // exact Retry-After
    /// assert_eq!(status.reset_after, Duration::from_secs(1));
    /// # Ok::<(), weir::QuotaError>(())
    /// ```
    pub fn rate_status(&self, key: &K) -> Option<RateStatus> {
        self.rate.status(key)
    }

    /// Drops the rate state of keys that have gone idle (bucket full again, no
    /// pause, nobody waiting). The rate state also sweeps itself as it grows;
    /// call this when traffic stops to bring resident keys back to ~0.
    /// Concurrency state needs no sweep: idle keys leave it at once.
    pub fn evict_idle(&self) {
        self.rate.evict_idle();
        self.evict_idle_controllers();
    }

    /// The quotas shared by all keys.
    pub fn rate_quotas(&self) -> &[Quota] {
        self.rate.global_quotas()
    }

    /// The quotas applied to each key.
    pub fn per_key_rate_quotas(&self) -> &[Quota] {
        self.rate.per_key_quotas()
    }

    /// Permits held by `key` now.
    pub fn in_flight_of(&self, key: &K) -> usize {
        self.semaphore.in_flight_of(key)
    }

    /// The timer (and clock) this limiter runs on.
    pub fn timer(&self) -> &T {
        self.rate.timer()
    }

    fn rate_engaged(&self) -> bool {
        self.rate_engaged.load(Ordering::Acquire)
    }

    fn enter_queue(&self) -> Result<QueuePlace<'_>, LimiterError> {
        match self.max_queue {
            None => {
                self.queued.fetch_add(1, Ordering::Relaxed);
            }
            Some(max) => {
                let mut current = self.queued.load(Ordering::Relaxed);
                loop {
                    if current >= max {
                        return Err(LimiterError::QueueFull { max });
                    }
                    match self.queued.compare_exchange_weak(
                        current,
                        current + 1,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(now) => current = now,
                    }
                }
            }
        }
        Ok(QueuePlace {
            queued: &self.queued,
        })
    }
}

/// One place in the wait queue, given back on drop (admitted or cancelled).
struct QueuePlace<'a> {
    queued: &'a AtomicUsize,
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }
}

fn denied(d: Denied) -> LimiterError {
    match d {
        Denied::NotUntil(not_until) => LimiterError::RateLimited { not_until },
        Denied::ExceedsBurst { cost, burst } => LimiterError::ExceedsBurst { cost, burst },
    }
}

/// An adaptive limit under the configured cap, as a semaphore limit.
fn cap(limit: u32, configured: Option<usize>) -> usize {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    configured.map_or(limit, |c| limit.min(c))
}
