//! Retries with back-off for HTTP-like clients: the policy, `Retry-After`
//! parsing, full-jitter back-off over a seeded PRNG, per-key retry budgets,
//! cooldowns and latency figures — all pure and `no_std`.
//!
//! A fetch wrapper (the JS `limiter.fetch`, a reqwest middleware) keeps no
//! retry logic of its own: it reports each attempt to a [`RetryController`]
//! and does what the [`Decision`] says — sleep `after`, or pause the key on
//! its [`Limiter`](crate::Limiter) (`pause_until`) so that every queued
//! request for that host waits while other hosts go on.

mod budget;
mod controller;
mod decision;
mod histogram;
mod jitter;
mod policy;
mod retry_after;
mod stats;

pub use budget::{BudgetPolicy, BudgetWindow, BUDGET_SLOTS};
pub use controller::RetryController;
pub use decision::{Attempt, Decision, GiveUpReason, Outcome};
pub use histogram::{LatencyHistogram, HISTOGRAM_BUCKETS};
pub use jitter::{backoff_ceiling, full_jitter, SplitMix64};
pub use policy::{PolicyError, RetryPolicy, DEFAULT_STATUSES, IDEMPOTENT_METHODS};
pub use retry_after::{parse_http_date, parse_retry_after};
pub use stats::FetchStats;
