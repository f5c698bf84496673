use super::{Clock, Instant, Timer};

/// A [`Timer`] backed by tokio's time driver (feature `tokio`).
///
/// Its clock reads `tokio::time::Instant`, so tokio's paused test time
/// (`tokio::time::pause`) drives it too.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use weir::{Clock, Timer, TokioTimer};
/// let timer = TokioTimer::new();
/// let t = timer.now();
/// timer.sleep_until(t + core::time::Duration::from_millis(1)).await;
/// assert!(timer.now() >= t + core::time::Duration::from_millis(1));
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TokioTimer {
    origin: tokio::time::Instant,
}

impl TokioTimer {
    /// A timer whose clock's origin is now.
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioTimer {
    #[inline]
    fn now(&self) -> Instant {
        Instant::from_nanos(super::duration_nanos(self.origin.elapsed()))
    }
}

impl Timer for TokioTimer {
    type Sleep = tokio::time::Sleep;
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        let at = self
            .origin
            .checked_add(core::time::Duration::from_nanos(deadline.as_nanos()))
            .unwrap_or_else(|| self.origin + core::time::Duration::from_secs(86_400 * 365 * 30));
        tokio::time::sleep_until(at)
    }
}
