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
//!   policy reaches them at once;
//! - rate decisions ([`RedisStore::decide`]) are batched: the requests of
//!   callers arriving while a `gcra.lua` call is in flight go out as the next
//!   single call, in arrival order (see [`crate::batch`]).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::batch::BatchQueue;
use crate::error::{StoreError, StoreFailure};
use crate::health::{Health, Mode, StoreStats};
use crate::rate::{run_batch, RateReply, RateRequest};

/// A caller waiting for the next batch.
#[derive(Debug)]
struct Pending {
    request: RateRequest,
    reply: tokio::sync::oneshot::Sender<Result<RateReply, StoreError>>,
}

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
    batches: Mutex<BatchQueue<Pending>>,
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
            batches: Mutex::new(BatchQueue::default()),
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

impl RedisStore {
    /// One rate decision (a check, consumed when admitted, on the server's
    /// clock), batched with the decisions of concurrent callers: sent at once
    /// when no `gcra.lua` call is in flight on this store, else with every
    /// request that arrives meanwhile as the next single call. Decided
    /// exactly as if each caller made its own call, in arrival order. A
    /// failed or timed-out batch fails every caller in it with the same
    /// [`StoreError`].
    pub async fn decide(self: &Arc<Self>, request: RateRequest) -> Result<RateReply, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let lead = self
            .batches
            .lock()
            .unwrap()
            .arrive(Pending { request, reply });
        match lead {
            Some(Pending { request, .. }) => {
                // Whatever happens to this future, the next batch goes out.
                let _hand_off = HandOff(self);
                let mut replies = self.send_batch(std::slice::from_ref(&request)).await?;
                Ok(replies.remove(0))
            }
            None => answer.await.unwrap_or_else(|_| {
                Err(StoreError {
                    op: "rate",
                    cause: StoreFailure::Redis(
                        "the batch was dropped (its runtime is shutting down)".into(),
                    ),
                })
            }),
        }
    }

    /// One store call deciding `requests` in order.
    async fn send_batch(&self, requests: &[RateRequest]) -> Result<Vec<RateReply>, StoreError> {
        let slack = u64::try_from(self.options.ttl_slack.as_millis()).unwrap_or(u64::MAX);
        let calls: Vec<_> = requests.iter().map(|r| r.call(slack)).collect();
        self.call(
            "rate",
            |mut c| async move { run_batch(&calls, &mut c).await },
        )
        .await
    }

    /// Send batches until nobody waits.
    async fn drive(self: Arc<Self>, mut batch: Vec<Pending>) {
        loop {
            let (requests, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|p| (p.request, p.reply)).unzip();
            let answered = requests.len();
            match self.send_batch(&requests).await {
                Ok(answers) => {
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        let _ = reply.send(Ok(answer));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
            if answered > 1 {
                // The callers just answered mostly come straight back: let
                // them queue, so the next call carries them all.
                tokio::task::yield_now().await;
            }
            match self.batches.lock().unwrap().next_batch() {
                Some(next) => batch = next,
                None => return,
            }
        }
    }
}

/// Dropped when a leader's call ends (or its future is dropped): hands the
/// waiting callers to a task that sends them.
struct HandOff<'a>(&'a Arc<RedisStore>);

impl Drop for HandOff<'_> {
    fn drop(&mut self) {
        let Some(batch) = self.0.batches.lock().unwrap().next_batch() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(Arc::clone(self.0).drive(batch))),
            // No runtime: the callers' channels close with the batch and
            // they fail; the queue is idle again for whoever comes next.
            Err(_) => {
                drop(batch);
                while self.0.batches.lock().unwrap().next_batch().is_some() {}
            }
        }
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
