//! [`RedisStore`]: one connection (a `ConnectionManager`, which reconnects
//! by itself), the call timeout, the health counters and the release
//! notifications.
//!
//! Invariants:
//! - every call settles within `timeout` (then it is a [`StoreError`]), so
//!   nothing built on the store hangs whatever the server does;
//! - there are no retries here beyond the `NOSCRIPT` reload: the caller's
//!   failure policy decides; while the store is degraded, one call per
//!   `timeout` probes it and the others fail at once (see [`Health`]);
//! - a listener task holds a pub/sub subscription to the release channel and
//!   wakes every local lease waiter on each release; whenever its subscription
//!   is (re)made it wakes them too, since releases may have been missed; the
//!   first failure of a healthy store wakes them as well, so that the failure
//!   policy reaches them at once.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error::{StoreError, StoreFailure};
use crate::health::{Health, Mode, StoreStats};

/// Options of a [`RedisStore`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Namespace: limiters with the same prefix and options share limits.
    pub prefix: String,
    /// A concurrency permit held by a process that died comes back after this.
    pub lease: Duration,
    /// A call slower than this is a store error.
    pub timeout: Duration,
    /// Extra TTL on written keys beyond the instant they become idle.
    pub ttl_slack: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            prefix: "weir:".into(),
            lease: Duration::from_secs(30),
            timeout: Duration::from_millis(200),
            ttl_slack: Duration::from_secs(1),
        }
    }
}

/// A Redis / Valkey store shared by every process using the same prefix.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use weir_redis::{RedisStore, StoreOptions};
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let store = RedisStore::new(client, StoreOptions { prefix: "crawler:".into(), ..Default::default() })?;
/// assert_eq!(store.stats().round_trips, 0);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RedisStore {
    con: ConnectionManager,
    options: StoreOptions,
    health: Mutex<Health>,
    released: Arc<Notify>,
    listener: JoinHandle<()>,
}

impl RedisStore {
    /// A store over `client`. Connects lazily: this never blocks and succeeds
    /// even while the server is down (calls then fail until it is up). Must be
    /// called within a tokio runtime.
    pub fn new(client: redis::Client, options: StoreOptions) -> redis::RedisResult<Arc<Self>> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let con = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        let released = Arc::new(Notify::new());
        let channel = format!("{}released", options.prefix);
        let listener = tokio::spawn(listen(client, channel, Arc::clone(&released)));
        Ok(Arc::new(RedisStore {
            con,
            options,
            health: Mutex::new(Health::default()),
            released,
            listener,
        }))
    }

    /// The options.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Counters and mode.
    pub fn stats(&self) -> StoreStats {
        self.health.lock().unwrap().stats()
    }

    /// `Ok` or `Degraded` (since the last failed call, until one succeeds).
    pub fn mode(&self) -> Mode {
        self.health.lock().unwrap().mode()
    }

    /// Woken on every release by any process (and on resubscription).
    pub fn released(&self) -> &Notify {
        &self.released
    }

    /// Run one call with the timeout, counting it.
    pub async fn call<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let refused = self
            .health
            .lock()
            .unwrap()
            .admit_call(std::time::Instant::now(), self.options.timeout);
        if let Err(last) = refused {
            return Err(StoreError {
                op,
                cause: StoreFailure::Degraded(Box::new(last)),
            });
        }
        let start = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(self.options.timeout, f(self.con.clone())).await;
        let result = match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError {
                op,
                cause: if e.is_timeout() {
                    StoreFailure::Timeout(self.options.timeout)
                } else {
                    StoreFailure::Redis(e.to_string())
                },
            }),
            Err(_) => Err(StoreError {
                op,
                cause: StoreFailure::Timeout(self.options.timeout),
            }),
        };
        let mut health = self.health.lock().unwrap();
        match &result {
            Ok(_) => health.success(start.elapsed()),
            Err(e) => {
                let was_ok = health.mode() == Mode::Ok;
                health.failure(e.clone(), std::time::Instant::now());
                if was_ok {
                    // Lease waiters retry now and meet the failure policy,
                    // instead of sleeping until a lease expires.
                    self.released.notify_waiters();
                }
            }
        }
        result
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// The listener task: subscribe, wake waiters on each message; on any loss,
/// wake them all and subscribe again after a short backoff.
async fn listen(client: redis::Client, channel: String, released: Arc<Notify>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await {
            if pubsub.subscribe(&channel).await.is_ok() {
                backoff = Duration::from_millis(50);
                released.notify_waiters();
                let mut messages = pubsub.on_message();
                while messages.next().await.is_some() {
                    released.notify_waiters();
                }
            }
        }
        released.notify_waiters();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}
