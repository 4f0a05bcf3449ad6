//! The probe's side of the end-to-end proof: finding the statement of an
//! `mssp-check listen` responder inside the session (DESIGN §5.1).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::connector::Connector;
use super::http::HttpHead;
use super::ProbeContext;
use crate::e2e::{self, Statement};
use crate::observation::E2eSeen;

/// The longest statement line read on a TLS port.
const MAX_LINE: usize = 1024;

/// How long a TLS port is listened to for a statement when the probe sent a nonce: the
/// responder waits `NONCE_WAIT_MS` for it before it speaks.
const LISTEN: Duration = Duration::from_millis(e2e::NONCE_WAIT_MS + 500);
/// Without a token the responder speaks right after the handshake: its statement comes
/// within a few round trips — the handshake's own time tells how long one takes.
const QUICK_MIN: Duration = Duration::from_millis(150);

/// On a TLS-only port (847x): with a token, send the nonce; then read one line for a
/// statement. A MailStore service says nothing and the wait ends. A TLS alert read in the
/// meantime (a TLS 1.3 server rejecting the client after the handshake) is returned as the
/// read error it is.
pub async fn listen<S, C>(
    stream: &mut S,
    ctx: &ProbeContext<C>,
    nonce: &str,
    handshake: Option<Duration>,
) -> (Option<E2eSeen>, Option<std::io::Error>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Connector,
{
    let sent = if ctx.token.is_some() {
        let line = e2e::nonce_line(nonce);
        if let Err(e) = stream.write_all(line.as_bytes()).await {
            return (None, Some(e));
        }
        if let Err(e) = stream.flush().await {
            return (None, Some(e));
        }
        Some(nonce.to_string())
    } else {
        None
    };
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    let mut error = None;
    let wait = if sent.is_some() {
        LISTEN
    } else {
        (handshake.unwrap_or(LISTEN) * 3 + Duration::from_millis(50)).clamp(QUICK_MIN, LISTEN)
    }
    .min(ctx.timeout);
    let read = async {
        while line.len() < MAX_LINE && !line.contains(&b'\n') {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
                Ok(n) => line.extend_from_slice(&buf[..n.min(MAX_LINE - line.len())]),
            }
        }
    };
    let _ = tokio::time::timeout(wait, read).await;
    let text = String::from_utf8_lossy(&line);
    let seen = text.contains(e2e::MAGIC).then(|| E2eSeen {
        statement: Statement::parse(&text),
        tail: None,
        nonce: sent,
    });
    (seen, error)
}

/// From an HTTPS answer's `X-MSSP-Check-E2E` header.
#[must_use]
pub fn from_header(head: &HttpHead, nonce: &str) -> Option<E2eSeen> {
    head.header(e2e::HTTP_HEADER).map(|v| E2eSeen {
        statement: Statement::parse(v),
        tail: None,
        nonce: Some(nonce.to_string()),
    })
}

/// From an IMAP greeting `* OK [MSSP-CHECK-E2E/1 …] text`.
#[must_use]
pub fn from_greeting(greeting: &str) -> Option<E2eSeen> {
    if !greeting.contains(e2e::MAGIC) {
        return None;
    }
    Some(match Statement::parse_with_tail(greeting) {
        Ok((s, tail)) => E2eSeen {
            statement: Ok(s),
            tail: Some(tail.to_string()),
            nonce: None,
        },
        Err(e) => E2eSeen {
            statement: Err(e),
            tail: None,
            nonce: None,
        },
    })
}
