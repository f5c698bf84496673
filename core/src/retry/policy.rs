//! [`RetryPolicy`]: what is retried, how often, how long to wait at most,
//! and how many retries a key may spend.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::budget::BudgetPolicy;

/// HTTP methods that are safe to repeat (RFC 9110 §9.2.2), the default for
/// [`RetryPolicy::methods`].
pub const IDEMPOTENT_METHODS: [&str; 5] = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"];

/// Statuses retried by default: "too many requests" and "service unavailable".
pub const DEFAULT_STATUSES: [u16; 2] = [429, 503];

/// When and how a failed attempt is tried again.
///
/// `Default` is 3 attempts in all, statuses 429 and 503 (and network errors),
/// idempotent methods only, back-off base 100 ms capped at 30 s, and a
/// budget of 10 % of requests per key over 10 s (at least 3 per window).
///
/// ```
/// use core::time::Duration;
/// use weir::retry::RetryPolicy;
/// let policy = RetryPolicy { attempts: 5, max_delay: Duration::from_secs(10), ..Default::default() };
/// assert!(policy.validate().is_ok());
/// assert!(policy.retries_method("get") && !policy.retries_method("POST"));
/// assert_eq!(RetryPolicy { attempts: 0, ..Default::default() }.validate().unwrap_err().field, "attempts");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (`1` = never retry). At least 1.
    pub attempts: u32,
    /// Response statuses worth another attempt (each in `100..=599`).
    pub statuses: Vec<u16>,
    /// Methods that may be repeated (compared case-insensitively). Network
    /// errors are retried for these methods only, too.
    pub methods: Vec<String>,
    /// Back-off scale: retry `n` (from 0) waits uniformly in
    /// `0..=min(max_delay, base_delay · 2ⁿ)` ("full jitter"). Must be > 0.
    pub base_delay: Duration,
    /// Cap on any wait, back-off or `Retry-After`. At least `base_delay`.
    pub max_delay: Duration,
    /// How many retries a key may spend relative to its requests.
    pub budget: BudgetPolicy,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            statuses: DEFAULT_STATUSES.to_vec(),
            methods: IDEMPOTENT_METHODS
                .iter()
                .map(|m| String::from(*m))
                .collect(),
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            budget: BudgetPolicy::default(),
        }
    }
}

impl RetryPolicy {
    /// Checks the policy; the error names the offending field.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.attempts == 0 {
            return Err(PolicyError::new("attempts", "must be at least 1"));
        }
        if self.statuses.iter().any(|s| !(100..=599).contains(s)) {
            return Err(PolicyError::new(
                "statuses",
                "each must be an HTTP status in 100..=599",
            ));
        }
        if self.methods.iter().any(|m| m.is_empty()) {
            return Err(PolicyError::new(
                "methods",
                "must not contain an empty method",
            ));
        }
        if self.base_delay.is_zero() {
            return Err(PolicyError::new("base_delay", "must be greater than zero"));
        }
        if self.max_delay < self.base_delay {
            return Err(PolicyError::new("max_delay", "must be at least base_delay"));
        }
        self.budget.validate()
    }

    /// A copy without the lists (which are left empty): allocates nothing.
    pub(crate) fn clone_scalars(&self) -> Self {
        RetryPolicy {
            attempts: self.attempts,
            statuses: Vec::new(),
            methods: Vec::new(),
            base_delay: self.base_delay,
            max_delay: self.max_delay,
            budget: self.budget,
        }
    }

    /// Whether `status` is worth another attempt.
    pub fn retries_status(&self, status: u16) -> bool {
        self.statuses.contains(&status)
    }

    /// Whether requests with `method` may be repeated (case-insensitive).
    pub fn retries_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

/// An invalid [`RetryPolicy`] (or [`BudgetPolicy`]); names the field at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The field at fault (`attempts`, `max_delay`, `budget.ratio`, …).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl PolicyError {
    pub(crate) const fn new(field: &'static str, problem: &'static str) -> Self {
        PolicyError { field, problem }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid retry option `{}`: {}", self.field, self.problem)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PolicyError {}
