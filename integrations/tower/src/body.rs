//! The response body: the handler's, holding the permit until it ends, or
//! the guard's own short rejection text.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::hash::Hash;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use weir::LimiterPermit;

use crate::Key;

pin_project_lite::pin_project! {
    /// Body of a guarded response. For an admitted request it is the
    /// handler's body and holds the limiter permit until that body has
    /// finished streaming (end, error, or drop); for a rejected one it is a
    /// short plain-text explanation.
    ///
    /// ```
    /// use http_body::Body as _;
    /// let body = weir_tower::GuardBody::<String, u32>::rejected("slow down".into());
    /// assert!(!body.holds_permit());
    /// assert_eq!(body.size_hint().exact(), Some(9));
    /// ```
    #[project = GuardBodyProj]
    #[derive(Debug)]
    pub enum GuardBody<B, K: Key> {
        /// The handler's body.
        Admitted {
            #[pin]
            body: B,
            permit: Option<LimiterPermit<K>>,
        },
        /// The guard's rejection text.
        Rejected {
            text: Option<Bytes>,
        },
    }
}

impl<B: Body, K: Hash + Eq + Clone> GuardBody<B, K> {
    /// The handler's `body`, holding `permit` until it ends (released at
    /// once when `body` is already at its end).
    pub fn admitted(body: B, permit: LimiterPermit<K>) -> Self {
        let permit = if body.is_end_stream() { None } else { Some(permit) };
        GuardBody::Admitted { body, permit }
    }
}

impl<B, K: Hash + Eq + Clone> GuardBody<B, K> {
    /// A rejection body carrying `text`.
    pub fn rejected(text: Bytes) -> Self {
        GuardBody::Rejected { text: Some(text) }
    }

    /// Whether this body still holds a limiter permit.
    pub fn holds_permit(&self) -> bool {
        matches!(self, GuardBody::Admitted { permit: Some(_), .. })
    }
}

impl<B, K> Body for GuardBody<B, K>
where
    B: Body,
    B::Data: From<Bytes>,
    K: Hash + Eq + Clone,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project() {
            GuardBodyProj::Admitted { mut body, permit } => {
                let polled = body.as_mut().poll_frame(cx);
                match &polled {
                    Poll::Ready(None | Some(Err(_))) => *permit = None,
                    Poll::Ready(Some(Ok(_))) if body.is_end_stream() => *permit = None,
                    _ => {}
                }
                polled
            }
            GuardBodyProj::Rejected { text } => {
                Poll::Ready(text.take().map(|t| Ok(Frame::data(B::Data::from(t)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            GuardBody::Admitted { body, .. } => body.is_end_stream(),
            GuardBody::Rejected { text } => text.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            GuardBody::Admitted { body, .. } => body.size_hint(),
            GuardBody::Rejected { text } => {
                SizeHint::with_exact(text.as_ref().map_or(0, |t| t.len() as u64))
            }
        }
    }
}
