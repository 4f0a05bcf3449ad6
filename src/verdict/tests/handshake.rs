//! TLS handshakes that failed: each cause, each alert branch, and the legacy look.

use rustls::{AlertDescription as A, ProtocolVersion};
use test_case::test_case;

use super::build::{imap, on, on_host, self_signed, Case};
use super::check;
use crate::observation::{ProtocolEnd, TlsFailure as T};
use crate::verdict::{FindingKind as K, Severity as S, Verdict as V};

fn internal() -> Case {
    on("multi-8471-ih-mgmt")
}

fn imaps() -> Case {
    on("multi-993-ih-any")
}

fn alert(description: A, client_cert_requested: bool) -> T {
    T::Alert {
        description,
        client_cert_requested,
    }
}

/// The archiving 143 after the STARTTLS go-ahead, when the upgrade failed with `f`.
fn after_starttls(f: T) -> Case {
    on("multi-143-ih-any")
        .dialogue(imap("* OK ready", &["IMAP4rev1", "STARTTLS"], false))
        .ended(ProtocolEnd::Tls(f))
}

/// The legacy look's facts: a self-signed chain with `version` and an RSA-CBC suite.
fn legacy(case: Case, version: ProtocolVersion, refused: A) -> Case {
    let mut facts = self_signed();
    facts.version = version;
    facts.cipher = "TLS_RSA_WITH_AES_128_CBC_SHA".into();
    case.tls(facts).tls_failed(alert(refused, false))
}

#[test_case(internal().tls_failed(T::NotTls { seen: b"HTTP/1.1 400 Bad Request".to_vec() }), V::ProtocolError, S::Fail, &[], Some("another service, or a proxy, answers on target.lab:8471 instead of the Management Server") ; "not tls")]
#[test_case(internal().tls_failed(T::NotTls { seen: b"MSSP-CHECK-BUSY 64 connections in flight (mssp-check listen --max-connections); try again\r\n".to_vec() }), V::NoService, S::Fail, &[], Some("turned this probe away at its connection limit: run the check again") ; "busy responder")]
#[test_case(internal().tls_failed(T::Closed { silent: false }), V::TlsFailed, S::Fail, &[], Some("dropped the handshake") ; "closed")]
#[test_case(internal().tls_failed(T::Stalled), V::TlsFailed, S::Fail, &[], Some("an MTU problem") ; "stalled after the first answer")]
#[test_case(internal().tls_failed(T::Reset { silent: false }), V::TlsFailed, S::Fail, &[], Some("reset the handshake") ; "reset")]
#[test_case(internal().tls_failed(T::TimedOut), V::NoService, S::Fail, &[], Some("does not speak TLS: a middlebox that accepts every port") ; "tls timeout")]
#[test_case(internal().tls_failed(T::Other { detail: "peer misbehaved".into() }), V::TlsFailed, S::Fail, &[], Some("check the TLS configuration of target.lab:8471") ; "tls other")]
#[test_case(internal().tls_failed(alert(A::HandshakeFailure, true)), V::Ok, S::Warn, &[K::ClientCertRequired], Some("nothing to do if target.lab:8471 is MailStore's own service") ; "client cert asked on an internal port")]
#[test_case(imaps().tls_failed(alert(A::CertificateRequired, true)), V::TlsFailed, S::Fail, &[], Some("accepts only clients with a certificate") ; "client cert asked on an external port")]
#[test_case(imaps().tls_failed(alert(A::ProtocolVersion, true)), V::TlsFailed, S::Fail, &[], Some("enable TLS 1.2 or 1.3 on target.lab:993") ; "client cert asked but version refused")]
#[test_case(imaps().tls_failed(alert(A::ProtocolVersion, false)), V::TlsFailed, S::Fail, &[], Some("enable TLS 1.2 or 1.3 on target.lab:993; current Windows versions") ; "alert protocol version")]
#[test_case(imaps().tls_failed(alert(A::HandshakeFailure, false)), V::TlsFailed, S::Fail, &[], Some("enable ECDHE with AES-GCM (TLS 1.2) or TLS 1.3 on target.lab:993") ; "alert handshake failure")]
#[test_case(imaps().tls_failed(alert(A::InsufficientSecurity, false)), V::TlsFailed, S::Fail, &[], Some("enable ECDHE with AES-GCM") ; "alert insufficient security")]
#[test_case(imaps().tls_failed(alert(A::UnrecognisedName, false)), V::TlsFailed, S::Fail, &[], Some("use the name target.lab:993 is configured for, or add target.lab to its certificate") ; "unrecognised name by name")]
#[test_case(on_host("multi-993-ih-any", "198.18.0.2").tls_failed(alert(A::UnrecognisedName, false)), V::TlsFailed, S::Fail, &[], Some("give the server's DNS name instead of 198.18.0.2") ; "unrecognised name by address")]
#[test_case(imaps().tls_failed(alert(A::InternalError, false)), V::TlsFailed, S::Fail, &[], Some("(versions, ciphers, client certificates)") ; "another alert")]
#[test_case(after_starttls(alert(A::HandshakeFailure, false)), V::TlsFailed, S::Fail, &[], Some("enable ECDHE with AES-GCM (TLS 1.2) or TLS 1.3 on target.lab:143") ; "alert after starttls")]
#[test_case(after_starttls(T::NotTls { seen: b"a3 BAD".to_vec() }), V::ProtocolError, S::Fail, &[], Some("agreed to STARTTLS, then answered in plain text") ; "plain text after starttls")]
#[test_case(legacy(imaps(), ProtocolVersion::TLSv1_0, A::ProtocolVersion), V::TlsFailed, S::Fail, &[], Some("current Windows versions (Server 2025, Windows 11) turn TLS 1.0/1.1 off") ; "legacy tls 1.0")]
#[test_case(legacy(imaps(), ProtocolVersion::TLSv1_2, A::HandshakeFailure), V::Ok, S::Warn, &[K::LegacyTls, K::UntrustedChain], Some("enable ECDHE with AES-GCM (TLS 1.2) or TLS 1.3 on target.lab:993: the suites it has now are deprecated") ; "legacy tls 1.2")]
fn row(case: Case, verdict: V, severity: S, kinds: &[K], hint: Option<&str>) {
    check(case, verdict, severity, kinds, hint);
}

#[test]
fn alerts_are_named_by_their_rustls_names() {
    let j = crate::verdict::classify(
        &imaps().tls_failed(alert(A::HandshakeFailure, false)).obs,
        &super::build::ctx(),
    );
    assert_eq!(
        j.reason,
        "the server ended the TLS handshake with alert HandshakeFailure: no cipher suite in common — the server likely offers only RSA key exchange, DHE or CBC suites"
    );
}

/// Silence after connecting says on how many connections it was heard.
#[test]
fn silence_names_its_connections() {
    use crate::observation::TlsFailure;
    let case = on("multi-8471-ih-mgmt")
        .tls_failed(TlsFailure::TimedOut)
        .tls_connections(2);
    let j = crate::verdict::classify(&case.obs, &case.ctx);
    assert_eq!(j.verdict, V::NoService);
    assert!(j.reason.ends_with("on 2 connections"), "{}", j.reason);
    let case = on("multi-8471-ih-mgmt")
        .tls_failed(TlsFailure::TimedOut)
        .stalls(2);
    let j = crate::verdict::classify(&case.obs, &case.ctx);
    assert!(
        j.reason.ends_with("(twice, on two connections)"),
        "{}",
        j.reason
    );
}
