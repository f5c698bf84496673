//! A deterministic simulator of clients, limits and servers on the fake
//! clock (feature `testing`): the proof harness of the adaptive limits,
//! used by weir's tests and by the peer comparison in `bench/`.
//!
//! Servers have a capacity knee (flat latency below it, queueing above,
//! optional 429 beyond a queue), RTT jitter and capacity steps; N clients
//! with their own [`Policy`] share them. [`run`] returns a [`Trace`] from
//! which settle time, oscillation, goodput, RTT quantiles and refusals are
//! measured over any interval.
//!
//! Invariants: a run is a pure function of its scenario, seeds and
//! policies; time only moves on the [`ManualClock`](crate::ManualClock) the
//! caller passes, which ends at the scenario's duration.
//!
//! ```
//! use core::time::Duration;
//! use weir::ManualClock;
//! use weir::adaptive::{AdaptiveConfig, KeyedAdaptive};
//! use weir::adaptive::sim::{run, Scenario, ServerSpec};
//! let scenario = Scenario::one(ServerSpec::knee(50), Duration::from_secs(10));
//! let mut clients = [KeyedAdaptive::new(AdaptiveConfig::default(), None)?];
//! let trace = run(&scenario, &mut clients, &ManualClock::new());
//! let hold = Duration::from_secs(1);
//! let settled = trace.settle_time(0, Duration::ZERO, Duration::from_secs(10), 0.15, hold);
//! assert!(settled.unwrap() <= Duration::from_secs(5));
//! # Ok::<(), weir::adaptive::AdaptiveConfigError>(())
//! ```

mod policy;
mod report;
mod run;
mod server;

pub use policy::{Fixed, Policy};
pub use report::{Completion, Spread, Tick, Trace};
pub use run::{run, Scenario};
pub use server::ServerSpec;
