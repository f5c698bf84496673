//! [`FailurePolicy`]: what a shared limiter does while the store fails.

/// What to do when a store call fails or times out (`onStoreError` in JS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Deny: the acquire fails with [`SharedError::Store`](crate::SharedError::Store)
    /// naming the cause.
    #[default]
    Closed,
    /// Admit without the shared limits (the local caps still hold).
    Open,
    /// Fall back to an in-memory limiter with the same options divided by
    /// `local_share`, until the store answers again.
    Local,
}

/// `quota` divided by `share` (each process's part of a fleet-wide quota),
/// never below one unit.
///
/// ```
/// use weir::Quota;
/// let q = Quota::per_second(20).unwrap().with_burst(8).unwrap();
/// let part = weir_redis::policy::divide_quota(q, 4);
/// assert_eq!((part.limit(), part.burst()), (5, 2));
/// ```
pub fn divide_quota(quota: weir::Quota, share: u32) -> weir::Quota {
    let share = share.max(1);
    let limit = (quota.limit() / share).max(1);
    let burst = (quota.burst() / share).max(1);
    weir::Quota::new(limit, quota.interval())
        .and_then(|q| q.with_burst(burst))
        .unwrap_or(quota)
}

/// `cap` divided by `share`, never below one.
pub fn divide_cap(cap: Option<usize>, share: u32) -> Option<usize> {
    cap.map(|c| (c / share.max(1) as usize).max(1))
}
