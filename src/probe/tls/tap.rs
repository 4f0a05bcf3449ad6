//! A stream that keeps the first bytes it reads, so that a failed handshake can show what
//! answered instead of TLS.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many of the first bytes read are kept, to show what answered when it is not TLS.
const TAP_BYTES: usize = 128;

/// Wraps a stream and records the first 128 bytes read from it until the handshake is done,
/// and counts every byte read until then in `heard` — which outlives a handshake that a
/// timeout dropped, to tell a silent server from one that stalled halfway.
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    seen: Vec<u8>,
    recording: bool,
    heard: Arc<AtomicUsize>,
}

impl<S> Tap<S> {
    pub fn new(inner: S) -> Self {
        Self::counted(inner, Arc::default())
    }
    pub fn counted(inner: S, heard: Arc<AtomicUsize>) -> Self {
        Self {
            inner,
            seen: Vec::new(),
            recording: true,
            heard,
        }
    }
    /// How many bytes were read while recording.
    #[must_use]
    pub fn heard(&self) -> usize {
        self.heard.load(Ordering::Relaxed)
    }
    #[must_use]
    pub fn seen(&self) -> &[u8] {
        &self.seen
    }
    pub(super) fn stop_recording(&mut self) {
        self.recording = false;
        self.seen = Vec::new();
    }
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.recording {
            let room = TAP_BYTES.saturating_sub(self.seen.len());
            let new = &buf.filled()[before..];
            let take = new.len().min(room);
            let chunk = new[..take].to_vec();
            self.seen.extend_from_slice(&chunk);
            self.heard.fetch_add(new.len(), Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
