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
        "sem_u64" => {
            let sem = weir::KeyedSemaphore::<u64>::new(Some(1024), Some(64)).unwrap();
            for i in 0..n {
                drop(black_box(
                    sem.try_acquire(black_box(U64_KEYS[i & 7]), 1).unwrap(),
                ));
            }
        }
        "sem_str" => {
            let sem = weir::KeyedSemaphore::<&str>::new(Some(1024), Some(64)).unwrap();
            for i in 0..n {
                drop(black_box(
                    sem.try_acquire(black_box(STR_KEYS[i & 7]), 1).unwrap(),
                ));
            }
        }
        "tokio_sem" => {
            let sem = tokio::sync::Semaphore::new(1024);
            for _ in 0..n {
                drop(black_box(sem.try_acquire().unwrap()));
            }
        }
        "gov_keyed_u64" => {
            let gov = governor::DefaultKeyedRateLimiter::<u64>::keyed(governor_quota());
            for i in 0..n {
                black_box(gov.check_key(&black_box(U64_KEYS[i & 7])).is_ok());
            }
        }
        "gcra_direct_fake" => {
            let clock = AtomicClock::new();
            clock.advance(Duration::from_secs(1));
            let l = weir::RateLimiter::<(), _>::new(&[weir_quota()], &[], clock);
            for _ in 0..n {
                black_box(l.check(&(), black_box(1)).is_ok());
            }
        }
        "gcra_keyed_fake" => {
            let clock = AtomicClock::new();
            clock.advance(Duration::from_secs(1));
            let l = weir::RateLimiter::<u64, _>::new(&[], &[weir_quota()], clock);
            for i in 0..n {
                black_box(l.check(&black_box(U64_KEYS[i & 7]), black_box(1)).is_ok());
            }
        }
        "gov_direct_fake" => {
            let clock = governor::clock::FakeRelativeClock::default();
            clock.advance(Duration::from_secs(1));
            let l = governor::RateLimiter::direct_with_clock(governor_quota(), clock);
            for _ in 0..n {
                black_box(l.check().is_ok());
            }
        }
        "gov_keyed_fake" => {
            let clock = governor::clock::FakeRelativeClock::default();
            clock.advance(Duration::from_secs(1));
            let l: weir_bench::GovernorFakeKeyed<u64> =
                governor::RateLimiter::new(governor_quota(), Default::default(), clock);
            for i in 0..n {
                black_box(l.check_key(&black_box(U64_KEYS[i & 7])).is_ok());
            }
        }
        "fast_clock" => {
            use weir::Clock as _;
            let clock = weir::FastClock::new();
            for _ in 0..n {
                black_box(clock.now());
            }
        }
        "std_clock" => {
            use weir::Clock as _;
            let clock = weir::StdClock::new();
            for _ in 0..n {
                black_box(clock.now());
            }
        }
        "quanta_clock" => {
            use governor::clock::Clock as _;
            let clock = governor::clock::QuantaClock::default();
            for _ in 0..n {
                black_box(clock.now());
            }
        }
        other => panic!("unknown case {other}"),
    }
}
