//! This process's resource use (getrusage): peak RSS and CPU time.

use std::time::Duration;

fn rusage() -> libc::rusage {
    // SAFETY: getrusage writes a `rusage` into the zeroed struct we own.
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut r);
        r
    }
}

/// Peak resident set size in bytes (Linux reports KiB).
pub fn peak_rss_bytes() -> u64 {
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
