//! What a connection tells the registry about itself: its socket, whether the server has read
//! all the peer sent (only then can it be stalled by the peer rather than waiting for the
//! server); its request body, when the request has arrived whole (from then on it is being
//! answered and is not evicted).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::registry::{ConnState, Phase};

#[derive(Debug)]
pub(crate) struct TrackedBody {
    inner: Incoming,
    state: Arc<ConnState>,
}

impl TrackedBody {
    pub(crate) fn new(inner: Incoming, state: Arc<ConnState>) -> TrackedBody {
        TrackedBody { inner, state }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let whole = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => false,
        };
        if whole {
            self.state.set(Phase::Answering);
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

/// An answer's body: the connection is being answered until it is written whole (an event
/// stream's, for as long as it lasts), then waits for the next request.
#[derive(Debug)]
pub(crate) struct AnswerBody {
    inner: axum::body::Body,
    state: Arc<ConnState>,
}

impl AnswerBody {
    pub(crate) fn new(inner: axum::body::Body, state: Arc<ConnState>) -> AnswerBody {
        AnswerBody { inner, state }
    }
}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AnswerBody {
    fn drop(&mut self) {
        self.state.set(Phase::Stalled);
    }
}

/// A connection's socket that records whether its last read found the peer silent.
#[derive(Debug)]
pub(crate) struct TrackedIo<T> {
    inner: T,
    state: Arc<ConnState>,
}

impl<T> TrackedIo<T> {
    pub(crate) fn new(inner: T, state: Arc<ConnState>) -> TrackedIo<T> {
        TrackedIo { inner, state }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let waiting = match &polled {
            // Nothing more for now, or the peer is gone.
            Poll::Pending | Poll::Ready(Err(_)) => true,
            Poll::Ready(Ok(())) => buf.filled().len() == before,
        };
        self.state.set_waiting(waiting);
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.state.set_write_blocked(polled.is_pending());
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.state.set_write_blocked(polled.is_pending());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
