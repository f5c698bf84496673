//! HTTP glue for [`weir::retry`]: read a `Retry-After` header off a response.
//!
//! Every retry rule (which statuses and methods, back-off, budget, the cap
//! on waits) is core's [`weir::retry::RetryController`]; this file only turns
//! a [`HeaderMap`] and a wall-clock time into what core's parser takes.

use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// The wait a `Retry-After` header asks for, read at wall-clock `now`:
/// delta-seconds (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`;
/// a date in the past means no wait). `None` when absent or malformed.
/// The parsing is [`weir::retry::parse_retry_after`]'s.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::{HeaderMap, HeaderValue};
/// use weir_reqwest::parse_retry_after;
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
/// let mut h = HeaderMap::new();
/// h.insert("retry-after", HeaderValue::from_static("120"));
/// assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(120)));
/// h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
/// assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(10)));
/// ```
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    weir::retry::parse_retry_after(value, unix_secs(now))
}

/// Whole seconds since the Unix epoch (0 before it).
fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rejects_garbage_and_clamps_past_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_490);
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), None);
        // Core (like the JS fetch) reads a negative number as "now".
        h.insert("retry-after", "-5".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
        h.insert("retry-after", "-x".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
    }
}
