//! A request body that must arrive within a deadline: a client that sends its headers and
//! then its body a byte at a time holds a connection (and a handler) only that long.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

/// Why a body stopped.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTooSlow(Duration);

/// `inner`, failing once `limit` has passed since it was made.
pub struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl DeadlineBody {
    pub fn new(inner: Body, limit: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let limit = self.limit;
            return Poll::Ready(Some(Err(BodyTooSlow(limit).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_body_too_slow_fails_and_one_in_time_arrives() {
        use futures_util::StreamExt;
        // One byte, then nothing more, ever.
        let trickle = futures_util::stream::once(async {
            Ok::<_, std::convert::Infallible>(Bytes::from_static(b"a"))
        })
        .chain(futures_util::stream::pending());
        let slow = DeadlineBody::new(Body::from_stream(trickle), Duration::from_millis(50));
        let read = tokio::time::timeout(Duration::from_secs(5), slow.collect())
            .await
            .expect("it ends");
        assert!(read.unwrap_err().to_string().contains("did not arrive"));

        let quick = DeadlineBody::new(Body::from("whole"), Duration::from_millis(50));
        assert_eq!(quick.collect().await.unwrap().to_bytes(), "whole");
    }
}
