//! Memory under key churn: 1,000,000 distinct keys through weir's keyed
//! semaphore and keyed rate limiter, and through governor's keyed limiter.
//!
//! `cargo run -p weir-bench --release --bin key_churn [-- KEYS]`
//!
//! Bytes are counted by a counting global allocator from just before each
//! limiter is built (so they include the limiter itself), and are heap bytes
//! live at that moment (not RSS).

use std::collections::VecDeque;
use std::time::Duration;

use weir::{KeyedSemaphore, ManualClock, Quota, RateLimiter};
use weir_bench::alloc_counter::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Permits held at once in the semaphore run (a sliding window of keys).
const IN_FLIGHT: usize = 1_000;
/// Keys checked between two clock advances in the rate runs.
const BLOCK: u64 = 10_000;

struct Row {
    what: &'static str,
    peak_keys: usize,
    final_keys: usize,
    peak_bytes: isize,
    final_bytes: isize,
}

fn semaphore(keys: u64) -> Row {
    let mut peak_keys = 0;
    let ((final_keys, _sem), counts) = CountingAlloc::measure(|| {
        let sem = KeyedSemaphore::<u64>::new(Some(IN_FLIGHT + 24), Some(4)).unwrap();
        {
            let mut held = VecDeque::with_capacity(IN_FLIGHT);
            for k in 0..keys {
                if held.len() == IN_FLIGHT {
                    held.pop_front();
                }
                held.push_back(sem.try_acquire(k, 1).unwrap());
                if k % 1024 == 0 {
                    peak_keys = peak_keys.max(sem.stats().keys);
                }
            }
            peak_keys = peak_keys.max(sem.stats().keys);
        }
        (sem.stats().keys, sem)
    });
    // The window of held permits is the benchmark's, not the semaphore's.
    let window = (IN_FLIGHT * std::mem::size_of::<weir::Permit<'_, u64>>()) as isize;
    Row {
        what: "weir KeyedSemaphore (1,000 in flight, sliding)",
        peak_keys,
        final_keys,
        peak_bytes: counts.peak_bytes - window,
        final_bytes: counts.live_bytes,
    }
}

fn rate(keys: u64, evict: bool) -> Row {
    let clock = ManualClock::new();
    let mut peak_keys = 0;
    let ((final_keys, _limiter), counts) = CountingAlloc::measure(|| {
        let quota = Quota::per_second(10).unwrap();
        let limiter = RateLimiter::<u64, _>::new(&[], &[quota], clock.clone());
        for k in 0..keys {
            limiter.check(&k, 1).unwrap();
            peak_keys = peak_keys.max(limiter.keys());
            if (k + 1) % BLOCK == 0 {
                clock.advance(Duration::from_secs(1));
                if evict {
                    limiter.evict_idle();
                }
            }
        }
        peak_keys = peak_keys.max(limiter.keys());
        clock.advance(Duration::from_secs(1));
        if evict {
            limiter.evict_idle();
        }
        (limiter.keys(), limiter)
    });
    Row {
        what: if evict {
            "weir RateLimiter (advance 1 s + evict_idle every 10,000 keys)"
        } else {
            "weir RateLimiter (advance 1 s every 10,000 keys; no evict_idle call)"
        },
        peak_keys,
        final_keys,
        peak_bytes: counts.peak_bytes,
        final_bytes: counts.live_bytes,
    }
}

fn governor(keys: u64, retain_recent: bool) -> Row {
    use governor::clock::FakeRelativeClock;
    let clock = FakeRelativeClock::default();
    let mut peak_keys = 0;
    let ((final_keys, _limiter), counts) = CountingAlloc::measure(|| {
        let quota = governor::Quota::per_second(10.try_into().unwrap());
        let limiter: weir_bench::GovernorFakeKeyed<u64> =
            governor::RateLimiter::new(quota, Default::default(), clock.clone());
        let mut end_block = |limiter: &weir_bench::GovernorFakeKeyed<u64>| {
            peak_keys = peak_keys.max(limiter.len());
            clock.advance(Duration::from_secs(1));
            if retain_recent {
                limiter.retain_recent();
            }
        };
        for k in 0..keys {
            limiter.check_key(&k).unwrap();
            if (k + 1) % BLOCK == 0 {
                end_block(&limiter);
            }
        }
        end_block(&limiter);
        (limiter.len(), limiter)
    });
    Row {
        what: if retain_recent {
            "governor keyed (advance 1 s + retain_recent every 10,000 keys)"
        } else {
            "governor keyed (advance 1 s every 10,000 keys; no retain_recent)"
        },
        peak_keys,
        final_keys,
        peak_bytes: counts.peak_bytes,
        final_bytes: counts.live_bytes,
    }
}

fn mib(bytes: isize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    let keys: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |s| s.parse().expect("KEYS"));
    println!("{keys} distinct u64 keys (heap bytes from a counting allocator)\n");
    println!("| limiter | peak keys | final keys | peak heap | final heap |");
    println!("|---|---:|---:|---:|---:|");
    for row in [
        semaphore(keys),
        rate(keys, true),
        rate(keys, false),
        governor(keys, false),
        governor(keys, true),
    ] {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.what,
            row.peak_keys,
            row.final_keys,
            mib(row.peak_bytes),
            mib(row.final_bytes)
        );
    }
}
