//! The guarded socket of one responder connection — every read times out after a spell of
//! silence, all reads together stop at a byte cap, the first bytes are kept to name what a
//! non-TLS client sent — and a line reader whose leftovers are visible (for STARTTLS).

use std::fmt;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;

/// How many of the first bytes read are kept.
const FIRST_BYTES: usize = 32;

/// Why the responder stopped reading (the inner error of an `io::Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// No byte arrived for this long.
    Idle(Duration),
    /// The connection's read budget is spent.
    Bytes(usize),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Idle(d) => write!(f, "nothing received for {}", crate::sanitize::duration(*d)),
            Limit::Bytes(n) => write!(f, "read limit of {n} bytes reached"),
        }
    }
}

impl std::error::Error for Limit {}

impl Limit {
    /// The limit behind `e`, if one of ours ended the read.
    pub(crate) fn of(e: &io::Error) -> Option<Limit> {
        e.get_ref()?.downcast_ref::<Limit>().copied()
    }

    fn into_error(self) -> io::Error {
        let kind = match self {
            Limit::Idle(_) => io::ErrorKind::TimedOut,
            Limit::Bytes(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// A stream whose reads are bounded in time (per read) and in bytes (in all).
#[derive(Debug)]
pub(crate) struct Guarded<S> {
    inner: S,
    idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    cap: usize,
    read: usize,
    first: Vec<u8>,
}

impl<S> Guarded<S> {
    pub(crate) fn new(inner: S, idle: Duration, cap: usize) -> Self {
        Guarded {
            inner,
            idle,
            timer: None,
            cap,
            read: 0,
            first: Vec::new(),
        }
    }

    /// The first bytes the peer sent (at most [`FIRST_BYTES`]).
    pub(crate) fn first_bytes(&self) -> &[u8] {
        &self.first
    }

    fn account(&mut self, new: &[u8]) {
        self.read += new.len();
        let room = FIRST_BYTES.saturating_sub(self.first.len());
        self.first.extend_from_slice(&new[..room.min(new.len())]);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let budget = self.cap.saturating_sub(self.read);
        if budget == 0 {
            return Poll::Ready(Err(Limit::Bytes(self.cap).into_error()));
        }
        let polled = if buf.remaining() <= budget {
            let before = buf.filled().len();
            let r = Pin::new(&mut self.inner).poll_read(cx, buf);
            if let Poll::Ready(Ok(())) = r {
                self.account(&buf.filled()[before..]);
            }
            r
        } else {
            // Never let one read go past the cap: read into a buffer of the budget's size.
            let mut tmp = vec![0u8; budget];
            let mut small = ReadBuf::new(&mut tmp);
            let r = Pin::new(&mut self.inner).poll_read(cx, &mut small);
            if let Poll::Ready(Ok(())) = r {
                buf.put_slice(small.filled());
                self.account(small.filled());
            }
            r
        };
        match polled {
            Poll::Ready(r) => {
                self.timer = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let idle = self.idle;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.timer = None;
                        Poll::Ready(Err(Limit::Idle(idle).into_error()))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
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

/// Splits what a stream sends into LF-terminated lines, keeping any bytes after the last
/// line it returned in view ([`Lines::pending`]). Cancel-safe: bytes read by an abandoned
/// call stay in the buffer.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    /// The next line without its CR LF, or `None` at end of stream (a partial last line is
    /// dropped). Its length is bounded by the stream's byte cap.
    pub(crate) async fn next<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
    ) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(lf) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=lf).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            let mut chunk = [0u8; 4096];
            let n = match s.read(&mut chunk).await {
                Ok(n) => n,
                // A TLS client that closes without close_notify (most do): still just a close.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Bytes received after the last line returned.
    pub(crate) fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Ends a connection politely: shut down our side (for TLS, `close_notify` first), then read
/// and discard until the client closes or `linger` passes, so that unread request bytes do
/// not turn our close into a reset that destroys the answer in flight.
pub(crate) async fn finish<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, linger: Duration) {
    let _ = tokio::time::timeout(linger, async {
        let _ = s.shutdown().await;
        let mut sink = [0u8; 2048];
        while let Ok(n) = s.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Reads and discards until the client closes; says how it ended.
pub(crate) async fn wait_for_close<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut sink = [0u8; 2048];
    loop {
        match s.read(&mut sink).await {
            Ok(0) => return "closed by the client".into(),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return "closed by the client".into()
            }
            Ok(_) => {}
            Err(e) => return describe(&e),
        }
    }
}

/// An I/O error in words for the log.
pub(crate) fn describe(e: &io::Error) -> String {
    if let Some(limit) = Limit::of(e) {
        return format!("closed: {limit}");
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "the client closed the connection".into(),
        io::ErrorKind::ConnectionReset => "the client reset the connection".into(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted => {
            "the client went away while the responder was writing".into()
        }
        _ => format!("I/O error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn reads_stop_at_the_cap() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let mut g = Guarded::new(server, Duration::from_secs(5), 10);
        client.write_all(b"0123456789abcdef").await.expect("write");
        let mut all = Vec::new();
        let e = g.read_to_end(&mut all).await.expect_err("cap");
        assert_eq!(all, b"0123456789");
        assert_eq!(Limit::of(&e), Some(Limit::Bytes(10)));
        assert_eq!(describe(&e), "closed: read limit of 10 bytes reached");
        assert_eq!(g.first_bytes(), b"0123456789");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out_per_read() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut g = Guarded::new(server, Duration::from_secs(10), 1000);
        let mut lines = Lines::default();
        client.write_all(b"a\r\nb").await.expect("write");
        assert_eq!(lines.next(&mut g).await.expect("line"), Some(b"a".to_vec()));
        assert_eq!(lines.pending(), 1);
        let e = lines.next(&mut g).await.expect_err("idle");
        assert_eq!(Limit::of(&e), Some(Limit::Idle(Duration::from_secs(10))));
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(describe(&e), "closed: nothing received for 10 s");
        // The bytes read before the timeout are still there.
        client.write_all(b"c\n").await.expect("write");
        assert_eq!(
            lines.next(&mut g).await.expect("line"),
            Some(b"bc".to_vec())
        );
        drop(client);
        assert_eq!(lines.next(&mut g).await.expect("eof"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_read_keeps_its_bytes() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut g = Guarded::new(server, Duration::from_secs(10), 1000);
        let mut lines = Lines::default();
        client.write_all(b"half").await.expect("write");
        let r = tokio::time::timeout(Duration::from_millis(300), lines.next(&mut g)).await;
        assert!(r.is_err(), "no full line yet");
        client.write_all(b" line\n").await.expect("write");
        assert_eq!(
            lines.next(&mut g).await.expect("line"),
            Some(b"half line".to_vec())
        );
    }
}
