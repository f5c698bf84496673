//! The response body: the handler's, holding the permit until it ends, or
//! the guard's own short rejection text.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::hash::Hash;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use weir::LimiterPermit;

use crate::service::Held;
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
    #[derive(Debug)]
    pub struct GuardBody<B, K: Key> {
        #[pin]
        inner: Inner<B, K>,
    }
}

pin_project_lite::pin_project! {
    #[project = InnerProj]
    #[derive(Debug)]
    enum Inner<B, K: Key> {
        Admitted {
            #[pin]
            body: B,
            permit: Option<Permit<K>>,
        },
        Rejected {
            text: Option<Bytes>,
        },
    }
}

/// What an admitted body holds until it ends.
#[derive(Debug)]
enum Permit<K: Key> {
    /// Given by a caller of [`GuardBody::admitted`].
    Owned(#[allow(dead_code)] LimiterPermit<K>),
    /// The guard's own.
    Held(#[allow(dead_code)] Held<K>),
    /// A shared store's permit (its leases released when dropped).
    #[cfg(feature = "redis")]
    Shared(#[allow(dead_code)] weir_redis::SharedPermit),
}

impl<B: Body, K: Hash + Eq + Clone> GuardBody<B, K> {
    /// The handler's `body`, holding `permit` until it ends (released at
    /// once when `body` is already at its end).
    pub fn admitted(body: B, permit: LimiterPermit<K>) -> Self {
        Self::holding(body, Permit::Owned(permit))
    }

    /// The guard's own admitted body.
    pub(crate) fn held(body: B, held: Held<K>) -> Self {
        Self::holding(body, Permit::Held(held))
    }

    /// An admitted body holding a shared store's permit.
    #[cfg(feature = "redis")]
    pub(crate) fn shared(body: B, permit: weir_redis::SharedPermit) -> Self {
        Self::holding(body, Permit::Shared(permit))
    }

    fn holding(body: B, permit: Permit<K>) -> Self {
        let permit = if body.is_end_stream() {
            None
        } else {
            Some(permit)
        };
        GuardBody {
            inner: Inner::Admitted { body, permit },
        }
    }
}

impl<B, K: Hash + Eq + Clone> GuardBody<B, K> {
    /// A rejection body carrying `text`.
    pub fn rejected(text: Bytes) -> Self {
        GuardBody {
            inner: Inner::Rejected { text: Some(text) },
        }
    }

    /// Whether this body still holds a limiter permit.
    pub fn holds_permit(&self) -> bool {
        matches!(
            self.inner,
            Inner::Admitted {
                permit: Some(_),
                ..
            }
        )
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
        match self.project().inner.project() {
            InnerProj::Admitted { mut body, permit } => {
                let polled = body.as_mut().poll_frame(cx);
                match &polled {
                    Poll::Ready(None | Some(Err(_))) => *permit = None,
                    Poll::Ready(Some(Ok(_))) if body.is_end_stream() => *permit = None,
                    _ => {}
                }
                polled
            }
            InnerProj::Rejected { text } => {
                Poll::Ready(text.take().map(|t| Ok(Frame::data(B::Data::from(t)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Admitted { body, .. } => body.is_end_stream(),
            Inner::Rejected { text } => text.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Admitted { body, .. } => body.size_hint(),
            Inner::Rejected { text } => {
                SizeHint::with_exact(text.as_ref().map_or(0, |t| t.len() as u64))
            }
        }
    }
}
