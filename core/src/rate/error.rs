//! [`Denied`]: why a rate check did not admit.

use core::fmt;

use crate::time::Instant;

/// Why a rate check was refused.
///
/// ```
/// use weir::{Denied, Instant};
/// let d = Denied::NotUntil(Instant::from_nanos(1_500_000_000));
/// assert_eq!(d.retry_at(), Some(Instant::from_nanos(1_500_000_000)));
/// assert_eq!(Denied::ExceedsBurst { cost: 9, burst: 5 }.retry_at(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Denied {
    /// Not enough capacity (or a pause is in force): the same request would
    /// first be admitted at this instant, if nothing else consumes before
    /// then. Usable as `Retry-After`.
    NotUntil(Instant),
    /// The cost is larger than the burst of some quota: it can never be
    /// admitted, however long one waits.
    ExceedsBurst {
        /// The cost asked for.
        cost: u32,
        /// The smallest burst among the quotas that apply.
        burst: u32,
    },
}

impl Denied {
    /// The instant to retry at, or `None` when retrying can never succeed.
    pub fn retry_at(&self) -> Option<Instant> {
        match *self {
            Denied::NotUntil(at) => Some(at),
            Denied::ExceedsBurst { .. } => None,
        }
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Denied::NotUntil(at) => write!(f, "rate limited until {} ns", at.as_nanos()),
            Denied::ExceedsBurst { cost, burst } => {
                write!(
                    f,
                    "cost {cost} exceeds the burst {burst} and can never be admitted"
                )
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Denied {}
