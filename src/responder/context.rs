//! What every responder connection shares: the TLS acceptor, the served certificate and the
//! token ([`Ctx`]), the time limits, the server side of the TLS handshake with its failures
//! in words, and the statement with its details for the log.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rustls::AlertDescription;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::e2e::{self, Statement};
use crate::sanitize::{looks_like, printable};

use super::stream::{describe, Guarded, Limit};

/// Every read times out after this much silence.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection has this long to finish its TLS handshake (on the IMAP port, with the
/// plain-text part before STARTTLS): a real probe needs milliseconds to a few round trips,
/// a connection held open to take a slot gets no more.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// No connection lasts longer.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// After our last answer, how long we wait for the client to close first.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// A TLS connection the responder serves.
pub(crate) type Tls = TlsStream<Guarded<TcpStream>>;

/// What every connection of one run shares.
pub(crate) struct Ctx {
    pub acceptor: TlsAcceptor,
    /// SHA-256 of the served leaf certificate.
    pub cert_sha256: String,
    pub token: Option<Vec<u8>>,
    pub max_bytes: usize,
}

impl Ctx {
    /// The statement for `peer`, signed when a token is configured.
    pub(crate) fn statement(
        &self,
        peer: SocketAddr,
        text: Option<&str>,
        nonce: Option<String>,
        tls_ekm: Option<&str>,
    ) -> Statement {
        let mut s = Statement {
            cert_sha256: self.cert_sha256.clone(),
            peer,
            text_sha256: text.map(|t| e2e::sha256_hex(t.as_bytes())),
            nonce,
            mac: None,
            tls_ekm: tls_ekm.map(str::to_string),
        };
        if let Some(token) = &self.token {
            s.sign(token);
        }
        s
    }

    /// The server side of a TLS handshake; on failure, why, in words.
    pub(crate) async fn accept_tls(&self, stream: Guarded<TcpStream>) -> Result<Tls, String> {
        match self.acceptor.accept(stream).into_fallible().await {
            Ok(tls) => Ok(tls),
            Err((e, stream)) => Err(handshake_failure(&e, stream.first_bytes())),
        }
    }
}

/// The keying material the session exports for the statement (see [`Statement::tls_ekm`]).
pub(crate) fn tls_ekm(tls: &Tls) -> Option<String> {
    let mut out = [0u8; e2e::EKM_LEN];
    let conn = tls.get_ref().1;
    conn.export_keying_material(&mut out, e2e::EKM_LABEL, None)
        .ok()
        .map(|b| crate::hex::encode(b))
}

/// `TLS 1.3` / `TLS 1.2` of an established connection.
pub(crate) fn tls_version(tls: &Tls) -> &'static str {
    match tls.get_ref().1.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "TLS",
    }
}

/// `" (TLS 1.3, nonce, signed)"`-style details of a statement sent.
pub(crate) fn statement_details(version: &str, s: &Statement) -> String {
    let mut d = format!("({version}");
    if s.nonce.is_some() {
        d.push_str(", nonce echoed");
    }
    if s.mac.is_some() {
        d.push_str(", signed");
    }
    d.push(')');
    d
}

/// Why a TLS handshake failed, in words an admin can act on.
fn handshake_failure(e: &io::Error, first: &[u8]) -> String {
    if let Some(limit) = Limit::of(e) {
        return limit.to_string();
    }
    if first.is_empty() {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => "the client closed before sending anything".into(),
            _ => describe(e),
        };
    }
    if first[0] != 0x16 {
        let methods: [&[u8]; 6] = [
            b"GET ",
            b"POST ",
            b"HEAD ",
            b"PUT ",
            b"OPTIONS ",
            b"CONNECT ",
        ];
        let like = if methods.iter().any(|m| first.starts_with(m)) {
            Some("plain HTTP")
        } else {
            looks_like(first)
        };
        let like = like.map_or(String::new(), |l| format!(" (looks like {l})"));
        return format!(
            "the client did not start TLS; it sent \"{}\"{like}",
            printable(&String::from_utf8_lossy(first), 48)
        );
    }
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(alert)) => match alert {
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::AccessDenied => format!(
                "the client rejected the responder's certificate (alert {alert:?}); expected \
                 unless it was told to accept a self-signed one (mssp-check does; curl needs -k)"
            ),
            other => format!("the client aborted the handshake (alert {other:?})"),
        },
        Some(rustls::Error::PeerIncompatible(p)) => {
            format!("no TLS version or cipher suite in common ({p:?})")
        }
        Some(other) => other.to_string(),
        None => describe(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_failures_read_well() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            handshake_failure(&eof, b""),
            "the client closed before sending anything"
        );
        let bad = io::Error::new(io::ErrorKind::InvalidData, "corrupt");
        assert_eq!(
            handshake_failure(&bad, b"GET / HTTP/1.1\r\nHost: x\r\n"),
            "the client did not start TLS; it sent \"GET / HTTP/1.1\\x0d\\x0aHost: x\\x0d\\x0a\" (looks like plain HTTP)"
        );
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::UnknownCA),
        );
        let text = handshake_failure(&alert, &[0x16, 3, 1]);
        assert!(
            text.contains("rejected the responder's certificate (alert UnknownCA)"),
            "{text}"
        );
        let limit = io::Error::new(io::ErrorKind::TimedOut, Limit::Idle(READ_TIMEOUT));
        assert_eq!(
            handshake_failure(&limit, &[0x16]),
            "nothing received for 10 s"
        );
    }
}
