//! rustls's errors in an admin's words: a failed handshake as a [`TlsFailure`], an alert
//! after the handshake, and a certificate that did not verify as a [`CertProblem`] and a
//! sentence.

use std::io;

use rustls::pki_types::ServerName;
use rustls::CertificateError;

use crate::observation::{CertProblem, TlsFailure};

/// The kind of a verification error.
#[must_use]
pub fn problem_of(e: &rustls::Error) -> CertProblem {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertProblem::NameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => CertProblem::Validity,
            CertificateError::Revoked => CertProblem::Revoked,
            _ => CertProblem::Other,
        },
        _ => CertProblem::Other,
    }
}

/// A verification error in an admin's words.
#[must_use]
pub fn describe_cert_error(e: &rustls::Error, name: &ServerName<'_>) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "issued by an unknown CA".into(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the certificate is not valid for {}", name.to_str())
            }
            CertificateError::Revoked => "the certificate is revoked".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the certificate is not for TLS servers".into()
            }
            CertificateError::BadEncoding => "the certificate is malformed".into(),
            other => in_words(&rustls::Error::InvalidCertificate(other.clone())),
        },
        other => in_words(other),
    }
}

/// A rustls or webpki error that rustls prints as a Rust name
/// (`Other(OtherError(CaUsedAsEndEntity))`) in an admin's words; anything else keeps rustls's
/// own text.
#[must_use]
pub fn in_words(e: &rustls::Error) -> String {
    let words = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::BadSignature => Some("a signature in the chain does not verify, or uses what current TLS clients refuse (SHA-1, an RSA key under 2048 bits)"),
            // rustls still makes the deprecated variant from webpki's deprecated ones.
            #[allow(deprecated)]
            CertificateError::UnsupportedSignatureAlgorithm
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => Some("the certificate is signed with an algorithm current TLS clients refuse (SHA-1, MD5, or an RSA key under 2048 bits)"),
            CertificateError::UnknownIssuer => Some("issued by an unknown CA"),
            // webpki's own errors, which rustls passes on unmapped.
            CertificateError::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
                Some(webpki::Error::CaUsedAsEndEntity) => Some("the server's certificate is a CA certificate (basicConstraints CA:TRUE, as `openssl req -x509` makes by default), used as a server certificate"),
                Some(webpki::Error::UnsupportedCertVersion) => Some("the certificate is X.509 version 1 (no extensions, no subjectAltName); TLS clients need version 3"),
                Some(webpki::Error::EndEntityUsedAsCa) => Some("a server certificate is used as the CA of another one"),
                Some(webpki::Error::PathLenConstraintViolated) => Some("the chain breaks a CA's path length constraint"),
                _ => None,
            },
            _ => None,
        },
        rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::TooManyWarningAlertsReceived) => {
            Some("the server sent one TLS warning alert after another instead of its handshake")
        }
        rustls::Error::PeerMisbehaved(m) => {
            return format!("the server broke the TLS protocol ({m:?})");
        }
        _ => None,
    };
    words.map_or_else(|| e.to_string(), str::to_string)
}

/// A TLS alert inside an I/O error after the handshake: a TLS 1.3 server that wants a client
/// certificate says so only once the client has finished.
#[must_use]
pub fn alert_after_handshake(e: &io::Error, client_cert_requested: bool) -> Option<TlsFailure> {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => Some(TlsFailure::Alert {
            description: *a,
            client_cert_requested,
        }),
        _ => None,
    }
}

/// Whether `seen` starts like a server's flight: a handshake record no larger than TLS allows
/// (2^14 bytes and 2,048 of expansion) that opens with a `ServerHello`. A chain too long
/// for this client comes after such a start; a message length of nonsense does not.
fn begins_a_flight(seen: &[u8]) -> bool {
    match seen {
        [0x16, 0x03, _, hi, lo, 0x02, ..] => usize::from(*hi) << 8 | usize::from(*lo) <= 0x4800,
        _ => false,
    }
}

/// Why a handshake failed; `seen` is what the server sent first, `heard` how many bytes it
/// sent in all, `requested` whether it had asked for a client certificate.
pub(super) fn classify_handshake_error(
    e: &io::Error,
    seen: Option<&[u8]>,
    heard: usize,
    requested: bool,
) -> TlsFailure {
    let seen = seen.unwrap_or_default();
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::AlertReceived(a) => TlsFailure::Alert {
                description: *a,
                client_cert_requested: requested,
            },
            // TLS records (handshake type 22, version 3.x) that we could not take: say why,
            // and do not call it "not TLS".
            rustls::Error::InvalidMessage(m) if seen.starts_with(&[0x16, 0x03]) => {
                TlsFailure::Other {
                    detail: match m {
                        rustls::InvalidMessage::CertificatePayloadTooLarge
                        | rustls::InvalidMessage::HandshakePayloadTooLarge
                        | rustls::InvalidMessage::MessageTooLarge
                            if !begins_a_flight(seen) => format!("the server's TLS handshake is malformed: it announces a message larger than 64 KiB in a record that is no ServerHello, after {heard} bytes"),
                        rustls::InvalidMessage::CertificatePayloadTooLarge
                        | rustls::InvalidMessage::HandshakePayloadTooLarge
                        | rustls::InvalidMessage::MessageTooLarge => "the server's TLS handshake is larger than 64 KiB, the most this client (like most TLS clients) accepts: a very long certificate chain?".into(),
                        other => format!("the server's TLS handshake is malformed ({other:?})"),
                    },
                }
            }
            rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. } => TlsFailure::NotTls {
                seen: seen.to_vec(),
            },
            other => TlsFailure::Other {
                detail: in_words(other),
            },
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => TlsFailure::Closed {
            silent: seen.is_empty(),
        },
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => TlsFailure::Reset {
            silent: seen.is_empty(),
        },
        io::ErrorKind::TimedOut => TlsFailure::TimedOut,
        _ => TlsFailure::Other {
            detail: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_message_length_of_nonsense_is_not_a_long_chain() {
        let too_large = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge),
            )
        };
        let words = |seen: &[u8]| match classify_handshake_error(
            &too_large(),
            Some(seen),
            seen.len(),
            false,
        ) {
            TlsFailure::Other { detail } => detail,
            other => panic!("{other:?}"),
        };
        // A ServerHello in a record of 16 KiB: the chain after it is too long.
        assert!(words(b"\x16\x03\x03\x40\x00\x02\x00\x00\x46")
            .contains("a very long certificate chain"));
        // No ServerHello, or a record larger than TLS allows: malformed.
        assert!(words(b"\x16\x03\x03\x00\x08\xff\xff\xff\xff").contains("malformed"));
        assert!(words(b"\x16\x03\x03\xff\xff\x02\x00\x00").contains("malformed"));
        let misbehaved = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::TooManyWarningAlertsReceived),
        );
        assert!(matches!(
            classify_handshake_error(&misbehaved, None, 0, false),
            TlsFailure::Other { detail } if detail.contains("one TLS warning alert after another")
        ));
    }

    #[test]
    fn webpki_names_are_put_in_words() {
        let webpki = |e: webpki::Error| {
            in_words(&rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(e)),
            )))
        };
        let words = webpki(webpki::Error::CaUsedAsEndEntity);
        assert!(
            words.starts_with("the server's certificate is a CA certificate"),
            "{words}"
        );
        assert!(webpki(webpki::Error::UnsupportedCertVersion).contains("X.509 version 1"));
        let bad = in_words(&rustls::Error::InvalidCertificate(
            CertificateError::BadSignature,
        ));
        assert!(
            bad.starts_with("a signature in the chain does not verify"),
            "{bad}"
        );
        let plain = rustls::Error::General("something new".into());
        assert_eq!(
            in_words(&plain),
            plain.to_string(),
            "unknown errors keep rustls's text"
        );
    }
}
