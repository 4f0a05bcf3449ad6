//! The application protocols of every path kind, against small real servers on loopback
//! (the hostile peers are in `hostile.rs`).

use crate::fixtures::{self, self_signed, Serve};
use crate::servers::{self, StartTls};
use crate::{check, row};

fn v(r: &mssp_check::report::Report, path: &str) -> &'static str {
    row(r, path).judgement.verdict.label()
}

fn kinds(r: &mssp_check::report::Report, path: &str) -> Vec<&'static str> {
    row(r, path)
        .judgement
        .findings
        .iter()
        .map(|f| f.kind.label())
        .collect()
}

/// `--role ih --mgmt <closed port> …` so only the archiving paths are of interest.
async fn ih(extra: &[&str]) -> mssp_check::report::Report {
    let mgmt = fixtures::closed_port("127.0.0.1").to_string();
    let mut args = vec!["--role", "ih", "--mgmt", &mgmt, "--timeout", "1s"];
    args.extend_from_slice(extra);
    check(&args).await
}

#[tokio::test]
async fn imap_starttls_and_imaps_ok() {
    let plain = servers::imap(self_signed(&["mail01"]), StartTls::Offer).await;
    let r = ih(&["--imap", &plain.to_string()]).await;
    let row143 = row(&r, "multi-143-ih-any");
    assert_eq!(v(&r, "multi-143-ih-any"), "ok", "{:?}", row143.judgement);
    let d = row143.obs.dialogue.as_ref().expect("transcript");
    assert!(d.upgraded);
    assert!(d.capabilities.iter().any(|c| c == "STARTTLS"));
    assert!(!d.capabilities_tls.iter().any(|c| c == "STARTTLS"));
    assert!(
        row143.obs.tls.is_some(),
        "the STARTTLS handshake is recorded"
    );
    assert!(
        row143.judgement.reason.starts_with("STARTTLS → TLS 1.3"),
        "{}",
        row143.judgement.reason
    );
    // Self-signed on a customer's server: ok, with a warning.
    assert!(kinds(&r, "multi-143-ih-any").contains(&"untrusted-chain"));

    let implicit = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["mail01"]),
        Serve::Greet(b"* OK IMAPS ready\r\n"),
    )
    .await;
    let r = ih(&["--imap", &implicit.to_string()]).await;
    assert_eq!(v(&r, "multi-993-ih-any"), "ok");
    assert_eq!(
        row(&r, "multi-993-ih-any")
            .obs
            .dialogue
            .as_ref()
            .and_then(|d| d.greeting.clone())
            .as_deref(),
        Some("* OK IMAPS ready")
    );
}

#[tokio::test]
async fn missing_starttls_is_a_warning_where_optional_and_interception_where_required() {
    let stripped = servers::imap(self_signed(&["x"]), StartTls::Missing).await;
    let r = ih(&["--imap", &stripped.to_string()]).await;
    assert_eq!(v(&r, "multi-143-ih-any"), "ok");
    assert!(kinds(&r, "multi-143-ih-any").contains(&"starttls-missing"));
    assert_eq!(
        format!("{:?}", row(&r, "multi-143-ih-any").judgement.severity),
        "Warn"
    );
    let hint = row(&r, "multi-143-ih-any")
        .judgement
        .hint
        .clone()
        .unwrap_or_default();
    assert!(
        hint.starts_with("enable STARTTLS on "),
        "a warning has a next step too: {hint}"
    );

    let r = check(&[
        "--role",
        "client",
        "--cas",
        &stripped.to_string(),
        "--timeout",
        "1s",
    ])
    .await;
    assert_eq!(v(&r, "multi-143-client-cas"), "intercepted");
    assert!(kinds(&r, "multi-143-client-cas").contains(&"starttls-missing"));
    assert!(row(&r, "multi-143-client-cas")
        .judgement
        .reason
        .contains("capabilities: IMAP4REV1"));
}

/// A client on a CAS (STARTTLS required) and an IH archiving (optional) against `addr`.
async fn both_policies(addr: &str) -> (mssp_check::report::Report, mssp_check::report::Report) {
    let ih = ih(&["--imap", addr]).await;
    let client = check(&["--role", "client", "--cas", addr, "--timeout", "1s"]).await;
    (ih, client)
}

#[tokio::test]
async fn starttls_that_works_unlisted_means_an_edited_list() {
    let hidden = servers::imap(self_signed(&["x"]), StartTls::Hidden).await;
    let (r, client) = both_policies(&hidden.to_string()).await;
    // Optional: the session is encrypted; the odd list is a warning.
    assert_eq!(v(&r, "multi-143-ih-any"), "ok");
    assert!(kinds(&r, "multi-143-ih-any").contains(&"starttls-hidden"));
    assert!(!kinds(&r, "multi-143-ih-any").contains(&"starttls-missing"));
    let d = row(&r, "multi-143-ih-any").obs.dialogue.clone().expect("t");
    assert_eq!((d.starttls_offered, d.upgraded), (Some(false), true));
    // Required: MailStore's IMAP always lists it, so the list was edited on the way.
    assert_eq!(v(&client, "multi-143-client-cas"), "intercepted");
    assert!(kinds(&client, "multi-143-client-cas").contains(&"starttls-hidden"));

    // A server that has no STARTTLS and says so is not interception where it is optional.
    let missing = servers::imap(self_signed(&["x"]), StartTls::Missing).await;
    let r = ih(&["--imap", &missing.to_string()]).await;
    assert_eq!(v(&r, "multi-143-ih-any"), "ok");
    let d = row(&r, "multi-143-ih-any").obs.dialogue.clone().expect("t");
    assert_eq!(
        d.starttls_response.as_deref(),
        Some("a2 BAD Unknown command")
    );
    assert!(!kinds(&r, "multi-143-ih-any").contains(&"starttls-hidden"));
}

#[tokio::test]
async fn logindisabled_without_starttls_says_archiving_cannot_log_in() {
    let srv = servers::imap(self_signed(&["x"]), StartTls::StrippedLoginDisabled).await;
    let r = ih(&["--imap", &srv.to_string()]).await;
    let j = &row(&r, "multi-143-ih-any").judgement;
    let f = j
        .findings
        .iter()
        .find(|f| f.kind.label() == "starttls-missing")
        .expect("starttls-missing");
    assert!(f.detail.contains("cannot log in"), "{}", f.detail);
    assert!(!f.detail.contains("unencrypted"), "{}", f.detail);
    assert!(
        j.hint.as_deref().unwrap_or("").contains("993 (IMAPS)"),
        "{:?}",
        j.hint
    );
}

#[tokio::test]
async fn a_masked_starttls_is_interception_on_every_path() {
    let imap = servers::imap(self_signed(&["x"]), StartTls::Masked).await;
    let (r, client) = both_policies(&imap.to_string()).await;
    for (report, path) in [(&r, "multi-143-ih-any"), (&client, "multi-143-client-cas")] {
        assert_eq!(
            v(report, path),
            "intercepted",
            "{path}: {:?}",
            row(report, path).judgement
        );
        assert!(kinds(report, path).contains(&"starttls-masked"), "{path}");
        assert!(
            row(report, path).judgement.reason.contains("XXXXXXXX"),
            "{path}"
        );
    }

    let pop3 = servers::pop3(self_signed(&["x"]), StartTls::Masked, "+OK ready").await;
    let r = ih(&["--pop3", &pop3.to_string()]).await;
    assert_eq!(v(&r, "multi-110-ih-any"), "intercepted");
    assert!(kinds(&r, "multi-110-ih-any").contains(&"starttls-masked"));

    // POP3: STLS works though CAPA did not list it.
    let hidden = servers::pop3(self_signed(&["x"]), StartTls::Hidden, "+OK ready").await;
    let r = ih(&["--pop3", &hidden.to_string()]).await;
    assert_eq!(v(&r, "multi-110-ih-any"), "ok");
    assert!(kinds(&r, "multi-110-ih-any").contains(&"starttls-hidden"));
}

#[tokio::test]
async fn refused_starttls_is_recorded() {
    let refusing = servers::imap(self_signed(&["x"]), StartTls::Refuse).await;
    let r = check(&[
        "--role",
        "client",
        "--cas",
        &refusing.to_string(),
        "--timeout",
        "1s",
    ])
    .await;
    assert_eq!(v(&r, "multi-143-client-cas"), "intercepted");
    assert!(row(&r, "multi-143-client-cas")
        .judgement
        .reason
        .contains("STARTTLS not available now"));
}

#[tokio::test]
async fn pop3_stls_and_pop3s() {
    let plain = servers::pop3(self_signed(&["x"]), StartTls::Offer, "+OK test POP3 ready").await;
    let r = ih(&["--pop3", &plain.to_string()]).await;
    assert_eq!(
        v(&r, "multi-110-ih-any"),
        "ok",
        "{:?}",
        row(&r, "multi-110-ih-any").judgement
    );
    assert!(
        row(&r, "multi-110-ih-any")
            .obs
            .dialogue
            .as_ref()
            .expect("t")
            .upgraded
    );

    let refusing = servers::pop3(self_signed(&["x"]), StartTls::Refuse, "+OK ready").await;
    let r = ih(&["--pop3", &refusing.to_string()]).await;
    assert_eq!(v(&r, "multi-110-ih-any"), "ok");
    assert!(kinds(&r, "multi-110-ih-any").contains(&"starttls-missing"));

    let implicit = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["x"]),
        Serve::Greet(b"+OK POP3S ready\r\n"),
    )
    .await;
    let r = ih(&["--pop3", &implicit.to_string()]).await;
    assert_eq!(v(&r, "multi-995-ih-any"), "ok");
}

#[tokio::test]
async fn ldap_starttls_and_ldaps() {
    let plain = servers::ldap(self_signed(&["dc01"]), StartTls::Offer, false).await;
    let r = ih(&["--ldap", &plain.to_string()]).await;
    assert_eq!(
        v(&r, "multi-389-ih-any"),
        "ok",
        "{:?}",
        row(&r, "multi-389-ih-any").judgement
    );
    assert!(
        row(&r, "multi-389-ih-any")
            .obs
            .dialogue
            .as_ref()
            .expect("t")
            .upgraded
    );

    let refusing = servers::ldap(self_signed(&["dc01"]), StartTls::Refuse, false).await;
    let r = ih(&["--ldap", &refusing.to_string()]).await;
    assert_eq!(v(&r, "multi-389-ih-any"), "ok");
    assert!(kinds(&r, "multi-389-ih-any").contains(&"starttls-missing"));
    assert!(row(&r, "multi-389-ih-any")
        .judgement
        .findings
        .iter()
        .any(|f| f.detail.contains("unavailable")));
    // Said once, in LDAP's terms (StartTLS is not listed before it is asked for).
    let missing: Vec<_> = row(&r, "multi-389-ih-any")
        .judgement
        .findings
        .iter()
        .filter(|f| f.kind.label() == "starttls-missing")
        .collect();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        missing[0].detail.contains("does not support StartTLS"),
        "{}",
        missing[0].detail
    );
    assert_eq!(
        row(&r, "multi-389-ih-any").judgement.reason,
        "LDAP answered, without StartTLS"
    );

    let implicit = servers::ldap(self_signed(&["dc01"]), StartTls::Offer, true).await;
    let r = ih(&["--ldap", &implicit.to_string()]).await;
    assert_eq!(
        v(&r, "multi-636-ih-any"),
        "ok",
        "{:?}",
        row(&r, "multi-636-ih-any").judgement
    );
    let caps = &row(&r, "multi-636-ih-any")
        .obs
        .dialogue
        .as_ref()
        .expect("t")
        .capabilities;
    assert!(
        caps.iter().any(|c| c == "supportedLDAPVersion=3"),
        "{caps:?}"
    );
}

const EWS_401: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nServer: Microsoft-IIS/10.0\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n";
const PORTAL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<html>login</html>\r\n";
const PROXY_403: &[u8] =
    b"HTTP/1.1 403 Forbidden\r\nVia: 1.1 proxy.corp (squid/5.7)\r\nContent-Length: 0\r\n\r\n";

#[tokio::test]
async fn ews_expects_an_authentication_challenge() {
    let ews = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["ews01"]),
        Serve::Answer(EWS_401),
    )
    .await;
    let r = ih(&["--ews", &ews.to_string()]).await;
    assert_eq!(v(&r, "multi-443-ih-any"), "ok");
    let reason = &row(&r, "multi-443-ih-any").judgement.reason;
    assert!(
        reason.contains("401 Negotiate, NTLM (Microsoft-IIS/10.0)"),
        "{reason}"
    );

    let portal = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["ews01"]),
        Serve::Answer(PORTAL),
    )
    .await;
    let r = ih(&["--ews", &portal.to_string()]).await;
    assert_eq!(v(&r, "multi-443-ih-any"), "protocol-error");
    assert!(row(&r, "multi-443-ih-any")
        .judgement
        .reason
        .contains("got 200 OK (text/html)"));

    let proxy = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["ews01"]),
        Serve::Answer(PROXY_403),
    )
    .await;
    let r = ih(&["--ews", &proxy.to_string()]).await;
    assert_eq!(v(&r, "multi-443-ih-any"), "protocol-error");
    assert!(kinds(&r, "multi-443-ih-any").contains(&"proxy-header"));
}

#[tokio::test]
async fn wrong_protocol_silence_and_instant_close() {
    let http = fixtures::canned_server("127.0.0.1:0", b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    let silent = fixtures::silent_server("127.0.0.1:0").await;
    let closer = fixtures::canned_server("127.0.0.1:0", b"").await;
    let r = ih(&[
        "--imap",
        &http.to_string(),
        "--pop3",
        &silent.to_string(),
        "--ldap",
        &closer.to_string(),
        "--timeout",
        "500ms",
    ])
    .await;
    assert_eq!(v(&r, "multi-143-ih-any"), "protocol-error");
    assert!(
        row(&r, "multi-143-ih-any")
            .judgement
            .reason
            .contains("looks like http"),
        "{}",
        row(&r, "multi-143-ih-any").judgement.reason
    );
    assert_eq!(v(&r, "multi-110-ih-any"), "no-service");
    assert_eq!(
        v(&r, "multi-389-ih-any"),
        "no-service",
        "{:?}",
        row(&r, "multi-389-ih-any").judgement
    );
    // TLS bytes on a plaintext port are another protocol too (DESIGN §4: protocol-error, not
    // no-service, because something answered): the TLS server answers the StartTLS request
    // with an alert record, which the LDAP machine names.
    let tls = fixtures::tls_server("127.0.0.1:0", self_signed(&["x"]), Serve::Hold).await;
    let r = ih(&["--ldap", &tls.to_string(), "--timeout", "500ms"]).await;
    let j = &row(&r, "multi-389-ih-any").judgement;
    assert_eq!(j.verdict.label(), "protocol-error", "{j:?}");
    assert!(
        j.reason.starts_with("expected ldap, got \"\\x15\\x03"),
        "{}",
        j.reason
    );
    assert!(j.reason.ends_with("(looks like tls)"), "{}", j.reason);
    assert!(
        j.hint
            .as_deref()
            .is_some_and(|h| h.contains("instead of the customer's server LDAP")),
        "{:?}",
        j.hint
    );
}
