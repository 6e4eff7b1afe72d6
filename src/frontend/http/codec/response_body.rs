//! An encoded response body as chunks: the JSON, then the binary outputs,
//! each the engine's own `Bytes`. It is an HTTP body of exact length (so
//! the server sets `Content-Length`), sent without copying the chunks.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

/// A response body: send the chunks in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseBody {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl ResponseBody {
    /// A body of `chunks` (empty ones are dropped).
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let len = chunks.iter().map(Bytes::len).sum();
        Self { chunks, len }
    }

    /// The total length (`Content-Length`).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks, JSON first.
    pub fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        self.chunks.iter()
    }

    /// The body as one buffer; copies only when there is more than one chunk.
    pub fn into_bytes(mut self) -> Bytes {
        if self.chunks.len() <= 1 {
            return self.chunks.pop_front().unwrap_or_default();
        }
        let mut out = Vec::with_capacity(self.len);
        for chunk in &self.chunks {
            out.extend_from_slice(chunk);
        }
        out.into()
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = self.chunks.pop_front();
        if let Some(chunk) = &chunk {
            self.len -= chunk.len();
        }
        Poll::Ready(chunk.map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len as u64)
    }
}

impl From<ResponseBody> for axum::body::Body {
    fn from(body: ResponseBody) -> Self {
        match body.chunks.len() {
            0 => Self::empty(),
            1 => Self::from(body.into_bytes()),
            _ => Self::new(body),
        }
    }
}
