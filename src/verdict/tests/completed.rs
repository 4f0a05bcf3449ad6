//! Probes that ran to their end: certificates by policy, pins, interception evidence,
//! STARTTLS, the HTTP answer, the dialogue's own failures, the canary and the end-to-end
//! proof.

use test_case::test_case;

use super::build::{
    cert, facts, head, imap, on, on_host, public_trusted, self_signed, untrusted, Case,
};
use super::check;
use crate::e2e::Statement;
use crate::observation::{CertProblem as P, E2eSeen, ProtocolEnd, TlsFacts, TlsFailure, Trust};
use crate::probe::starttls::{DialogueStep, Failure, Transcript};
use crate::verdict::{FindingKind as K, Severity as S, Verdict as V};

fn internal() -> Case {
    on("multi-8471-ih-mgmt")
}

fn licensing() -> Case {
    on("multi-443-mgmt-mailstore").http(head(200, "OK", &[]))
}

fn imaps() -> Case {
    on("multi-993-ih-any")
}

fn public_judged(public: Trust, os: Trust) -> TlsFacts {
    let mut f = public_trusted();
    f.public = public;
    f.os = os;
    f
}

/// `f` with certificate `i` of the chain expiring at `not_after` (the tests judge at
/// 2026-11-29 10:00 UTC).
fn expires(mut f: TlsFacts, i: usize, not_after: &str) -> TlsFacts {
    f.chain[i].not_after = not_after.into();
    f
}

fn without_san(mut f: TlsFacts) -> TlsFacts {
    f.chain[0].san.clear();
    f
}

fn issued_by(issuer: &str, os: Trust) -> TlsFacts {
    facts(
        vec![cert("CN=target.lab", issuer, 'e')],
        untrusted(P::UnknownIssuer),
        os,
    )
}

/// A leaf and its CA's own certificate: both name the same issuer.
fn issued_with_ca(issuer: &str) -> TlsFacts {
    facts(
        vec![
            cert("CN=target.lab", issuer, 'e'),
            cert(issuer, issuer, 'f'),
        ],
        untrusted(P::UnknownIssuer),
        untrusted(P::UnknownIssuer),
    )
}

fn cas143() -> Case {
    on("multi-143-client-cas")
}

fn archiving143() -> Case {
    on("multi-143-ih-any")
}

fn masked() -> Case {
    let mut t = imap("* OK ready", &["IMAP4rev1", "XXXXXXXX"], false);
    t.starttls_response = Some("a2 BAD XXXXXXXX unknown command".into());
    archiving143()
        .dialogue(t)
        .failure(Failure::StartTlsRefused {
            response: "a2 BAD XXXXXXXX unknown command".into(),
        })
}

fn injected() -> Case {
    let mut t = imap("* OK ready", &["IMAP4rev1", "STARTTLS"], true);
    t.injected_after_upgrade = 5;
    t.injected_preview = Some("hello".into());
    archiving143().tls(public_trusted()).dialogue(t)
}

fn ldap_refused() -> Case {
    on("multi-389-ih-any")
        .dialogue(Transcript::default())
        .failure(Failure::StartTlsRefused {
            response: "resultCode 2 (protocolError)".into(),
        })
}

fn p3scan() -> Case {
    let t = Transcript {
        greeting: Some("+OK P3Scan'ing 3.0 ready".into()),
        ..Transcript::default()
    };
    on("multi-995-ih-any").tls(public_trusted()).dialogue(t)
}

/// An IMAPS path whose greeting is `greeting`.
fn greets(greeting: &str) -> Case {
    let t = Transcript {
        greeting: Some(greeting.into()),
        ..Transcript::default()
    };
    on("multi-993-ih-any").tls(public_trusted()).dialogue(t)
}

fn ews() -> Case {
    on("multi-443-ih-any").tls(public_trusted())
}

/// A responder's statement that the certificate with fingerprint `sha` was served to
/// 198.18.0.1:5000.
fn statement(sha: char) -> Statement {
    Statement {
        cert_sha256: sha.to_string().repeat(64),
        peer: "198.18.0.1:5000".parse().expect("peer"),
        text_sha256: None,
        nonce: None,
        mac: None,
        tls_ekm: None,
    }
}

fn seen(statement: Statement) -> E2eSeen {
    E2eSeen {
        statement: Ok(statement),
        tail: None,
        nonce: None,
    }
}

/// The internal path to a responder whose self-signed certificate has fingerprint `a…`.
fn responder(st: Statement) -> Case {
    internal()
        .tls(self_signed())
        .e2e(seen(st))
        .local_addr("198.18.0.1:5000")
}

fn ekm_differs() -> Case {
    let mut st = statement('a');
    st.tls_ekm = Some("1".repeat(64));
    let mut c = responder(st);
    if let Some(t) = c.obs.tls.as_mut() {
        t.ekm = Some("2".repeat(64));
    }
    c
}

fn signed_with(token: &[u8]) -> Statement {
    let mut st = statement('a');
    st.sign(token);
    st
}

fn rewritten_banner() -> Case {
    let mut st = statement('a');
    st.text_sha256 = Some("c".repeat(64));
    imaps().tls(self_signed()).e2e(E2eSeen {
        statement: Ok(st),
        tail: Some("rewritten".into()),
        nonce: None,
    })
}

#[test_case(internal().tls(self_signed()), V::Ok, S::Pass, &[], None ; "internal self-signed")]
#[test_case(licensing().tls(public_trusted()), V::Ok, S::Pass, &[], None ; "public trusted")]
#[test_case(licensing().tls(public_judged(untrusted(P::UnknownIssuer), Trust::Trusted)), V::Intercepted, S::Fail, &[K::LocalRoot], Some("re-signs target.lab's certificate: exclude target.lab:443 from SSL/TLS inspection") ; "public with a local root")]
#[test_case(licensing().tls(public_judged(untrusted(P::UnknownIssuer), untrusted(P::NameMismatch))), V::Intercepted, S::Fail, &[K::LocalRoot], Some("exclude target.lab:443 from SSL/TLS inspection") ; "public with a local root and a wrong name")]
#[test_case(licensing().tls(public_judged(untrusted(P::UnknownIssuer), untrusted(P::UnknownIssuer))), V::TlsFailed, S::Fail, &[], Some("must present a publicly trusted certificate") ; "public untrusted")]
#[test_case(imaps().tls(public_judged(untrusted(P::UnknownIssuer), Trust::Trusted)), V::Ok, S::Pass, &[], None ; "external trusted by the os")]
#[test_case(imaps().tls(public_judged(untrusted(P::NameMismatch), untrusted(P::NameMismatch))), V::TlsFailed, S::Fail, &[], Some("use the name the certificate of target.lab was issued for (target.lab)") ; "external name mismatch")]
#[test_case(imaps().tls(without_san(public_judged(untrusted(P::NameMismatch), untrusted(P::NameMismatch)))), V::TlsFailed, S::Fail, &[], Some("reissue the certificate of target.lab with a subjectAltName") ; "external name mismatch without san")]
#[test_case(imaps().tls(public_judged(untrusted(P::Validity), untrusted(P::UnknownIssuer))), V::TlsFailed, S::Fail, &[], Some("renew the certificate of target.lab") ; "external expired")]
#[test_case(imaps().tls(self_signed()), V::Ok, S::Warn, &[K::UntrustedChain], Some("from a CA this machine trusts, or set MailStore to accept this one") ; "external self-signed")]
#[test_case(on("multi-993-client-cas").tls(self_signed()), V::Ok, S::Warn, &[K::UntrustedChain], Some("a CA that the users' machines trust") ; "external self-signed for users")]
#[test_case(imaps().tls(issued_by("CN=Corp Issuing CA", untrusted(P::UnknownIssuer))), V::Ok, S::Warn, &[K::UntrustedChain], Some("from a CA this machine trusts") ; "external private ca")]
#[test_case(internal().tls(self_signed()).pin(&format!("target.lab:8471={}", "a".repeat(40))), V::Ok, S::Pass, &[K::PinMatch], None ; "pin match")]
#[test_case(internal().tls(self_signed()).pin(&format!("target.lab:8471={}", "d".repeat(64))), V::Intercepted, S::Fail, &[K::PinMismatch], Some("update the pin if the certificate was replaced on purpose") ; "pin mismatch")]
#[test_case(internal().tls(issued_by("CN=FortiGate CA, O=Fortinet", untrusted(P::UnknownIssuer))), V::Intercepted, S::Fail, &[K::InterceptionCa], Some("exclude target.lab:8471 from SSL/TLS deep inspection on the FortiGate") ; "interception ca")]
#[test_case(internal().tls(issued_with_ca("CN=FortiGate CA, O=Fortinet")), V::Intercepted, S::Fail, &[K::InterceptionCa], Some("on the FortiGate") ; "interception ca once for leaf and ca")]
#[test_case(licensing().tls(issued_by("CN=FortiGate CA, O=Fortinet", Trust::Trusted)), V::Intercepted, S::Fail, &[K::InterceptionCa, K::LocalRoot], Some("on the FortiGate") ; "interception ca with its root installed")]
#[test_case(internal().tls(issued_by("CN=Corp Issuing CA", untrusted(P::UnknownIssuer))), V::Ok, S::Warn, &[K::Resigned], Some("pin its thumbprint (--pin target.lab:8471=SHA1)") ; "internal re-signed")]
#[test_case(cas143().dialogue(imap("* OK ready", &["IMAP4rev1"], false)), V::Intercepted, S::Fail, &[K::StarttlsMissing], Some("always offers STARTTLS: a mail proxy or antivirus mail shield in between removes it") ; "starttls missing on the cas")]
#[test_case(archiving143().dialogue(imap("* OK ready", &["IMAP4rev1"], false)), V::Ok, S::Warn, &[K::StarttlsMissing], Some("enable STARTTLS on target.lab:143 (or find what removes it on the way), or archive over 993 (IMAPS)") ; "starttls missing on an archiving path")]
#[test_case(archiving143().dialogue(imap("* OK ready", &["IMAP4rev1", "LOGINDISABLED"], false)), V::Ok, S::Warn, &[K::StarttlsMissing], Some("archive over 993 (IMAPS)") ; "logindisabled without starttls")]
#[test_case(archiving143().dialogue(imap("* OK ready", &["IMAP4rev1", "STARTTLS"], false)).failure(Failure::StartTlsRefused { response: "a2 NO not now".into() }), V::Ok, S::Warn, &[K::StarttlsMissing], Some("enable STARTTLS on target.lab:143") ; "starttls refused on an archiving path")]
#[test_case(ldap_refused(), V::Ok, S::Warn, &[K::StarttlsMissing], Some("archive over 636 (LDAPS)") ; "ldap starttls refused")]
#[test_case(masked(), V::Intercepted, S::Fail, &[K::StarttlsMasked], Some("turn that inspection off for target.lab:143") ; "starttls masked")]
#[test_case(cas143().tls(self_signed()).dialogue(imap("* OK ready", &["IMAP4rev1"], true)), V::Intercepted, S::Fail, &[K::UntrustedChain, K::StarttlsHidden], Some("edits the session — exclude target.lab:143 from mail scanning") ; "starttls hidden on the cas")]
#[test_case(archiving143().tls(public_trusted()).dialogue(imap("* OK ready", &["IMAP4rev1"], true)), V::Ok, S::Warn, &[K::StarttlsHidden], Some("ask target.lab's admin whether STARTTLS is hidden on purpose") ; "starttls hidden on an archiving path")]
#[test_case(injected(), V::Ok, S::Warn, &[K::StarttlsInjection], Some("sends data before TLS starts") ; "starttls injection")]
#[test_case(greets("* OK Kaspersky IMAP proxy ready"), V::Intercepted, S::Fail, &[K::BannerSignature], Some("Kaspersky") ; "greeting names a product")]
#[test_case(greets("* OK IMAP proxy ready"), V::Ok, S::Warn, &[K::BannerSignature], None ; "greeting says proxy")]
#[test_case(greets("* OK The Microsoft Exchange IMAP4 service is ready."), V::Ok, S::Pass, &[], None ; "exchange greeting is no clue")]
#[test_case(p3scan(), V::Intercepted, S::Fail, &[K::BannerSignature], Some("exempt this path from POP3 scanning") ; "banner signature")]
#[test_case(ews().http(head(401, "Unauthorized", &[("WWW-Authenticate", "Negotiate")])), V::Ok, S::Pass, &[], None ; "ews challenge")]
#[test_case(ews().http(head(302, "Found", &[("Location", "https://portal.lab/")])), V::ProtocolError, S::Fail, &[], Some("no proxy or login portal answers in its place") ; "ews redirect")]
#[test_case(on_host("multi-443-ih-any", "198.18.0.2").tls(public_trusted()).http(head(403, "Forbidden", &[])), V::ProtocolError, S::Fail, &[], Some("a server that needs a host name (SNI) answers 403 to an address") ; "ews 403 by address")]
#[test_case(ews().http(head(401, "Unauthorized", &[("WWW-Authenticate", "NTLM"), ("X-BlueCoat-Via", "abc")])), V::Ok, S::Warn, &[K::ProxyHeader], Some("an HTTP proxy handles the connection to target.lab:443") ; "proxy header")]
#[test_case(ews().http(head(403, "Forbidden", &[("Server", "Zscaler/6.2")])), V::Intercepted, S::Fail, &[K::ProxyHeader], Some("Zscaler answered instead of target.lab:443") ; "proxy product header")]
#[test_case(archiving143().ended(ProtocolEnd::TimedOut { step: DialogueStep::Greeting, overall: false }), V::NoService, S::Fail, &[], Some("does not speak IMAP") ; "silent at the greeting")]
#[test_case(archiving143().dialogue(imap("* OK ready", &[], false)).ended(ProtocolEnd::TimedOut { step: DialogueStep::Capability, overall: false }), V::ProtocolError, S::Fail, &[], Some("stops answering mid-dialogue: check its log") ; "greeted then stalled")]
#[test_case(imaps().tls(public_trusted()).dialogue(imap("* OK ready", &[], false)).ended(ProtocolEnd::TimedOut { step: DialogueStep::Logout, overall: false }), V::Ok, S::Pass, &[], None ; "slow logout is fine")]
#[test_case(on("multi-110-ih-any").failure(Failure::Closed { during: DialogueStep::Greeting }), V::NoService, S::Fail, &[], Some("accepts and closes at once") ; "closed at the greeting")]
#[test_case(on("multi-110-ih-any").failure(Failure::Closed { during: DialogueStep::Capability }), V::ProtocolError, S::Fail, &[], Some("ends the POP3 dialogue early") ; "closed mid-dialogue")]
#[test_case(archiving143().failure(Failure::NotProtocol { expected: "an IMAP greeting", seen: "SSH-2.0-OpenSSH_9.2".into(), looks_like: Some("ssh") }), V::ProtocolError, S::Fail, &[], Some("answers on target.lab:143 instead of the customer's server IMAP") ; "another protocol")]
#[test_case(internal().tls_failed(TlsFailure::TimedOut).canary_open(b""), V::NoService, S::Fail, &[K::CanaryOpen], Some("does not speak TLS") ; "canary open on a silent path")]
#[test_case(internal().tls_failed(TlsFailure::Closed { silent: true }).canary_open(b""), V::NoService, S::Fail, &[K::CanaryOpen], Some("accepts every port and drops the connection") ; "closed without a byte, canary open")]
#[test_case(internal().tls_failed(TlsFailure::Reset { silent: true }).canary_open(b""), V::NoService, S::Fail, &[K::CanaryOpen], Some("the service on target.lab:8471 was never reached") ; "reset without a byte, canary open")]
#[test_case(internal().tls_failed(TlsFailure::Closed { silent: true }), V::TlsFailed, S::Fail, &[], Some("dropped the handshake") ; "closed without a byte, canary closed")]
#[test_case(internal().tls_failed(TlsFailure::Closed { silent: false }).canary_open(b""), V::TlsFailed, S::Fail, &[K::CanaryOpen], Some("dropped the handshake") ; "closed after bytes is the service")]
#[test_case(internal().tls(self_signed()).canary_open(b"SSH-2.0"), V::Ok, S::Warn, &[K::CanaryOpen], Some("a middlebox answers every port on the way to target.lab") ; "canary open on a path that works")]
#[test_case(responder(statement('a')), V::Ok, S::Pass, &[K::E2eVerified], None ; "e2e verified")]
#[test_case(responder(statement('a')).local_addr("198.18.0.9:5000"), V::Ok, S::Warn, &[K::Nat, K::E2eVerified], Some("a NAT on the way to target.lab:8471 is fine") ; "e2e through nat")]
#[test_case(responder(statement('b')), V::Intercepted, S::Fail, &[K::E2eMismatch], Some("terminates the session: exclude target.lab:8471 from SSL/TLS inspection") ; "e2e certificate mismatch")]
#[test_case(ekm_differs(), V::Intercepted, S::Fail, &[K::E2eMismatch], Some("terminates the session") ; "e2e session mismatch")]
#[test_case(responder(statement('a')).token(b"secret"), V::Ok, S::Warn, &[K::E2eUnproven], None ; "e2e unsigned with a token")]
#[test_case(responder(signed_with(b"other")).token(b"secret"), V::Ok, S::Warn, &[K::E2eUnproven], None ; "e2e signed with another token")]
#[test_case(responder(signed_with(b"secret")).token(b"secret"), V::Ok, S::Pass, &[K::E2eVerified], None ; "e2e signed")]
#[test_case(internal().tls(self_signed()).e2e(E2eSeen { statement: Err("no fields".into()), tail: None, nonce: None }), V::Ok, S::Warn, &[K::E2eUnreadable], None ; "e2e unreadable")]
#[test_case(internal().tls(expires(self_signed(), 0, "2026-12-09T10:00:00Z")), V::Ok, S::Warn, &[K::CertExpiring], Some("re-pin its new thumbprint") ; "internal leaf 10 days from expiry")]
#[test_case(licensing().tls(expires(public_trusted(), 1, "2026-12-20T00:00:00Z")), V::Ok, S::Warn, &[K::CertExpiring], Some("renew the certificate of") ; "intermediate within the window")]
#[test_case(internal().tls(expires(self_signed(), 0, "2027-01-05T00:00:00Z")), V::Ok, S::Pass, &[], None ; "outside the window")]
#[test_case(internal().tls(expires(self_signed(), 0, "2026-11-26T10:00:00Z")), V::Ok, S::Warn, &[K::CertExpired], Some("renew") ; "internal leaf expired")]
#[test_case(rewritten_banner(), V::Intercepted, S::Fail, &[K::BannerRewritten, K::UntrustedChain], Some("exclude target.lab:993 from mail scanning") ; "e2e banner rewritten")]
fn row(case: Case, verdict: V, severity: S, kinds: &[K], hint: Option<&str>) {
    check(case, verdict, severity, kinds, hint);
}
