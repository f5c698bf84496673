//! Unit tests of the pure keyed-semaphore state machine.

use weir::semaphore::{
    AcquireError, Acquired, Grant, SemaphoreState, SemaphoreStats, TryAcquireError, WaiterId,
    WaiterPoll,
};
use weir::LimitError;

type State = SemaphoreState<&'static str, u32>;

fn state(global: Option<usize>, per_key: Option<usize>) -> State {
    SemaphoreState::new(global, per_key).unwrap()
}

fn granted(st: &mut State, key: &'static str, n: usize) -> Grant {
    match st
        .acquire(&key, n, || panic!("payload built for an immediate grant"))
        .unwrap()
    {
        Acquired::Granted(g) => g,
        Acquired::Queued(_) => panic!("{key}/{n} queued, expected a grant"),
    }
}

fn queued(st: &mut State, key: &'static str, n: usize, tag: u32) -> WaiterId {
    match st.acquire(&key, n, || tag).unwrap() {
        Acquired::Queued(id) => id,
        Acquired::Granted(_) => panic!("{key}/{n} granted, expected to queue"),
    }
}

fn claim(st: &mut State, id: WaiterId) -> Grant {
    match st.poll(id) {
        WaiterPoll::Granted(g) => g,
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn release(st: &mut State, g: Grant) -> Vec<u32> {
    let mut woken = Vec::new();
    st.release(g, &mut woken);
    woken
}

fn stats(in_flight: usize, waiting: usize, keys: usize) -> SemaphoreStats {
    SemaphoreStats {
        in_flight,
        waiting,
        keys,
    }
}

#[test]
fn fifo_within_a_key() {
    let mut st = state(None, Some(1));
    let g = granted(&mut st, "a", 1);
    let ids: Vec<_> = (1..=3).map(|t| queued(&mut st, "a", 1, t)).collect();
    assert_eq!(st.stats(), stats(1, 3, 1));
    let mut order = Vec::new();
    let mut g = g;
    for id in ids {
        order.extend(release(&mut st, g));
        g = claim(&mut st, id);
    }
    assert_eq!(order, [1, 2, 3]);
    assert!(release(&mut st, g).is_empty());
    assert_eq!(st.stats(), stats(0, 0, 0));
}

#[test]
fn round_robin_across_keys_is_exact() {
    let mut st = state(Some(1), None);
    let mut held = granted(&mut st, "x", 1);
    let mut ids = std::collections::HashMap::new();
    for (key, base) in [("a", 10), ("b", 20), ("c", 30)] {
        for i in 1..=3 {
            ids.insert(base + i, queued(&mut st, key, 1, base + i));
        }
    }
    let mut order = Vec::new();
    for _ in 0..9 {
        let woken = release(&mut st, held);
        assert_eq!(woken.len(), 1);
        order.push(woken[0]);
        held = claim(&mut st, ids[&woken[0]]);
    }
    assert_eq!(order, [11, 21, 31, 12, 22, 32, 13, 23, 33]);
    assert!(release(&mut st, held).is_empty());
    assert_eq!(st.stats(), stats(0, 0, 0));
}

#[test]
fn round_robin_skips_keys_saturated_on_their_own_cap() {
    // global 2, per key 1: "a" holds one and queues two; "b" and "c" queue behind a full global cap.
    let mut st = state(Some(2), Some(1));
    let a = granted(&mut st, "a", 1);
    let x = granted(&mut st, "x", 1);
    let a2 = queued(&mut st, "a", 1, 2);
    let _a3 = queued(&mut st, "a", 1, 3);
    let b1 = queued(&mut st, "b", 1, 11);
    let _c1 = queued(&mut st, "c", 1, 21);
    // "x" frees a global permit: "a" is saturated on its key, so "b" goes first.
    assert_eq!(release(&mut st, x), [11]);
    let b = claim(&mut st, b1);
    // "a" releases: its head now fits its key, but "c" has been waiting on the
    // global cap longer, so "c" is served first; "a" queues behind it.
    assert_eq!(release(&mut st, a), [21]);
    assert_eq!(release(&mut st, b), [2]);
    let _ = claim(&mut st, a2);
}

#[test]
fn saturated_key_never_blocks_another_key() {
    let mut st = state(Some(10), Some(1));
    let _a = granted(&mut st, "a", 1);
    let _a2 = queued(&mut st, "a", 1, 1);
    let _a3 = queued(&mut st, "a", 1, 2);
    let _b = granted(&mut st, "b", 1);
    assert!(st.try_acquire(&"c", 1).is_ok());
}

#[test]
fn newcomers_do_not_barge_and_big_front_blocks_round_robin() {
    let mut st = state(Some(3), None);
    let x = granted(&mut st, "x", 2);
    let big = queued(&mut st, "a", 2, 1); // 2 + 2 > 3: waits at the ring's front
                                          // One permit is free, but "a" is waiting on the global cap: no barging.
    assert_eq!(st.try_acquire(&"c", 1), Err(TryAcquireError::NoPermits));
    let _c = queued(&mut st, "c", 1, 2);
    assert_eq!(st.stats(), stats(2, 2, 3));
    // Freeing "x" lets the big one through first, then "c" fits too.
    assert_eq!(release(&mut st, x), [1, 2]);
    assert_eq!(claim(&mut st, big).permits(), 2);
}

#[test]
fn fifo_head_blocks_smaller_waiters_of_its_key() {
    let mut st = state(None, Some(3));
    let held = granted(&mut st, "a", 2);
    let _big = queued(&mut st, "a", 2, 1);
    let _small = queued(&mut st, "a", 1, 2); // would fit, but FIFO
    assert_eq!(st.in_flight_of(&"a"), 2);
    assert_eq!(st.try_acquire(&"a", 1), Err(TryAcquireError::NoPermits));
    assert_eq!(release(&mut st, held), [1, 2]);
    assert_eq!(st.in_flight_of(&"a"), 3);
}

#[test]
fn too_large_requests_fail_and_zero_is_free() {
    let mut st = state(Some(5), Some(3));
    let err = AcquireError::TooLarge {
        requested: 4,
        limit: 3,
    };
    assert_eq!(st.acquire(&"a", 4, || 0), Err(err));
    assert_eq!(st.try_acquire(&"a", 4), Err(err.into()));
    let mut st = state(Some(2), None);
    assert_eq!(
        st.acquire(&"a", 3, || 0),
        Err(AcquireError::TooLarge {
            requested: 3,
            limit: 2
        })
    );
    let mut st = state(None, None);
    assert_eq!(granted(&mut st, "a", 1 << 40).permits(), 1 << 40);

    let mut st = state(Some(1), Some(1));
    let full = granted(&mut st, "a", 1);
    let zero = granted(&mut st, "a", 0);
    assert_eq!(zero.permits(), 0);
    assert_eq!(st.try_acquire(&"b", 0).map(|g| g.permits()), Ok(0));
    assert!(release(&mut st, zero).is_empty());
    assert_eq!(st.stats(), stats(1, 0, 1));
    assert!(release(&mut st, full).is_empty());
    assert_eq!(st.stats(), stats(0, 0, 0));
}

#[test]
fn idle_keys_are_evicted() {
    let mut st = state(Some(1), None);
    let held = granted(&mut st, "a", 1);
    let b = queued(&mut st, "b", 1, 1);
    let c = queued(&mut st, "c", 1, 2);
    assert_eq!(st.stats().keys, 3);
    assert_eq!(st.cancel(c, &mut Vec::new()), Some(2));
    assert_eq!(st.stats(), stats(1, 1, 2));
    assert_eq!(release(&mut st, held), [1]);
    assert_eq!(st.stats(), stats(1, 0, 1));
    let g = claim(&mut st, b);
    assert!(release(&mut st, g).is_empty());
    assert_eq!(st.stats(), stats(0, 0, 0));
    assert_eq!(st.in_flight_of(&"b"), 0);
    // Slots are reused: many keys in sequence keep one slot resident at most.
    for key in ["p", "q", "r", "s"] {
        let g = granted(&mut st, key, 1);
        assert_eq!(st.stats().keys, 1);
        assert!(release(&mut st, g).is_empty());
    }
    assert_eq!(st.stats(), stats(0, 0, 0));
}

#[test]
fn cancelling_a_queued_head_passes_its_turn_on() {
    // The big front is cancelled: the small waiter behind it fits at once.
    let mut st = state(Some(3), None);
    let x = granted(&mut st, "x", 2);
    let big = queued(&mut st, "a", 2, 1);
    let small = queued(&mut st, "c", 1, 2);
    let mut woken = Vec::new();
    assert_eq!(st.cancel(big, &mut woken), Some(1));
    assert_eq!(woken, [2]);
    assert_eq!(claim(&mut st, small).permits(), 1);
    assert_eq!(st.stats(), stats(3, 0, 2));
    let _ = x;
}

#[test]
fn cancelling_a_granted_waiter_passes_permits_on() {
    let mut st = state(Some(1), None);
    let x = granted(&mut st, "x", 1);
    let a = queued(&mut st, "a", 1, 1);
    let b = queued(&mut st, "b", 1, 2);
    assert_eq!(release(&mut st, x), [1]);
    let mut woken = Vec::new();
    assert_eq!(st.cancel(a, &mut woken), None); // granted, never claimed
    assert_eq!(woken, [2]);
    let g = claim(&mut st, b);
    assert!(release(&mut st, g).is_empty());
    assert_eq!(st.stats(), stats(0, 0, 0));
}

#[test]
fn stale_ids_are_ignored() {
    let mut st = state(Some(1), None);
    let x = granted(&mut st, "x", 1);
    let a = queued(&mut st, "a", 1, 1);
    assert!(matches!(st.poll(a), WaiterPoll::Waiting(&mut 1)));
    release(&mut st, x);
    let g = claim(&mut st, a);
    assert_eq!(st.poll(a), WaiterPoll::Gone);
    assert_eq!(st.cancel(a, &mut Vec::new()), None);
    // A new waiter reusing the slot is not confused with the stale id.
    let b = queued(&mut st, "b", 1, 2);
    assert_eq!(st.cancel(a, &mut Vec::new()), None);
    assert!(matches!(st.poll(b), WaiterPoll::Waiting(&mut 2)));
    assert_eq!(st.stats(), stats(1, 1, 2));
    release(&mut st, g);
}

#[test]
fn raising_limits_wakes_waiters() {
    let mut st = state(Some(1), Some(1));
    let _x = granted(&mut st, "x", 1);
    let _a = queued(&mut st, "a", 1, 1);
    let _b = queued(&mut st, "b", 1, 2);
    let _x2 = queued(&mut st, "x", 1, 3);
    let mut woken = Vec::new();
    st.set_limits(Some(3), Some(1), &mut woken).unwrap();
    assert_eq!(woken, [1, 2]); // "x" is still saturated on its key
    woken.clear();
    st.set_limits(None, None, &mut woken).unwrap();
    assert_eq!(woken, [3]);
    assert_eq!(st.limits(), (None, None));
    assert_eq!(st.stats(), stats(4, 0, 3));
}

#[test]
fn lowering_limits_revokes_nothing_and_rejects_oversized_waiters() {
    let mut st = state(Some(4), None);
    let a = granted(&mut st, "a", 3);
    let big = queued(&mut st, "b", 3, 1);
    let small = queued(&mut st, "c", 1, 2);
    let mut woken = Vec::new();
    st.set_limits(Some(2), None, &mut woken).unwrap();
    assert_eq!(woken, [1]); // rejected, never left hanging
    assert_eq!(
        st.poll(big),
        WaiterPoll::Rejected(AcquireError::TooLarge {
            requested: 3,
            limit: 2
        })
    );
    assert_eq!(st.stats(), stats(3, 1, 2)); // "b" evicted, "a" keeps its 3
    assert_eq!(st.try_acquire(&"d", 1), Err(TryAcquireError::NoPermits));
    assert_eq!(release(&mut st, a), [2]);
    let c = claim(&mut st, small);
    release(&mut st, c);
    assert_eq!(st.stats(), stats(0, 0, 0));
}

#[test]
fn lowering_per_key_limit_takes_keys_off_the_ring() {
    let mut st = state(Some(2), Some(3));
    let a = granted(&mut st, "a", 2);
    let a2 = queued(&mut st, "a", 1, 1); // fits its key (2 + 1 <= 3), waits on global
    let mut woken = Vec::new();
    // Global room appears, but "a" is now saturated on its key: not granted,
    // and not in the way of other keys either.
    st.set_limits(Some(3), Some(2), &mut woken).unwrap();
    assert!(woken.is_empty());
    let b = st.try_acquire(&"b", 1).unwrap();
    assert_eq!(release(&mut st, a), [1]);
    let a2 = claim(&mut st, a2);
    release(&mut st, a2);
    release(&mut st, b);
    assert_eq!(st.stats(), stats(0, 0, 0));
}

#[test]
fn zero_limits_are_rejected() {
    let err: LimitError = State::new(Some(0), Some(1)).unwrap_err();
    assert_eq!(err, State::new(Some(0), None).unwrap_err());
    assert_eq!(
        State::new(Some(0), None).unwrap_err().limit_name(),
        "global"
    );
    assert_eq!(
        State::new(None, Some(0)).unwrap_err().limit_name(),
        "per_key"
    );
    let mut st = state(Some(2), Some(1));
    let err = st
        .set_limits(Some(1), Some(0), &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.limit_name(), "per_key");
    assert_eq!(st.limits(), (Some(2), Some(1)));
}

#[test]
fn slabs_are_released_after_a_burst_and_stale_ids_stay_stale() {
    let keys: Vec<&'static str> = (0..200)
        .map(|i| &*Box::leak(format!("k{i}").into_boxed_str()))
        .collect();
    let mut st = state(Some(100), Some(1));
    let mut grants: Vec<Grant> = keys[..100].iter().map(|k| granted(&mut st, k, 1)).collect();
    let mut ids: Vec<WaiterId> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        ids.push(queued(&mut st, k, 1, i as u32));
    }
    assert_eq!(st.stats(), stats(100, 200, 200));
    // Release everything; claim and release each grant as it comes.
    let mut woken = Vec::new();
    while let Some(g) = grants.pop() {
        st.release(g, &mut woken);
        for tag in woken.drain(..) {
            grants.push(claim(&mut st, ids[tag as usize]));
        }
    }
    assert_eq!(st.stats(), stats(0, 0, 0));
    // Old ids do not alias the new waiters that reuse the fresh slabs.
    let x = granted(&mut st, "x", 1);
    let fresh: Vec<WaiterId> = (0..100)
        .map(|i| queued(&mut st, "x", 1, 1000 + i))
        .collect();
    for &old in &ids {
        assert_eq!(st.poll(old), WaiterPoll::Gone);
        assert_eq!(st.cancel(old, &mut Vec::new()), None);
    }
    assert_eq!(st.stats(), stats(1, 100, 1));
    for id in fresh {
        assert!(st.cancel(id, &mut Vec::new()).is_some());
    }
    release(&mut st, x);
    assert_eq!(st.stats(), stats(0, 0, 0));
}

#[test]
fn limits_change_evicts_keys_emptied_by_rejection_even_past_a_burst() {
    let keys: Vec<&'static str> = (0..100)
        .map(|i| &*Box::leak(format!("k{i}").into_boxed_str()))
        .collect();
    let mut st = state(Some(3), None);
    let held = granted(&mut st, "held", 3);
    let ids: Vec<_> = keys.iter().map(|k| queued(&mut st, k, 2, 0)).collect();
    let mut woken = Vec::new();
    st.set_limits(Some(1), None, &mut woken).unwrap();
    assert_eq!(woken.len(), 100);
    assert_eq!(st.stats(), stats(3, 0, 1));
    for id in ids {
        assert!(matches!(st.poll(id), WaiterPoll::Rejected(_)));
    }
    release(&mut st, held);
    assert_eq!(st.stats(), stats(0, 0, 0));
}
