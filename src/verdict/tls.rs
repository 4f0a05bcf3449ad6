//! TLS handshakes that failed: alerts in an admin's words, closed and reset handshakes,
//! and servers that speak only legacy TLS.

use rustls::AlertDescription;

use super::certificate::completed_tls;
use super::{intercept, Context, Finding, FindingKind, Hop, Triple, Verdict};
use crate::observation::{Canary, Observation, Outcome, TlsFailure};
use crate::sanitize::printable;

pub(super) fn tls_failure(f: &TlsFailure, hop: &Hop) -> Triple {
    let hp = format!("{}:{}", hop.host, hop.port);
    match f {
        TlsFailure::Alert {
            description,
            client_cert_requested,
        } => alert(*description, *client_cert_requested, hop),
        TlsFailure::NotTls { seen } if busy(seen).is_some() => busy_responder(seen, hop),
        TlsFailure::NotTls { seen } => {
            let what = crate::sanitize::looks_like(seen)
                .map(|k| format!(" (looks like {k})"))
                .unwrap_or_default();
            (
                Verdict::ProtocolError,
                format!("answered without TLS: \"{}\"{what}", crate::sanitize::printable_bytes(seen, 60)),
                Some(format!("another service, or a proxy, answers on {hp} instead of {}", hop.target_title)),
            )
        }
        TlsFailure::Closed { silent } => (
            Verdict::TlsFailed,
            if *silent {
                "the peer closed the connection during the TLS handshake: nothing at all came back"
            } else {
                "the peer closed the connection during the TLS handshake"
            }
            .to_string(),
            Some(format!("the service on {hp} or a TLS-inspecting firewall in between dropped the handshake: check its log and TLS settings")),
        ),
        TlsFailure::Reset { silent } => (
            Verdict::TlsFailed,
            if *silent {
                "the connection was reset during the TLS handshake: nothing at all came back"
            } else {
                "the connection was reset during the TLS handshake"
            }
            .to_string(),
            Some(format!("an IPS or TLS-inspecting firewall, or the service on {hp}, reset the handshake")),
        ),
        TlsFailure::TimedOut => (
            Verdict::NoService,
            if hop.tls_connections > 1 {
                format!(
                    "TCP accepted, but no TLS answer came in time, on {} connections",
                    hop.tls_connections
                )
            } else {
                "TCP accepted, but no TLS answer came in time".to_string()
            },
            Some(format!("something accepts connections on {hp} but does not speak TLS: a middlebox that accepts every port, or a hung service")),
        ),
        TlsFailure::Stalled => (
            Verdict::TlsFailed,
            if hop.tls_connections > 1 {
                format!(
                    "the TLS handshake stalled after the server's first answer, on {} connections",
                    hop.tls_connections
                )
            } else {
                "the TLS handshake stalled after the server's first answer".to_string()
            },
            Some(format!("the server on {hp} began its handshake and then sent nothing more: a path that loses large packets (an MTU problem on a VPN or PPPoE link: the certificate does not get through; try `ping -M do -s 1472`, on Windows `ping -f -l 1472`), or a TLS-inspecting middlebox that stalls")),
        ),
        TlsFailure::Other { detail } => (
            Verdict::TlsFailed,
            printable(detail, 160),
            Some(format!("check the TLS configuration of {hp}")),
        ),
    }
}

/// A TLS port that accepted and then closed or reset without sending a byte, when the
/// canary on the same host was accepted too: not the service refusing this tool's TLS, but
/// something on the way that takes every connection and drops it (DESIGN §5.6). Without the
/// canary's answer the failure stays a TLS failure (`tls_failure`).
pub(super) fn accepted_and_dropped(f: &TlsFailure, obs: &Observation, hop: &Hop) -> Option<Triple> {
    let how = dropped_silently(f)?;
    let Some(Canary::Accepted { port, .. }) = &obs.canary else {
        return None;
    };
    Some((
        Verdict::NoService,
        format!("TCP accepted, then {how} without a byte, and port {port}, where nothing should listen, accepted too"),
        Some(format!(
            "a firewall, SYN proxy or antivirus between this machine and {} accepts every port and drops the connection: the service on {}:{} was never reached; find the device (a traceroute to the port, the firewall's session log) and let the port through",
            hop.host_ip(), hop.host, hop.port
        )),
    ))
}

/// "closed" or "reset" when the handshake ended so before the peer sent a byte.
fn dropped_silently(f: &TlsFailure) -> Option<&'static str> {
    match f {
        TlsFailure::Closed { silent: true } => Some("closed"),
        TlsFailure::Reset { silent: true } => Some("reset"),
        _ => None,
    }
}

/// Whether a TLS port accepted and then closed or reset without sending a byte: the canary
/// is asked, to tell an accept-everything middlebox from a service that drops this tool.
#[must_use]
pub(super) fn silent_drop(obs: &Observation) -> bool {
    obs.tls.is_none() && matches!(&obs.outcome, Outcome::Tls(f) if dropped_silently(f).is_some())
}

/// The line `mssp-check listen` sends to a connection it turns away at its connection limit
/// (plain, or after `* BYE [UNAVAILABLE]` on the IMAP port), without the line end.
pub(super) fn busy(seen: &[u8]) -> Option<&[u8]> {
    let busy = crate::responder::BUSY.as_bytes();
    let line = seen.strip_prefix(b"* BYE [UNAVAILABLE] ").unwrap_or(seen);
    let line = line.split(|b| *b == b'\r' || *b == b'\n').next()?;
    line.starts_with(busy).then_some(line)
}

/// Our own responder was at its connection limit: the path is not blamed, the probe is to be
/// run again (issue 13).
pub(super) fn busy_responder(seen: &[u8], hop: &Hop) -> Triple {
    let line = busy(seen).unwrap_or(seen);
    (
        Verdict::NoService,
        format!(
            "the responder is busy: \"{}\"",
            crate::sanitize::printable_bytes(line, 120)
        ),
        Some(format!(
            "mssp-check listen on {}:{} turned this probe away at its connection limit: run the check again; if it keeps happening, something holds connections to it open (see its log), or raise its --max-connections",
            hop.host, hop.port
        )),
    )
}

/// A server that refused this tool's TLS and chose, on a second look, a version or suite
/// that rustls does not speak: named, its chain judged as usual.
pub(super) fn legacy_tls(
    obs: &Observation,
    ctx: &Context,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Triple {
    let hp = format!("{}:{}", hop.host, hop.port);
    let Some(facts) = &obs.tls else {
        return (Verdict::TlsFailed, "TLS failed".into(), None);
    };
    if let Some(t) = intercept::chain(obs, facts, ctx, hop, findings) {
        return t;
    }
    let version = facts.version_label().replace("TLSv", "TLS ");
    let what = format!("the server speaks only {version} with {}", facts.cipher);
    if facts.version != rustls::ProtocolVersion::TLSv1_2 {
        return (
            Verdict::TlsFailed,
            format!("{what}: TLS 1.0 and 1.1 are deprecated (RFC 8996)"),
            Some(format!(
                "enable TLS 1.2 or 1.3 on {hp}; current Windows versions (Server 2025, Windows 11) turn TLS 1.0/1.1 off, and MailStore then fails too"
            )),
        );
    }
    findings.push(Finding::warning(
        FindingKind::LegacyTls,
        format!("{what} (no forward secrecy, or no AEAD): Windows still accepts it; this tool checked the certificate, not the service behind TLS"),
    ));
    let (v, reason, hint) = completed_tls(obs, facts, hop, findings);
    (
        v,
        format!("{reason} — legacy suite {} only", facts.cipher),
        hint,
    )
}

/// A TLS alert from the server, in an admin's words: what it most likely means and the fix.
pub(super) fn alert(
    description: AlertDescription,
    client_cert_requested: bool,
    hop: &Hop,
) -> Triple {
    let hp = format!("{}:{}", hop.host, hop.port);
    let plain = format!("the server ended the TLS handshake with alert {description:?}");
    let rejects_client = matches!(
        description,
        AlertDescription::CertificateRequired
            | AlertDescription::HandshakeFailure
            | AlertDescription::BadCertificate
            | AlertDescription::AccessDenied
            | AlertDescription::UnknownCA
    );
    if client_cert_requested && rejects_client {
        let reason = format!(
            "the server requires a client certificate (it asked for one; this tool has none) — alert {description:?}"
        );
        // MailStore's own peers may present certificates to each other: the path is open.
        // The caller files this as the warning `client-cert-required`, whose hint is the next
        // step.
        if hop.internal {
            return (
                Verdict::Ok,
                format!("{reason}; the TLS handshake reached the service"),
                None,
            );
        }
        return (
            Verdict::TlsFailed,
            reason,
            Some(format!("{hp} accepts only clients with a certificate: MailStore does not present one, so allow it without (or check that this is the right server)")),
        );
    }
    let (reason, hint) = match description {
        AlertDescription::ProtocolVersion => (
            "the server supports neither TLS 1.2 nor TLS 1.3 (only TLS 1.0/1.1 or SSL, deprecated by RFC 8996)".to_string(),
            format!("enable TLS 1.2 or 1.3 on {hp}; current Windows versions turn TLS 1.0/1.1 off too"),
        ),
        AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => (
            format!("{plain}: no cipher suite in common — the server likely offers only RSA key exchange, DHE or CBC suites"),
            format!("enable ECDHE with AES-GCM (TLS 1.2) or TLS 1.3 on {hp}"),
        ),
        AlertDescription::UnrecognisedName if hop.by_address => (
            format!("{plain}: the server needs a host name (SNI), and an address sends none"),
            format!("give the server's DNS name instead of {}", hop.host),
        ),
        AlertDescription::UnrecognisedName => (
            format!("{plain}: the server has no certificate for the name {}", hop.host),
            format!("use the name {hp} is configured for, or add {} to its certificate and configuration", hop.host),
        ),
        _ => (
            plain,
            format!("check the TLS configuration of {hp} (versions, ciphers, client certificates)"),
        ),
    };
    (Verdict::TlsFailed, reason, Some(hint))
}
