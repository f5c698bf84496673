//! A response body that holds a limiter permit until it is fully read.

use core::pin::Pin;
use core::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use weir::LimiterPermit;

pin_project_lite::pin_project! {
    /// Wraps a body and holds `permit` (a [`LimiterPermit`], or any guard
    /// whose drop releases something) until the body ends, fails, or is
    /// dropped — whichever comes first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weir::{Limiter, LimiterConfig, TokioTimer};
    /// use weir_reqwest::PermitBody;
    /// let limiter = Limiter::new(
    ///     LimiterConfig { per_key: Some(1), ..Default::default() },
    ///     TokioTimer::new(),
    /// ).unwrap();
    /// let permit = limiter.try_acquire("h:80".to_string(), 1).unwrap();
    /// let body = PermitBody::new(String::from("hi"), permit);
    /// assert!(body.holds_permit());
    /// drop(body); // the permit goes back with it
    /// assert_eq!(limiter.in_flight_of(&"h:80".to_string()), 0);
    /// ```
    #[derive(Debug)]
    pub struct PermitBody<B, P = LimiterPermit<String>> {
        #[pin]
        inner: B,
        permit: Option<P>,
    }
}

impl<B: Body, P> PermitBody<B, P> {
    /// `inner`, holding `permit` until it ends (released at once if `inner`
    /// is already at its end, e.g. the body of a `HEAD` response).
    pub fn new(inner: B, permit: P) -> Self {
        let permit = if inner.is_end_stream() {
            None
        } else {
            Some(permit)
        };
        Self { inner, permit }
    }

    /// Whether the permit is still held.
    pub fn holds_permit(&self) -> bool {
        self.permit.is_some()
    }
}

impl<B: Body, P> Body for PermitBody<B, P> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(None | Some(Err(_))) => *this.permit = None,
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => *this.permit = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
