//! Errors of the keyed semaphore.

use core::fmt;

/// Why [`try_acquire`](super::KeyedSemaphore::try_acquire) did not grant.
///
/// ```
/// use weir::{KeyedSemaphore, TryAcquireError};
/// let sem = KeyedSemaphore::new(Some(2), None).unwrap();
/// let _held = sem.try_acquire("a", 2).unwrap();
/// assert_eq!(sem.try_acquire("b", 1).unwrap_err(), TryAcquireError::NoPermits);
/// assert_eq!(
///     sem.try_acquire("b", 3).unwrap_err(),
///     TryAcquireError::TooLarge { requested: 3, limit: 2 },
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryAcquireError {
    /// Not enough permits free right now (or others are queued first).
    NoPermits,
    /// More permits were asked for than a finite limit allows: waiting would
    /// never end.
    TooLarge {
        /// Permits asked for.
        requested: usize,
        /// The smallest finite limit (global or per key) in force.
        limit: usize,
    },
}

/// Why [`acquire`](super::KeyedSemaphore::acquire) failed: only a request
/// that can never be satisfied fails; everything else waits.
///
/// A queued waiter also gets this error when [`set_limits`] lowers a limit
/// below its request.
///
/// [`set_limits`]: super::KeyedSemaphore::set_limits
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AcquireError {
    /// More permits were asked for than a finite limit allows.
    TooLarge {
        /// Permits asked for.
        requested: usize,
        /// The smallest finite limit (global or per key) in force.
        limit: usize,
    },
}

/// A limit of zero was given: nothing could ever be granted.
///
/// ```
/// use weir::KeyedSemaphore;
/// let err = KeyedSemaphore::<u32>::new(Some(10), Some(0)).unwrap_err();
/// assert_eq!(err.limit_name(), "per_key");
/// assert_eq!(err.to_string(), "per_key limit must be at least 1 or unlimited, got 0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LimitError {
    name: &'static str,
}

impl LimitError {
    pub(crate) const GLOBAL: LimitError = LimitError { name: "global" };
    pub(crate) const PER_KEY: LimitError = LimitError { name: "per_key" };

    /// Which limit was zero: `"global"` or `"per_key"`.
    pub fn limit_name(&self) -> &'static str {
        self.name
    }
}

impl From<AcquireError> for TryAcquireError {
    fn from(err: AcquireError) -> Self {
        match err {
            AcquireError::TooLarge { requested, limit } => {
                TryAcquireError::TooLarge { requested, limit }
            }
        }
    }
}

fn fmt_too_large(f: &mut fmt::Formatter<'_>, requested: usize, limit: usize) -> fmt::Result {
    write!(f, "requested {requested} permits but the limit is {limit}")
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TryAcquireError::NoPermits => f.write_str("no permits available"),
            TryAcquireError::TooLarge { requested, limit } => fmt_too_large(f, requested, limit),
        }
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AcquireError::TooLarge { requested, limit } => fmt_too_large(f, requested, limit),
        }
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} limit must be at least 1 or unlimited, got 0",
            self.name
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TryAcquireError {}
#[cfg(feature = "std")]
impl std::error::Error for AcquireError {}
#[cfg(feature = "std")]
impl std::error::Error for LimitError {}
