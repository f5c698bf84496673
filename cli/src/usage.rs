//! This process's resource use: peak RSS and CPU time.
//!
//! Peak RSS is read from `/proc/self/status` (`VmHWM`, this program's own
//! address space) where there is one: `getrusage`'s `ru_maxrss` survives
//! `execve`, so a process started by a big parent (a test runner, a
//! benchmark script) would report the parent's resident set at `fork` as
//! its own peak.

use std::time::Duration;

fn rusage() -> libc::rusage {
    // SAFETY: getrusage writes a `rusage` into the zeroed struct we own.
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut r);
        r
    }
}

/// Peak resident set size in bytes.
pub fn peak_rss_bytes() -> u64 {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        if let Some(kib) = hwm {
            return kib * 1024;
        }
    }
    // Linux reports KiB.
    (rusage().ru_maxrss.max(0) as u64) * 1024
}

/// User + system CPU time used so far.
pub fn cpu_time() -> Duration {
    let r = rusage();
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(r.ru_utime) + tv(r.ru_stime)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_this_process_and_grows_with_what_it_touches() {
        let before = super::peak_rss_bytes();
        assert!(before > 0);
        let block = vec![1u8; 32 << 20];
        assert_eq!(block.iter().map(|&b| u64::from(b)).sum::<u64>(), 32 << 20);
        let after = super::peak_rss_bytes();
        assert!(after >= before + (30 << 20), "{before} -> {after}");
    }
}
