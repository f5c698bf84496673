//! Random schedules against the keyed semaphore, driven by manual polling and
//! checked against a model of the contract after every step.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use proptest::prelude::*;
use weir::semaphore::AcquireOwned;
use weir::{AcquireError, KeyedSemaphore, OwnedPermit, SemaphoreStats, TryAcquireError};

const KEYS: u8 = 4;

#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Create an acquire future and poll it once.
    Acquire {
        key: u8,
        n: usize,
    },
    TryAcquire {
        key: u8,
        n: usize,
    },
    /// Poll a pending future (queued, granted-unpolled or rejected).
    Poll(usize),
    /// Drop a pending future (queued or granted-unpolled).
    DropFuture(usize),
    /// Drop a held permit.
    Release(usize),
    SetLimits(Option<usize>, Option<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    let n = prop_oneof![6 => Just(1usize), 1 => Just(0usize), 2 => 2usize..=4];
    let global = prop_oneof![1 => Just(None), 4 => (1usize..=6).prop_map(Some)];
    let per_key = prop_oneof![1 => Just(None), 3 => (1usize..=3).prop_map(Some)];
    prop_oneof![
        6 => (0..KEYS, n.clone()).prop_map(|(key, n)| Op::Acquire { key, n }),
        2 => (0..KEYS, n).prop_map(|(key, n)| Op::TryAcquire { key, n }),
        4 => any::<usize>().prop_map(Op::Poll),
        2 => any::<usize>().prop_map(Op::DropFuture),
        5 => any::<usize>().prop_map(Op::Release),
        1 => (global, per_key).prop_map(|(g, k)| Op::SetLimits(g, k)),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Status {
    Queued,
    Granted,
    Rejected(AcquireError),
}

struct Pending {
    fut: AcquireOwned<u8>,
    key: u8,
    n: usize,
    seq: u64,
    counter: Arc<Counter>,
    waker: Waker,
    status: Status,
}

struct Model {
    sem: Arc<KeyedSemaphore<u8>>,
    global: Option<usize>,
    per_key: Option<usize>,
    pending: Vec<Pending>,
    held: Vec<OwnedPermit<u8>>,
    seq: u64,
}

fn fits(limit: Option<usize>, used: usize, n: usize) -> bool {
    limit.map_or(true, |l| used + n <= l)
}

impl Model {
    fn min_limit(&self) -> Option<usize> {
        match (self.global, self.per_key) {
            (Some(g), Some(k)) => Some(g.min(k)),
            (l, None) | (None, l) => l,
        }
    }

    fn key_in_flight(&self, key: u8) -> usize {
        let held: usize = self
            .held
            .iter()
            .filter(|p| *p.key() == key)
            .map(|p| p.permits())
            .sum();
        let granted: usize = self
            .pending
            .iter()
            .filter(|p| p.key == key && p.status == Status::Granted)
            .map(|p| p.n)
            .sum();
        held + granted
    }

    fn in_flight(&self) -> usize {
        (0..KEYS).map(|k| self.key_in_flight(k)).sum()
    }

    /// Queued waiters of `key`, oldest first.
    fn queue(&self, key: u8) -> Vec<&Pending> {
        let mut q: Vec<_> = self
            .pending
            .iter()
            .filter(|p| p.key == key && p.status == Status::Queued)
            .collect();
        q.sort_by_key(|p| p.seq);
        q
    }

    /// Permit counts of the heads that fit their key's cap (the ring).
    fn eligible_heads(&self) -> Vec<usize> {
        (0..KEYS)
            .filter_map(|k| {
                self.queue(k)
                    .first()
                    .map(|h| h.n)
                    .filter(|&n| fits(self.per_key, self.key_in_flight(k), n))
            })
            .collect()
    }

    /// What an immediate acquire must answer.
    fn expect_immediate(&self, key: u8, n: usize) -> Result<(), TryAcquireError> {
        if n == 0 {
            return Ok(());
        }
        if let Some(limit) = self.min_limit().filter(|&l| n > l) {
            return Err(TryAcquireError::TooLarge {
                requested: n,
                limit,
            });
        }
        let grantable = self.queue(key).is_empty()
            && self.eligible_heads().is_empty()
            && fits(self.per_key, self.key_in_flight(key), n)
            && fits(self.global, self.in_flight(), n);
        if grantable {
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Classifies the waiters woken by the last step and checks FIFO, caps and
    /// "nothing grantable left waiting".
    fn settle(&mut self, set_limits: bool, mut granted_keys: BTreeSet<u8>) {
        // Which queued waiters were woken, per key, in queue order.
        for key in 0..KEYS {
            let queue: Vec<u64> = self.queue(key).iter().map(|p| p.seq).collect();
            let mut prefix = true;
            for seq in queue {
                let p = self.pending.iter_mut().find(|p| p.seq == seq).unwrap();
                let woken = p.counter.0.load(Ordering::SeqCst);
                assert!(woken <= 1, "waiter woken twice");
                if woken == 0 {
                    prefix = false;
                    continue;
                }
                let too_large = match (self.global, self.per_key) {
                    (Some(g), Some(k)) => Some(g.min(k)),
                    (l, None) | (None, l) => l,
                }
                .filter(|&l| p.n > l);
                if let (true, Some(limit)) = (set_limits, too_large) {
                    p.status = Status::Rejected(AcquireError::TooLarge {
                        requested: p.n,
                        limit,
                    });
                } else {
                    assert!(
                        prefix,
                        "key {key}: a waiter was granted before an older one"
                    );
                    p.status = Status::Granted;
                    granted_keys.insert(key);
                }
            }
        }
        // Caps hold as of every grant.
        let in_flight = self.in_flight();
        if !granted_keys.is_empty() {
            assert!(
                fits(self.global, in_flight, 0),
                "global cap exceeded: {in_flight}"
            );
        }
        for &key in &granted_keys {
            assert!(
                fits(self.per_key, self.key_in_flight(key), 0),
                "per-key cap exceeded"
            );
        }
        // The semaphore agrees with the model.
        let waiting = self
            .pending
            .iter()
            .filter(|p| p.status == Status::Queued)
            .count();
        let keys = (0..KEYS)
            .filter(|&k| self.key_in_flight(k) > 0 || !self.queue(k).is_empty())
            .count();
        assert_eq!(
            self.sem.stats(),
            SemaphoreStats {
                in_flight,
                waiting,
                keys
            }
        );
        for key in 0..KEYS {
            assert_eq!(
                self.sem.in_flight_of(&key),
                self.key_in_flight(key),
                "key {key}"
            );
        }
        // No head-of-line blocking: if an eligible head fits the global cap,
        // some other eligible head (the round-robin front) must not.
        let heads = self.eligible_heads();
        if heads.iter().any(|&n| fits(self.global, in_flight, n)) {
            assert!(
                heads.iter().any(|&n| !fits(self.global, in_flight, n)),
                "a waiter is grantable but left waiting: heads {heads:?}, in flight {in_flight}, limits {:?}",
                (self.global, self.per_key)
            );
        }
    }

    fn step(&mut self, op: Op) {
        let mut granted_keys = BTreeSet::new();
        let mut set_limits = false;
        match op {
            Op::Acquire { key, n } => {
                let expected = self.expect_immediate(key, n);
                let counter = Arc::new(Counter::default());
                let waker = Waker::from(counter.clone());
                let mut fut = self.sem.acquire_owned(key, n);
                match Pin::new(&mut fut).poll(&mut Context::from_waker(&waker)) {
                    Poll::Ready(Ok(permit)) => {
                        assert_eq!(expected, Ok(()));
                        assert_eq!((*permit.key(), permit.permits()), (key, n));
                        self.held.push(permit);
                        if n > 0 {
                            granted_keys.insert(key);
                        }
                    }
                    Poll::Ready(Err(AcquireError::TooLarge { requested, limit })) => {
                        assert_eq!(
                            expected,
                            Err(TryAcquireError::TooLarge { requested, limit })
                        );
                    }
                    Poll::Pending => {
                        assert_eq!(expected, Err(TryAcquireError::NoPermits));
                        self.seq += 1;
                        let seq = self.seq;
                        let status = Status::Queued;
                        self.pending.push(Pending {
                            fut,
                            key,
                            n,
                            seq,
                            counter,
                            waker,
                            status,
                        });
                    }
                }
            }
            Op::TryAcquire { key, n } => {
                let expected = self.expect_immediate(key, n);
                let got = self.sem.try_acquire_owned(key, n);
                assert_eq!(got.as_ref().map(|_| ()).map_err(|e| *e), expected);
                if let Ok(permit) = got {
                    assert_eq!(permit.permits(), n);
                    self.held.push(permit);
                    if n > 0 {
                        granted_keys.insert(key);
                    }
                }
            }
            Op::Poll(i) if !self.pending.is_empty() => {
                let i = i % self.pending.len();
                let p = &mut self.pending[i];
                let waker = p.waker.clone();
                let polled = Pin::new(&mut p.fut).poll(&mut Context::from_waker(&waker));
                match (p.status, polled) {
                    (Status::Queued, Poll::Pending) => {}
                    (Status::Granted, Poll::Ready(Ok(permit))) => {
                        assert_eq!((*permit.key(), permit.permits()), (p.key, p.n));
                        self.held.push(permit);
                        self.pending.swap_remove(i);
                    }
                    (Status::Rejected(err), Poll::Ready(Err(got))) => {
                        assert_eq!(got, err);
                        self.pending.swap_remove(i);
                    }
                    (status, polled) => panic!(
                        "model says {status:?}, poll gave {:?}",
                        polled.map(|r| r.map(|p| p.permits()))
                    ),
                }
            }
            Op::DropFuture(i) if !self.pending.is_empty() => {
                let i = i % self.pending.len();
                drop(self.pending.swap_remove(i));
            }
            Op::Release(i) if !self.held.is_empty() => {
                let i = i % self.held.len();
                drop(self.held.swap_remove(i));
            }
            Op::SetLimits(global, per_key) => {
                self.sem.set_limits(global, per_key).unwrap();
                (self.global, self.per_key) = (global, per_key);
                set_limits = true;
            }
            Op::Poll(_) | Op::DropFuture(_) | Op::Release(_) => {}
        }
        self.settle(set_limits, granted_keys);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_schedules_keep_the_contract(
        global in prop_oneof![1 => Just(None), 4 => (1usize..=6).prop_map(Some)],
        per_key in prop_oneof![1 => Just(None), 3 => (1usize..=3).prop_map(Some)],
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let sem = Arc::new(KeyedSemaphore::new(global, per_key).unwrap());
        let mut model = Model { sem: sem.clone(), global, per_key, pending: Vec::new(), held: Vec::new(), seq: 0 };
        for op in ops {
            model.step(op);
        }
        // Dropping everything gives all capacity back and evicts every key.
        let Model { pending, held, .. } = model;
        drop(pending);
        drop(held);
        prop_assert_eq!(sem.stats(), SemaphoreStats::default());
        let (global, per_key) = sem.limits();
        if let Some(k) = per_key {
            let k = global.map_or(k, |g| g.min(k));
            drop(sem.try_acquire(0, k).expect("a key's full capacity is back"));
        }
        if let Some(g) = global {
            let all: Vec<_> = (0..g).map(|i| sem.try_acquire(100 + i as u8, 1)).collect();
            prop_assert!(all.iter().all(Result::is_ok), "global capacity is back");
        }
    }
}
