//! The one construction error of the `limited_*` adapters.

use core::fmt;

/// A `limit` (or `per_key`) of zero was passed to a `limited_*` constructor.
///
/// With no slot to run anything in, the stream could only hang, so
/// construction refuses it up front.
///
/// ```
/// use weir::{limited_as_completed, ZeroLimit};
///
/// let err = limited_as_completed(Vec::<core::future::Ready<u8>>::new(), 0).unwrap_err();
/// assert_eq!(err, ZeroLimit);
/// assert_eq!(err.to_string(), "limit must be at least 1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ZeroLimit;

impl fmt::Display for ZeroLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("limit must be at least 1")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ZeroLimit {}
