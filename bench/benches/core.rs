//! weir and its peers, side by side, in one run: `cargo bench -p weir-bench`.
//!
//! Single-threaded and uncontended, except the `contended_2_threads` group
//! (two threads on one shared limiter). After criterion has run, the
//! binary counts allocations per item of the completion-order streams and
//! prints the weir/peer ratio table (also: `cargo run -p weir-bench --release
//! --bin ratios`).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Barrier;
use std::time::Duration;

use criterion::Criterion;
use futures::executor::block_on;
use futures::StreamExt;
use futures_buffered::BufferedStreamExt;
use weir_bench::alloc_counter::CountingAlloc;
use weir_bench::cases::{self, Case, LAC_ITEMS, LAC_LIMIT};
use weir_bench::clocks::AtomicClock;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Keys cycled through by the keyed benchmarks.
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

/// A quota that never denies during a run (1 ns emission interval, burst
/// 2^32 - 1), so every check takes the "allowed" path on both sides.
fn governor_quota() -> governor::Quota {
    governor::Quota::with_period(Duration::from_nanos(1))
        .unwrap()
        .allow_burst(NonZeroU32::MAX)
}

fn weir_quota() -> weir::Quota {
    weir::Quota::per_second(1_000_000_000)
        .unwrap()
        .with_burst(u32::MAX)
        .unwrap()
}

fn bench(c: &mut Criterion, case: Case, f: impl FnMut(&mut criterion::Bencher<'_>)) {
    c.benchmark_group(case.group).bench_function(case.name, f);
}

fn keyed_acquire(c: &mut Criterion) {
    let sem = weir::KeyedSemaphore::<u64>::new(Some(1024), Some(64)).unwrap();
    let mut i = 0usize;
    bench(c, cases::WEIR_SEM_U64, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let permit = sem.try_acquire(black_box(U64_KEYS[i & 7]), 1).unwrap();
            drop(black_box(permit));
        })
    });

    let sem = weir::KeyedSemaphore::<&'static str>::new(Some(1024), Some(64)).unwrap();
    bench(c, cases::WEIR_SEM_STR, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let permit = sem.try_acquire(black_box(STR_KEYS[i & 7]), 1).unwrap();
            drop(black_box(permit));
        })
    });

    let sem = tokio::sync::Semaphore::new(1024);
    bench(c, cases::TOKIO_SEM, |b| {
        b.iter(|| {
            let permit = sem.try_acquire().unwrap();
            drop(black_box(permit));
        })
    });

    let gov = governor::DefaultKeyedRateLimiter::<u64>::keyed(governor_quota());
    bench(c, cases::GOV_KEYED_U64, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(gov.check_key(&black_box(U64_KEYS[i & 7])).is_ok())
        })
    });

    let gov = governor::DefaultKeyedRateLimiter::<&'static str>::keyed(governor_quota());
    bench(c, cases::GOV_KEYED_STR, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(gov.check_key(&black_box(STR_KEYS[i & 7])).is_ok())
        })
    });
}

fn gcra_fake_clock(c: &mut Criterion) {
    let mut i = 0usize;
    let clock = AtomicClock::new();
    clock.advance(Duration::from_secs(1));
    let direct = weir::RateLimiter::<(), _>::new(&[weir_quota()], &[], clock.clone());
    bench(c, cases::WEIR_GCRA_DIRECT_FAKE, |b| {
        b.iter(|| black_box(direct.check(&(), black_box(1)).is_ok()))
    });
    let keyed = weir::RateLimiter::<u64, _>::new(&[], &[weir_quota()], clock.clone());
    bench(c, cases::WEIR_GCRA_KEYED_FAKE, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(
                keyed
                    .check(&black_box(U64_KEYS[i & 7]), black_box(1))
                    .is_ok(),
            )
        })
    });

    let clock = governor::clock::FakeRelativeClock::default();
    clock.advance(Duration::from_secs(1));
    let direct = governor::RateLimiter::direct_with_clock(governor_quota(), clock.clone());
    bench(c, cases::GOV_GCRA_DIRECT_FAKE, |b| {
        b.iter(|| black_box(direct.check().is_ok()))
    });
    let keyed: weir_bench::GovernorFakeKeyed<u64> =
        governor::RateLimiter::new(governor_quota(), Default::default(), clock.clone());
    bench(c, cases::GOV_GCRA_KEYED_FAKE, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(keyed.check_key(&black_box(U64_KEYS[i & 7])).is_ok())
        })
    });
}

fn gcra_real_clock(c: &mut Criterion) {
    let mut i = 0usize;
    let timer = weir::FastClock::new();
    let direct = weir::RateLimiter::<(), _>::new(&[weir_quota()], &[], timer.clone());
    assert!(direct.is_lock_free());
    bench(c, cases::WEIR_GCRA_DIRECT_REAL, |b| {
        b.iter(|| black_box(direct.check(&(), black_box(1)).is_ok()))
    });
    let keyed = weir::RateLimiter::<u64, _>::new(&[], &[weir_quota()], timer);
    bench(c, cases::WEIR_GCRA_KEYED_REAL, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(
                keyed
                    .check(&black_box(U64_KEYS[i & 7]), black_box(1))
                    .is_ok(),
            )
        })
    });

    let direct = governor::DefaultDirectRateLimiter::direct(governor_quota());
    bench(c, cases::GOV_GCRA_DIRECT_REAL, |b| {
        b.iter(|| black_box(direct.check().is_ok()))
    });
    let keyed = governor::DefaultKeyedRateLimiter::<u64>::keyed(governor_quota());
    bench(c, cases::GOV_GCRA_KEYED_REAL, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(keyed.check_key(&black_box(U64_KEYS[i & 7])).is_ok())
        })
    });
}

fn clock_read(c: &mut Criterion) {
    use governor::clock::Clock as _;
    use weir::Clock as _;
    let weir_clock = weir::FastClock::new();
    assert!(
        weir_clock.is_counter(),
        "this machine should have a trusted TSC"
    );
    bench(c, cases::WEIR_CLOCK, |b| {
        b.iter(|| black_box(weir_clock.now()))
    });
    let std_clock = weir::StdClock::new();
    bench(c, cases::WEIR_STD_CLOCK, |b| {
        b.iter(|| black_box(std_clock.now()))
    });
    let quanta = governor::clock::QuantaClock::default();
    bench(c, cases::GOV_CLOCK, |b| b.iter(|| black_box(quanta.now())));
}

/// Two threads run `op(i)` `iters` times each, started together on one
/// barrier; returns wall time / 2, so criterion's time per iteration is the
/// time per operation of both threads together (the inverse of throughput).
fn two_threads(b: &mut criterion::Bencher<'_>, op: impl Fn(usize) + Sync) {
    b.iter_custom(|iters| {
        let barrier = Barrier::new(2);
        let wall = std::thread::scope(|s| {
            let threads: Vec<_> = (0..2usize)
                .map(|t| {
                    let (barrier, op) = (&barrier, &op);
                    s.spawn(move || {
                        barrier.wait();
                        let start = std::time::Instant::now();
                        for i in 0..iters as usize {
                            op(i * 2 + t);
                        }
                        start.elapsed()
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .max()
                .unwrap()
        });
        wall / 2
    });
}

fn contended(c: &mut Criterion) {
    let timer = weir::FastClock::new();
    let direct = weir::RateLimiter::<(), _>::new(&[weir_quota()], &[], timer.clone());
    bench(c, cases::WEIR_GCRA_DIRECT_2T, |b| {
        two_threads(b, |_| {
            black_box(direct.check(&(), black_box(1)).is_ok());
        })
    });
    let direct = governor::DefaultDirectRateLimiter::direct(governor_quota());
    bench(c, cases::GOV_GCRA_DIRECT_2T, |b| {
        two_threads(b, |_| {
            black_box(direct.check().is_ok());
        })
    });
    let keyed = weir::RateLimiter::<u64, _>::new(&[], &[weir_quota()], timer);
    bench(c, cases::WEIR_GCRA_KEYED_2T, |b| {
        two_threads(b, |i| {
            black_box(keyed.check(&black_box(U64_KEYS[i & 7]), 1).is_ok());
        })
    });
    let gov = governor::DefaultKeyedRateLimiter::<u64>::keyed(governor_quota());
    bench(c, cases::GOV_GCRA_KEYED_2T, |b| {
        two_threads(b, |i| {
            black_box(gov.check_key(&black_box(U64_KEYS[i & 7])).is_ok());
        })
    });
    let sem = weir::KeyedSemaphore::<u64>::new(Some(1024), Some(64)).unwrap();
    bench(c, cases::WEIR_SEM_2T, |b| {
        two_threads(b, |i| {
            let permit = sem.try_acquire(black_box(U64_KEYS[i & 7]), 1).unwrap();
            drop(black_box(permit));
        })
    });
    let sem = tokio::sync::Semaphore::new(1024);
    bench(c, cases::TOKIO_SEM_2T, |b| {
        two_threads(b, |_| {
            let permit = sem.try_acquire().unwrap();
            drop(black_box(permit));
        })
    });
}

fn primitives(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    {
        let cas16 = weir_bench::primitives::Cas16::new().expect("cmpxchg16b");
        bench(c, cases::CAS16, |b| b.iter(|| black_box(cas16.bump())));
    }
    let cas8 = weir_bench::primitives::Cas8::default();
    bench(c, cases::CAS8, |b| b.iter(|| black_box(cas8.bump())));
    let mutex = std::sync::Mutex::new(0u64);
    bench(c, cases::MUTEX, |b| {
        b.iter(|| *black_box(&mutex).lock().unwrap() += 1)
    });
}

fn weir_lac(items: usize) -> usize {
    block_on(async {
        let inputs = (0..items).map(|i| core::future::ready(black_box(i)));
        let mut stream = pin!(weir::limited_as_completed(inputs, LAC_LIMIT).unwrap());
        let mut sum = 0usize;
        while let Some(x) = stream.next().await {
            sum = sum.wrapping_add(x);
        }
        sum
    })
}

fn futures_buffer_unordered(items: usize) -> usize {
    block_on(async {
        let inputs = (0..items).map(|i| core::future::ready(black_box(i)));
        let mut stream = pin!(futures::stream::iter(inputs).buffer_unordered(LAC_LIMIT));
        let mut sum = 0usize;
        while let Some(x) = stream.next().await {
            sum = sum.wrapping_add(x);
        }
        sum
    })
}

fn futures_buffered_unordered(items: usize) -> usize {
    block_on(async {
        let inputs = (0..items).map(|i| core::future::ready(black_box(i)));
        let mut stream = pin!(futures::stream::iter(inputs).buffered_unordered(LAC_LIMIT));
        let mut sum = 0usize;
        while let Some(x) = stream.next().await {
            sum = sum.wrapping_add(x);
        }
        sum
    })
}

/// Runs one completion-order stream over `items` ready futures; returns the sum.
type LacRunner = fn(usize) -> usize;

/// The completion-order streams under test, by case.
const LAC_RUNNERS: [(Case, LacRunner); 3] = [
    (cases::WEIR_LAC, weir_lac),
    (cases::FUTURES_BU, futures_buffer_unordered),
    (cases::FB_BU, futures_buffered_unordered),
];

fn as_completed(c: &mut Criterion) {
    let mut group = c.benchmark_group(cases::LAC);
    group.throughput(criterion::Throughput::Elements(LAC_ITEMS as u64));
    for (case, run) in LAC_RUNNERS {
        group.bench_function(case.name, |b| b.iter(|| run(black_box(LAC_ITEMS))));
    }
}

/// Allocations per item: total over a run, and the marginal cost per extra
/// item (steady state) from two run lengths.
fn print_allocations() {
    println!("\nallocations (counting global allocator, limit {LAC_LIMIT}):");
    println!(
        "| stream | allocs, {LAC_ITEMS} items | allocs, {} items | extra allocs per extra item |",
        10 * LAC_ITEMS
    );
    println!("|---|---:|---:|---:|");
    for (case, run) in LAC_RUNNERS {
        let expected: usize = (0..LAC_ITEMS).sum();
        let (sum, small) = CountingAlloc::measure(|| run(LAC_ITEMS));
        assert_eq!(sum, expected, "{} lost or duplicated items", case.name);
        let (_, large) = CountingAlloc::measure(|| run(10 * LAC_ITEMS));
        let marginal = large.allocs.saturating_sub(small.allocs) as f64 / (9 * LAC_ITEMS) as f64;
        println!(
            "| {} | {} | {} | {marginal:.3} |",
            case.name, small.allocs, large.allocs
        );
    }
}

/// Allocations per operation of the uncontended keyed paths, over 100,000
/// operations on already-warm structures.
fn print_op_allocations() {
    const OPS: usize = 100_000;
    let per_op = |f: &mut dyn FnMut(usize)| {
        for i in 0..OPS {
            f(i); // warm up: keys resident, maps grown
        }
        let ((), counts) = CountingAlloc::measure(|| (0..OPS).for_each(&mut *f));
        counts.allocs as f64 / OPS as f64
    };
    let sem = weir::KeyedSemaphore::<u64>::new(Some(1024), Some(64)).unwrap();
    let weir_sem = per_op(&mut |i| drop(sem.try_acquire(U64_KEYS[i & 7], 1).unwrap()));
    let clock = AtomicClock::new();
    let rate = weir::RateLimiter::<u64, _>::new(&[], &[weir_quota()], clock);
    let weir_rate = per_op(&mut |i| rate.check(&U64_KEYS[i & 7], 1).unwrap());
    let gov = governor::DefaultKeyedRateLimiter::<u64>::keyed(governor_quota());
    let gov_keyed = per_op(&mut |i| gov.check_key(&U64_KEYS[i & 7]).unwrap());
    println!("\nallocations per operation (uncontended, 8 warm keys):");
    println!("| operation | allocs/op |");
    println!("|---|---:|");
    println!("| weir KeyedSemaphore try_acquire + drop | {weir_sem:.3} |");
    println!("| weir RateLimiter check (keyed) | {weir_rate:.3} |");
    println!("| governor keyed check_key | {gov_keyed:.3} |");
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    keyed_acquire(&mut c);
    gcra_fake_clock(&mut c);
    gcra_real_clock(&mut c);
    clock_read(&mut c);
    as_completed(&mut c);
    contended(&mut c);
    primitives(&mut c);
    c.final_summary();

    print_allocations();
    print_op_allocations();
    let dir = weir_bench::report::criterion_dir();
    println!(
        "\nweir / peer (median time per op; results in {}):",
        dir.display()
    );
    print!("{}", weir_bench::report::ratio_table(&dir));
}
