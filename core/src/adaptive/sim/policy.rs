//! [`Policy`]: what decides how many requests a simulated client keeps in
//! flight per host, and the two of this crate: [`Fixed`] limits and
//! [`KeyedAdaptive`] controllers.
//!
//! Invariant: the simulator starts a request only when `try_start` returns
//! a token, and hands every token back exactly once, with the sample.

use crate::adaptive::{KeyedAdaptive, Sample};
use crate::time::Instant;

/// A client's concurrency policy, one per simulated client.
pub trait Policy {
    /// What a started request carries until it finishes.
    type Token;
    /// May a request to `host` start at `now`, with `in_flight` of that host
    /// already in flight (this one excluded)?
    fn try_start(&mut self, now: Instant, host: usize, in_flight: u32) -> Option<Self::Token>;
    /// A request started with `token` finished.
    fn finish(&mut self, now: Instant, host: usize, token: Self::Token, sample: Sample);
    /// The current limit for `host` (for the trace).
    fn limit(&self, host: usize) -> u32;
}

/// A fixed limit per host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed(pub u32);

impl Policy for Fixed {
    type Token = ();
    fn try_start(&mut self, _: Instant, _: usize, in_flight: u32) -> Option<()> {
        (in_flight < self.0).then_some(())
    }
    fn finish(&mut self, _: Instant, _: usize, (): (), _: Sample) {}
    fn limit(&self, _: usize) -> u32 {
        self.0
    }
}

impl Policy for KeyedAdaptive<usize> {
    type Token = ();
    fn try_start(&mut self, _: Instant, host: usize, in_flight: u32) -> Option<()> {
        (in_flight < self.limit_of(&host)).then_some(())
    }
    fn finish(&mut self, now: Instant, host: usize, (): (), sample: Sample) {
        self.on_sample(&host, now, sample);
    }
    fn limit(&self, host: usize) -> u32 {
        self.limit_of(&host)
    }
}
