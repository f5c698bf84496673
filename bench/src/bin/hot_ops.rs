//! Runs one hot-path operation of weir or a peer `N` times, for instruction
//! counting under callgrind (repeatable on a loaded machine, unlike wall
//! time):
//!
//! ```sh
//! cargo build -p weir-bench --release --bin hot_ops
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/hot_ops sem_u64 200000 2>&1 | grep refs
//! ```
//!
//! Instructions per operation = (refs at N − refs at 0) / N. The cases
//! mirror the criterion benchmark's (`benches/core.rs`).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use weir_bench::clocks::AtomicClock;

const U64_KEYS: [u64; 8] = [11, 22, 33, 44, 55, 66, 77, 88];
const STR_KEYS: [&str; 8] = [
    "api.example.com",
    "cdn.example.com",
    "img.example.net",
    "auth.example.org",
    "search.example.io",
    "static.example.dev",
    "ws.example.com:8443",
    "mirror.example.edu",
];

fn weir_quota() -> weir::Quota {
    weir::Quota::per_second(1_000_000_000)
        .unwrap()
        .with_burst(u32::MAX)
        .unwrap()
}

fn governor_quota() -> governor::Quota {
    governor::Quota::with_period(Duration::from_nanos(1))
        .unwrap()
        .allow_burst(NonZeroU32::MAX)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().expect("usage: hot_ops CASE N");
    let n: usize = args.next().expect("usage: hot_ops CASE N").parse().unwrap();
    match case.as_str() {
        "sem_u64" => sem_u64(n),
        "sem_one_key" => sem_one_key(n),
        "std_mutex_pair" => std_mutex_pair(n),
        "sem_str" => sem_str(n),
        "tokio_sem" => tokio_sem(n),
        "gov_keyed_u64" => gov_keyed_u64(n),
        "gcra_direct_fake" => gcra_direct_fake(n),
        "gcra_keyed_fake" => gcra_keyed_fake(n),
        "gov_direct_fake" => gov_direct_fake(n),
        "gov_keyed_fake" => gov_keyed_fake(n),
        "fast_clock" => fast_clock(n),
        "std_clock" => std_clock(n),
        "quanta_clock" => quanta_clock(n),
        other => panic!("unknown case {other}"),
    }
}

#[inline(never)]
fn sem_u64(n: usize) {
    let sem = weir::KeyedSemaphore::<u64>::new(Some(1024), Some(64)).unwrap();
    for i in 0..n {
        drop(black_box(
            sem.try_acquire(black_box(U64_KEYS[i & 7]), 1).unwrap(),
        ));
    }
}

#[inline(never)]
fn sem_one_key(n: usize) {
    let sem = weir::KeyedSemaphore::<u64>::new(Some(1024), Some(64)).unwrap();
    for _ in 0..n {
        drop(black_box(sem.try_acquire(black_box(7), 1).unwrap()));
    }
}

#[inline(never)]
fn std_mutex_pair(n: usize) {
    let m = std::sync::Mutex::new(0u64);
    for _ in 0..n {
        *black_box(&m).lock().unwrap() += 1;
        *black_box(&m).lock().unwrap() -= 1;
    }
}

#[inline(never)]
fn sem_str(n: usize) {
    let sem = weir::KeyedSemaphore::<&str>::new(Some(1024), Some(64)).unwrap();
    for i in 0..n {
        drop(black_box(
            sem.try_acquire(black_box(STR_KEYS[i & 7]), 1).unwrap(),
        ));
    }
}

#[inline(never)]
fn tokio_sem(n: usize) {
    let sem = tokio::sync::Semaphore::new(1024);
    for _ in 0..n {
        drop(black_box(sem.try_acquire().unwrap()));
    }
}

#[inline(never)]
fn gov_keyed_u64(n: usize) {
    let gov = governor::DefaultKeyedRateLimiter::<u64>::keyed(governor_quota());
    for i in 0..n {
        black_box(gov.check_key(&black_box(U64_KEYS[i & 7])).is_ok());
    }
}

#[inline(never)]
fn gcra_direct_fake(n: usize) {
    let clock = AtomicClock::new();
    clock.advance(Duration::from_secs(1));
    let l = weir::RateLimiter::<(), _>::new(&[weir_quota()], &[], clock);
    for _ in 0..n {
        black_box(l.check(&(), black_box(1)).is_ok());
    }
}

#[inline(never)]
fn gcra_keyed_fake(n: usize) {
    let clock = AtomicClock::new();
    clock.advance(Duration::from_secs(1));
    let l = weir::RateLimiter::<u64, _>::new(&[], &[weir_quota()], clock);
    for i in 0..n {
        black_box(l.check(&black_box(U64_KEYS[i & 7]), black_box(1)).is_ok());
    }
}

#[inline(never)]
fn gov_direct_fake(n: usize) {
    let clock = governor::clock::FakeRelativeClock::default();
    clock.advance(Duration::from_secs(1));
    let l = governor::RateLimiter::direct_with_clock(governor_quota(), clock);
    for _ in 0..n {
        black_box(l.check().is_ok());
    }
}

#[inline(never)]
fn gov_keyed_fake(n: usize) {
    let clock = governor::clock::FakeRelativeClock::default();
    clock.advance(Duration::from_secs(1));
    let l: weir_bench::GovernorFakeKeyed<u64> =
        governor::RateLimiter::new(governor_quota(), Default::default(), clock);
    for i in 0..n {
        black_box(l.check_key(&black_box(U64_KEYS[i & 7])).is_ok());
    }
}

#[inline(never)]
fn fast_clock(n: usize) {
    use weir::Clock as _;
    let clock = weir::FastClock::new();
    for _ in 0..n {
        black_box(clock.now());
    }
}

#[inline(never)]
fn std_clock(n: usize) {
    use weir::Clock as _;
    let clock = weir::StdClock::new();
    for _ in 0..n {
        black_box(clock.now());
    }
}

#[inline(never)]
fn quanta_clock(n: usize) {
    use governor::clock::Clock as _;
    let clock = governor::clock::QuantaClock::default();
    for _ in 0..n {
        black_box(clock.now());
    }
}
