//! The response future of a guarded call.

use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::hash::Hash;

use http::Response;
use http_body::Body;

use crate::Key;

use crate::headers::Figures;
use crate::service::{admit, Held};
use crate::GuardBody;

type Boxed<B, K, E> = Pin<Box<dyn Future<Output = Result<Response<GuardBody<B, K>>, E>> + Send>>;

pin_project_lite::pin_project! {
    /// Response future of [`Guard`](crate::Guard): the handler's future
    /// (admitted), a ready rejection, or a bounded wait. The admitted and
    /// rejected paths allocate nothing.
    pub struct ResponseFuture<F, B, K: Key, E> {
        #[pin]
        state: State<F, B, K, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, B, K: Key, E> {
        Admitted {
            #[pin]
            fut: F,
            held: Option<Held<K>>,
            figures: Option<Figures>,
        },
        Rejected {
            resp: Option<Response<GuardBody<B, K>>>,
        },
        Waiting {
            fut: Boxed<B, K, E>,
        },
    }
}

impl<F, B, K: Hash + Eq + Clone, E> ResponseFuture<F, B, K, E> {
    pub(crate) fn admitted(fut: F, held: Held<K>, figures: Option<Figures>) -> Self {
        Self {
            state: State::Admitted {
                fut,
                held: Some(held),
                figures,
            },
        }
    }

    pub(crate) fn rejected(resp: Response<GuardBody<B, K>>) -> Self {
        Self {
            state: State::Rejected { resp: Some(resp) },
        }
    }

    pub(crate) fn waiting(fut: Boxed<B, K, E>) -> Self {
        Self {
            state: State::Waiting { fut },
        }
    }
}

impl<F, B, K, E> Future for ResponseFuture<F, B, K, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
    K: Hash + Eq + Clone,
{
    type Output = Result<Response<GuardBody<B, K>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Admitted { fut, held, figures } => {
                let result = ready!(fut.poll(cx));
                let held = held.take().expect("ResponseFuture polled after completion");
                // On a handler error the permit is dropped here, released.
                Poll::Ready(result.map(|resp| admit(resp, held, *figures)))
            }
            StateProj::Rejected { resp } => Poll::Ready(Ok(resp
                .take()
                .expect("ResponseFuture polled after completion"))),
            StateProj::Waiting { fut } => fut.as_mut().poll(cx),
        }
    }
}

impl<F, B, K: Hash + Eq + Clone, E> std::fmt::Debug for ResponseFuture<F, B, K, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}
