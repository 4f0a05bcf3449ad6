//! One responder connection: how each port answers, and the answers of the `tls` (847x) and
//! plain-TCP ports; IMAP and HTTP have their own modules, and what every connection shares is
//! in `context`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::profile::ProbeKind;
use crate::e2e;

use super::context::{statement_details, tls_ekm, tls_version, Ctx, LINGER, READ_TIMEOUT};
use super::slots::{Stage, StageCell};
use super::stream::{describe, finish, wait_for_close, Guarded, Lines};
use super::{http, imap};

/// How a port answers, from its probe kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    ImapStarttls,
    Imaps,
    Https,
    /// TLS, then the statement on a line (847x).
    Tls,
    /// Accept and wait: the responder does not speak the protocol.
    Accept,
}

impl Answer {
    /// How `kind` is answered. POP3 and LDAP are not on any role's inbound side; should a
    /// custom profile put them there, their implicit-TLS ports still get TLS and the statement.
    pub(crate) fn for_probe(kind: ProbeKind) -> Answer {
        match kind {
            ProbeKind::ImapStarttls => Answer::ImapStarttls,
            ProbeKind::Imaps => Answer::Imaps,
            ProbeKind::Https => Answer::Https,
            ProbeKind::Tls | ProbeKind::Pop3s | ProbeKind::Ldaps => Answer::Tls,
            ProbeKind::Tcp | ProbeKind::Pop3Stls | ProbeKind::LdapStarttls => Answer::Accept,
        }
    }

    /// What the banner says about a port whose probe kind is answered differently.
    pub(crate) fn note(kind: ProbeKind) -> Option<&'static str> {
        match kind {
            ProbeKind::Pop3s | ProbeKind::Ldaps => Some(
                "answered with TLS and a statement line; the responder does not speak POP3/LDAP",
            ),
            ProbeKind::Pop3Stls | ProbeKind::LdapStarttls => {
                Some("TCP only; the responder does not speak POP3/LDAP")
            }
            _ => None,
        }
    }
}

/// Serves one accepted connection, saying in `stage` how far it got (which decides whether
/// it may lose its slot, see `slots`); returns the result for the log.
pub(crate) async fn serve(
    ctx: &Ctx,
    answer: Answer,
    tcp: TcpStream,
    peer: SocketAddr,
    port: u16,
    stage: &StageCell,
) -> String {
    let _ = tcp.set_nodelay(true);
    let mut stream = Guarded::new(tcp, READ_TIMEOUT, ctx.max_bytes);
    match answer {
        Answer::ImapStarttls => imap::starttls(ctx, stream, peer, stage).await,
        Answer::Accept => {
            // The connect was the answer a TCP probe wanted.
            stage.set(Stage::Answered);
            format!("connected; {}", wait_for_close(&mut stream).await)
        }
        Answer::Imaps | Answer::Https | Answer::Tls => {
            let mut tls = match ctx.accept_tls(stream).await {
                Ok(tls) => tls,
                Err(reason) => return format!("TLS handshake failed: {reason}"),
            };
            stage.set(Stage::Serving);
            let version = tls_version(&tls);
            let ekm = tls_ekm(&tls);
            let ekm = ekm.as_deref();
            match answer {
                Answer::Imaps => imap::implicit(ctx, &mut tls, peer, version, ekm).await,
                Answer::Https => http::serve(ctx, &mut tls, peer, port, version, ekm).await,
                _ => statement_line(ctx, &mut tls, peer, version, ekm, stage).await,
            }
        }
    }
}

/// The `tls` ports: with a token, an optional nonce line within [`e2e::NONCE_WAIT_MS`]; then the
/// statement on a line, then wait for the client to close.
async fn statement_line<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Ctx,
    tls: &mut S,
    peer: SocketAddr,
    version: &'static str,
    ekm: Option<&str>,
    stage: &StageCell,
) -> String {
    let mut lines = Lines::default();
    // Without a token there is no nonce to wait for: speak at once, so that a probe can stop
    // listening a few round trips after its handshake.
    let wait = if ctx.token.is_some() {
        Duration::from_millis(e2e::NONCE_WAIT_MS)
    } else {
        Duration::ZERO
    };
    let mut note = "";
    let nonce = match tokio::time::timeout(wait, lines.next(tls)).await {
        Err(_) => None,
        Ok(Ok(Some(line))) => {
            let nonce = e2e::parse_nonce_line(&line);
            if nonce.is_none() {
                note = " after ignoring a line that is not a nonce";
            }
            nonce
        }
        Ok(Ok(None)) => return format!("{version} up; the client closed before the statement"),
        Ok(Err(e)) => return format!("{version} up; {}", describe(&e)),
    };
    let statement = ctx.statement(peer, None, nonce, ekm);
    let line = format!("{}\r\n", statement.to_line());
    if let Err(e) = async {
        tls.write_all(line.as_bytes()).await?;
        tls.flush().await
    }
    .await
    {
        return format!("{version} up; {}", describe(&e));
    }
    let sent = format!(
        "statement sent {}{note}",
        statement_details(version, &statement)
    );
    stage.set(Stage::Answered);
    let end = wait_for_close(tls).await;
    finish(tls, LINGER).await;
    format!("{sent}; {end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_probe_kind_has_an_answer() {
        for (kind, want) in [
            (ProbeKind::ImapStarttls, Answer::ImapStarttls),
            (ProbeKind::Imaps, Answer::Imaps),
            (ProbeKind::Https, Answer::Https),
            (ProbeKind::Tls, Answer::Tls),
            (ProbeKind::Ldaps, Answer::Tls),
            (ProbeKind::Tcp, Answer::Accept),
        ] {
            assert_eq!(Answer::for_probe(kind), want, "{kind}");
        }
        assert!(Answer::note(ProbeKind::Tls).is_none());
        assert!(Answer::note(ProbeKind::Pop3s).is_some());
    }
}
