//! Random schedules against [`SemaphoreState`] with per-key soft caps that
//! change at runtime (what an adaptive per-key limit does), checked after
//! every step:
//! - a grant never takes a key above its soft cap in force, except one
//!   request admitted alone (its key had nothing in flight);
//! - no permit is lost or counted twice: the state's in-flight figures,
//!   per key and in total, equal the model's held grants;
//! - changes of cap take effect: a key whose oldest waiter fits its cap is
//!   only ever waiting on the global cap, and nothing waits while nothing
//!   is in flight (no deadlock, an oversized request included);
//! - eviction keeps the cap: churning many other keys through the state
//!   (evicting idle slots) leaves every key's cap as last set.

use std::collections::HashMap;

use proptest::prelude::*;
use weir::semaphore::{Acquired, Grant, SemaphoreState, WaiterId, WaiterPoll};

const KEYS: u32 = 3;
/// Keys used to churn the idle list (and evict slots), apart from `0..KEYS`.
const CHURN: u32 = 100;

#[derive(Clone, Debug)]
enum Op {
    Acquire { key: u32, n: usize },
    TryAcquire { key: u32, n: usize },
    Release(usize),
    Cancel(usize),
    SetCap { key: u32, cap: usize },
    ClearCap(u32),
    Churn,
}

fn op() -> impl Strategy<Value = Op> {
    let n = prop_oneof![6 => Just(1usize), 2 => 2usize..=5];
    prop_oneof![
        6 => (0..KEYS, n.clone()).prop_map(|(key, n)| Op::Acquire { key, n }),
        2 => (0..KEYS, n).prop_map(|(key, n)| Op::TryAcquire { key, n }),
        5 => any::<usize>().prop_map(Op::Release),
        1 => any::<usize>().prop_map(Op::Cancel),
        3 => (0..KEYS, 1usize..=4).prop_map(|(key, cap)| Op::SetCap { key, cap }),
        1 => (0..KEYS).prop_map(Op::ClearCap),
        1 => Just(Op::Churn),
    ]
}

struct Model {
    st: SemaphoreState<u32, u64>,
    global: Option<usize>,
    default_cap: Option<usize>,
    caps: HashMap<u32, usize>,
    held: Vec<(u32, Grant)>,
    /// Queued waiters: (key, n, id, token).
    queued: Vec<(u32, usize, WaiterId, u64)>,
    next_token: u64,
}

impl Model {
    fn cap(&self, key: u32) -> Option<usize> {
        self.caps.get(&key).copied().or(self.default_cap)
    }

    fn held_of(&self, key: u32) -> usize {
        self.held
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, g)| g.permits())
            .sum()
    }

    /// Claims the grants of woken waiters; checks each key's new grants
    /// against its cap, given what it held before them.
    fn settle(
        &mut self,
        before: &HashMap<u32, usize>,
        mut fresh: Vec<(u32, Grant)>,
        woken: Vec<u64>,
    ) {
        for token in woken {
            let i = self
                .queued
                .iter()
                .position(|q| q.3 == token)
                .expect("a live waiter");
            let (key, n, id, _) = self.queued.remove(i);
            match self.st.poll(id) {
                WaiterPoll::Granted(g) => {
                    assert_eq!(g.permits(), n);
                    fresh.push((key, g));
                }
                other => panic!("woken waiter not granted: {other:?}"),
            }
        }
        for key in 0..KEYS {
            let new: Vec<usize> = fresh
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, g)| g.permits())
                .collect();
            if new.is_empty() {
                continue;
            }
            let was = before.get(&key).copied().unwrap_or(0);
            let total = was + new.iter().sum::<usize>();
            let within = self.cap(key).map_or(true, |c| total <= c);
            let alone = was == 0 && new.len() == 1;
            assert!(
                within || alone,
                "key {key}: held {was}, granted {new:?}, cap {:?}",
                self.cap(key)
            );
        }
        self.held.extend(fresh);
    }

    fn check(&self) {
        let stats = self.st.stats();
        let total: usize = self.held.iter().map(|(_, g)| g.permits()).sum();
        assert_eq!(stats.in_flight, total, "permits lost or double-counted");
        assert_eq!(stats.waiting, self.queued.len());
        assert_eq!(
            self.st.key_cap_overrides(),
            self.caps.len(),
            "one override per key set"
        );
        for key in 0..KEYS {
            assert_eq!(self.st.in_flight_of(&key), self.held_of(key));
            assert_eq!(self.st.key_cap(&key), self.cap(key), "cap of {key}");
        }
        if total == 0 {
            assert!(
                self.queued.is_empty(),
                "waiters stuck with nothing in flight"
            );
        }
        // A key whose oldest waiter fits its cap waits on the global cap only.
        let mut eligible_max = None;
        for key in 0..KEYS {
            if let Some(&(_, n, _, _)) = self.queued.iter().find(|q| q.0 == key) {
                let held = self.held_of(key);
                if held == 0 || self.cap(key).map_or(true, |c| held + n <= c) {
                    eligible_max = eligible_max.max(Some(n));
                }
            }
        }
        if let Some(n) = eligible_max {
            let g = self
                .global
                .expect("only a global cap can hold a fitting head");
            assert!(
                total + n > g,
                "a fitting waiter of {n} waits with {total} of {g} held"
            );
        }
    }

    fn step(&mut self, op: Op) {
        let before: HashMap<u32, usize> = (0..KEYS).map(|k| (k, self.held_of(k))).collect();
        let mut woken = Vec::new();
        let mut fresh = Vec::new();
        match op {
            Op::Acquire { key, n } => {
                let token = self.next_token;
                self.next_token += 1;
                match self.st.acquire(&key, n, || token) {
                    Ok(Acquired::Granted(g)) => fresh.push((key, g)),
                    Ok(Acquired::Queued(id)) => self.queued.push((key, n, id, token)),
                    Err(_) => assert!(self.global.is_some_and(|g| n > g), "{n} refused"),
                }
            }
            Op::TryAcquire { key, n } => {
                if let Ok(g) = self.st.try_acquire(&key, n) {
                    fresh.push((key, g));
                }
            }
            Op::Release(i) => {
                if !self.held.is_empty() {
                    let (_, g) = self.held.swap_remove(i % self.held.len());
                    self.st.release(g, &mut woken);
                }
            }
            Op::Cancel(i) => {
                if !self.queued.is_empty() {
                    let (_, _, id, _) = self.queued.remove(i % self.queued.len());
                    assert!(self.st.cancel(id, &mut woken).is_some());
                }
            }
            Op::SetCap { key, cap } => {
                self.caps.insert(key, cap);
                self.st.set_key_cap(&key, cap, &mut woken);
            }
            Op::ClearCap(key) => {
                self.caps.remove(&key);
                self.st.clear_key_cap(&key, &mut woken);
            }
            Op::Churn => {
                for key in CHURN..CHURN + 80 {
                    // Fails only while others wait on the global cap.
                    if let Ok(g) = self.st.try_acquire(&key, 1) {
                        self.st.release(g, &mut woken);
                    }
                }
            }
        }
        // Released permits left `before`; recount from what is still held.
        let before = before
            .into_keys()
            .map(|k| (k, self.held_of(k)))
            .collect::<HashMap<_, _>>();
        self.settle(&before, fresh, woken);
        self.check();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn soft_caps_hold_through_changes_and_evictions(
        global in prop_oneof![Just(None), (3usize..=8).prop_map(Some)],
        default_cap in prop_oneof![Just(None), (1usize..=3).prop_map(Some)],
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let mut st = SemaphoreState::new(global, None).unwrap();
        st.set_default_key_cap(default_cap, &mut Vec::new());
        let mut model = Model {
            st,
            global,
            default_cap,
            caps: HashMap::new(),
            held: Vec::new(),
            queued: Vec::new(),
            next_token: 0,
        };
        for op in ops {
            model.step(op);
        }
        for (_, g) in std::mem::take(&mut model.held) {
            let mut woken = Vec::new();
            model.st.release(g, &mut woken);
            let before = (0..KEYS).map(|k| (k, model.held_of(k))).collect();
            model.settle(&before, Vec::new(), woken);
        }
        model.check();
    }
}
