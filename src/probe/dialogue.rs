//! Runs a sans-IO protocol machine over a socket: writes what it says, reads with a timeout
//! per read and the probe's overall deadline, upgrades to TLS when it asks.

use std::io;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

use super::deadline::Deadline;
use super::http::{get_request_with, HttpResponse};
use super::starttls::{Action, DialogueStep, Script};
use super::tls::{Tap, TlsContext};
use crate::observation::{Phase, ProtocolEnd, TlsFacts};

/// One read takes at most this many bytes; the machines cap what they keep.
const READ_CHUNK: usize = 4096;

/// One HTTP/1.1 GET and its answer.
#[derive(Debug)]
pub struct HttpScript {
    request: Option<Vec<u8>>,
    pub response: HttpResponse,
}

impl HttpScript {
    /// A GET that also carries the end-to-end nonce (harmless to any server; a responder
    /// echoes it in its statement).
    #[must_use]
    pub fn new(host_header: &str, path: &str, nonce: &str) -> Self {
        Self {
            request: Some(get_request_with(
                host_header,
                path,
                &[(crate::e2e::NONCE_HEADER, nonce)],
            )),
            response: HttpResponse::new(),
        }
    }
}

impl Script for HttpScript {
    fn poll(&mut self) -> Action {
        if let Some(r) = self.request.take() {
            Action::Send(r)
        } else if self.response.is_done() {
            Action::Done
        } else {
            Action::Recv
        }
    }
    fn receive(&mut self, bytes: &[u8]) {
        self.response.receive(bytes);
    }
    fn eof(&mut self) {
        self.response.eof();
    }
    fn tls_established(&mut self) {}
    fn step(&self) -> DialogueStep {
        self.response.step()
    }
}

/// The stream, before or after the TLS upgrade.
pub enum Conn<S> {
    Plain(S),
    Tls(Box<TlsStream<Tap<S>>>),
}

/// What a drive produced besides the machine's own transcript.
#[derive(Debug, Default)]
pub struct Driven {
    /// The handshake of a STARTTLS upgrade.
    pub tls: Option<TlsFacts>,
    pub tls_time: Option<std::time::Duration>,
    /// How the conversation ended, when not by the machine's own `Done`.
    pub end: Option<ProtocolEnd>,
}

/// Runs `script` on `conn` until it is done, fails, or time runs out.
pub async fn drive<S, P>(
    mut conn: Conn<S>,
    script: &mut P,
    tls: &TlsContext,
    name: &ServerName<'static>,
    deadline: &Deadline,
) -> Driven
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: Script + ?Sized,
{
    let mut out = Driven::default();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match script.poll() {
            Action::Done => break,
            Action::Send(bytes) => {
                let step = script.step();
                let r = deadline
                    .step(Phase::Protocol, write_all(&mut conn, &bytes))
                    .await;
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        // The peer went away; the machine learns it at its next read.
                        script.eof();
                        if Script::poll(script) != Action::Done {
                            out.end = Some(ended_by(&e, step));
                            return out;
                        }
                        break;
                    }
                    Err(to) => {
                        out.end = Some(ProtocolEnd::TimedOut {
                            step,
                            overall: to.overall,
                        });
                        return out;
                    }
                }
            }
            Action::Recv => {
                let step = script.step();
                match deadline
                    .step(Phase::Protocol, read(&mut conn, &mut buf))
                    .await
                {
                    Ok(Ok(0)) => script.eof(),
                    Ok(Ok(n)) => script.receive(&buf[..n]),
                    Ok(Err(e)) if is_closed(&e) => script.eof(),
                    Ok(Err(e)) => {
                        out.end = Some(ended_by(&e, step));
                        return out;
                    }
                    Err(to) => {
                        out.end = Some(ProtocolEnd::TimedOut {
                            step,
                            overall: to.overall,
                        });
                        return out;
                    }
                }
            }
            Action::StartTls => {
                let Conn::Plain(stream) = conn else {
                    out.end = Some(ProtocolEnd::Io {
                        step: script.step(),
                        detail: "the machine asked for TLS twice".into(),
                    });
                    return out;
                };
                let t = Instant::now();
                let heard = std::sync::Arc::default();
                let handshake = tls.handshake_heard(stream, name, std::sync::Arc::clone(&heard));
                let r = deadline.step(Phase::Tls, handshake).await;
                out.tls_time = Some(t.elapsed());
                match r {
                    Ok(Ok((s, facts))) => {
                        out.tls = Some(facts);
                        conn = Conn::Tls(Box::new(s));
                        script.tls_established();
                    }
                    Ok(Err(f)) => {
                        out.end = Some(ProtocolEnd::Tls(f));
                        return out;
                    }
                    Err(to) if to.overall => {
                        out.end = Some(ProtocolEnd::TimedOut {
                            step: DialogueStep::Tls,
                            overall: true,
                        });
                        return out;
                    }
                    Err(_) => {
                        out.end = Some(ProtocolEnd::Tls(crate::probe::silence_or_stall(&[heard])));
                        return out;
                    }
                }
            }
        }
    }
    // A polite end: close_notify over TLS, FIN in plaintext. Never wait long for it.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), shutdown(&mut conn)).await;
    out
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

async fn write_all<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    bytes: &[u8],
) -> io::Result<()> {
    match conn {
        Conn::Plain(s) => {
            s.write_all(bytes).await?;
            s.flush().await
        }
        Conn::Tls(s) => {
            s.write_all(bytes).await?;
            s.flush().await
        }
    }
}

async fn read<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    buf: &mut [u8],
) -> io::Result<usize> {
    match conn {
        Conn::Plain(s) => s.read(buf).await,
        Conn::Tls(s) => s.read(buf).await,
    }
}

async fn shutdown<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>) -> io::Result<()> {
    match conn {
        Conn::Plain(s) => s.shutdown().await,
        Conn::Tls(s) => s.shutdown().await,
    }
}

/// How a socket error ends a dialogue: a TLS alert (a server rejecting the client right after
/// the handshake) is a TLS failure, anything else an I/O one.
fn ended_by(e: &std::io::Error, step: DialogueStep) -> ProtocolEnd {
    crate::probe::tls::alert_after_handshake(e, false).map_or_else(
        || ProtocolEnd::Io {
            step,
            detail: e.to_string(),
        },
        ProtocolEnd::Tls,
    )
}
