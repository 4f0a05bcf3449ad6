//! TLS failures in an admin's words: client certificates, legacy-only servers, SNI (an
//! oversized certificate chain is in `hostile.rs`). Real rustls servers where rustls can
//! play the part; canned alert records where it cannot (TLS 1.0-only servers).

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::fixtures::{self, Ca, Identity};
use crate::{check, row};

fn verdict(r: &mssp_check::report::Report, path: &str) -> &'static str {
    row(r, path).judgement.verdict.label()
}

fn reason(r: &mssp_check::report::Report, path: &str) -> String {
    row(r, path).judgement.reason.clone()
}

/// `--role ih --mgmt <closed> --ews ADDR`: the EWS path (443, an external server).
async fn ews(addr: &str) -> mssp_check::report::Report {
    let mgmt = fixtures::closed_port("127.0.0.1").to_string();
    check(&[
        "--role",
        "ih",
        "--mgmt",
        &mgmt,
        "--ews",
        addr,
        "--timeout",
        "2s",
    ])
    .await
}

/// A TLS server that demands a client certificate from `client_ca` and holds the session.
async fn mtls_server(id: Identity, tls12_only: bool) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_ca = Ca::new("Client CA", "Test");
    let mut roots = RootCertStore::empty();
    roots.add(client_ca.der.clone()).expect("root");
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("client verifier");
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain, id.key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut buf = [0u8; 256];
                    while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_server_that_demands_a_client_certificate_is_named_as_such() {
    for tls12_only in [false, true] {
        let srv = mtls_server(fixtures::self_signed(&["mail01"]), tls12_only).await;
        let r = ews(&srv.to_string()).await;
        let path = "multi-443-ih-any";
        assert_eq!(
            verdict(&r, path),
            "tls-failed",
            "TLS 1.2 only: {tls12_only}"
        );
        assert!(
            reason(&r, path).contains("requires a client certificate"),
            "{tls12_only}: {}",
            reason(&r, path)
        );
    }
}

#[tokio::test]
async fn an_internal_port_that_asks_for_a_client_certificate_is_open_with_a_warning() {
    // TLS 1.3: the handshake completes, the rejection comes as the first read (the old
    // handshake-only probe called this a plain ok).
    for tls12_only in [false, true] {
        let srv = mtls_server(fixtures::self_signed(&["mgmt01"]), tls12_only).await;
        let target = srv.to_string();
        let r = check(&["--role", "ih", "--mgmt", &target, "--timeout", "2s"]).await;
        let path = "multi-8471-ih-mgmt";
        assert_eq!(
            verdict(&r, path),
            "ok",
            "{tls12_only}: {:?}",
            row(&r, path).judgement
        );
        let j = &row(&r, path).judgement;
        assert_eq!(format!("{:?}", j.severity), "Warn", "{tls12_only}");
        assert!(
            j.findings
                .iter()
                .any(|f| f.kind.label() == "client-cert-required"),
            "{tls12_only}: {:?}",
            j.findings
        );
    }
}

#[tokio::test]
async fn tls_alerts_say_what_they_mean() {
    // What a TLS 1.0-only server, a server without a common cipher suite and a server that
    // needs SNI answer to a TLS 1.2/1.3 ClientHello (fatal alerts 70, 40, 112).
    for (alert, words) in [
        (
            b"\x15\x03\x03\x00\x02\x02\x46",
            "neither TLS 1.2 nor TLS 1.3",
        ),
        (b"\x15\x03\x03\x00\x02\x02\x28", "no cipher suite in common"),
        (b"\x15\x03\x03\x00\x02\x02\x70", "needs a host name (SNI)"),
    ] {
        let srv = fixtures::canned_server("127.0.0.1:0", alert).await;
        let r = ews(&srv.to_string()).await;
        let path = "multi-443-ih-any";
        assert_eq!(verdict(&r, path), "tls-failed", "{words}");
        assert!(
            reason(&r, path).contains(words),
            "{words}: {}",
            reason(&r, path)
        );
    }
}

#[tokio::test]
async fn a_certificate_that_does_not_fit_says_why_and_what_to_do() {
    let ca = Ca::new("Lab Public Root", "Lab");
    let dir = tempfile::tempdir().expect("tmp");
    let pem = ca
        .write(dir.path(), "ca.pem")
        .to_string_lossy()
        .into_owned();
    let mgmt = fixtures::closed_port("127.0.0.1").to_string();
    let path = "multi-443-ih-any";
    // A CN and no subjectAltName (what a fresh Samba DC makes), from a trusted CA.
    let cn_only = ca.leaf_with(&[], "dc01", |_| {});
    // Expired, for the right name.
    let expired = ca.leaf_with(&["127.0.0.1"], "127.0.0.1", |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    for (id, reason_has, hint_starts) in [
        (cn_only, "no subjectAltName", "reissue the certificate"),
        (expired, "expired", "renew the certificate"),
    ] {
        let srv = fixtures::tls_server("127.0.0.1:0", id, fixtures::Serve::Hold).await;
        let ews = srv.to_string();
        let args = [
            "--role",
            "ih",
            "--mgmt",
            &mgmt,
            "--ews",
            &ews,
            "--public-ca",
            &pem,
        ];
        let r = check(&[&args[..], &["--timeout", "1s"]].concat()).await;
        let j = &row(&r, path).judgement;
        assert_eq!(j.verdict.label(), "tls-failed", "{j:?}");
        assert!(j.reason.contains(reason_has), "{}", j.reason);
        let hint = j.hint.clone().unwrap_or_default();
        assert!(hint.starts_with(hint_starts), "{hint}");
    }
}

#[tokio::test]
async fn a_403_to_an_address_suggests_the_name() {
    // Apache with SSLStrictSNIVHostCheck answers 403 to a client that sent no host name.
    let srv = fixtures::tls_server(
        "127.0.0.1:0",
        fixtures::self_signed(&["mail01"]),
        fixtures::Serve::Answer(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
    )
    .await;
    let r = ews(&srv.to_string()).await;
    let j = &row(&r, "multi-443-ih-any").judgement;
    assert_eq!(j.verdict.label(), "protocol-error");
    assert!(
        j.hint.as_deref().unwrap_or("").contains("SNI"),
        "{:?}",
        j.hint
    );
}

/// An old server: it refuses rustls's offer with `alert` and answers a `ClientHello` that
/// offers `TLS_RSA_WITH_AES_128_CBC_SHA` with `version`, that suite and `cert`.
async fn old_server(alert: u8, version: u16, cert: Vec<u8>) -> SocketAddr {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let cert = cert.clone();
            tokio::spawn(async move {
                let mut hello = vec![0u8; 16 * 1024];
                let Ok(n) = s.read(&mut hello).await else {
                    return;
                };
                let hello = &hello[..n];
                // Suites start after record (5), handshake header (4), version (2),
                // random (32) and the session id.
                let sid = usize::from(hello.get(43).copied().unwrap_or(0));
                let at = 44 + sid;
                let len = hello
                    .get(at..at + 2)
                    .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
                let suites = hello.get(at + 2..at + 2 + len).unwrap_or_default();
                let legacy = suites.chunks(2).any(|c| c == [0x00, 0x2f]);
                let reply = if legacy {
                    flight(version, 0x002f, &cert)
                } else {
                    vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, alert]
                };
                let _ = s.write_all(&reply).await;
                let mut hold = [0u8; 64];
                let _ = s.read(&mut hold).await;
            });
        }
    });
    addr
}

/// `ServerHello` + `Certificate` + `ServerHelloDone` in one record.
fn flight(version: u16, suite: u16, cert: &[u8]) -> Vec<u8> {
    let u24 = |n: usize| u32::try_from(n).expect("len").to_be_bytes()[1..].to_vec();
    let mut hello = version.to_be_bytes().to_vec();
    hello.extend_from_slice(&[9u8; 32]);
    hello.push(0);
    hello.extend_from_slice(&suite.to_be_bytes());
    hello.push(0);
    let mut list = u24(cert.len());
    list.extend_from_slice(cert);
    let mut certs = u24(list.len());
    certs.extend_from_slice(&list);
    let mut hs = Vec::new();
    for (kind, body) in [(2u8, hello), (11, certs), (14, Vec::new())] {
        hs.push(kind);
        hs.extend_from_slice(&u24(body.len()));
        hs.extend_from_slice(&body);
    }
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16::try_from(hs.len()).expect("len").to_be_bytes());
    record.extend_from_slice(&hs);
    record
}

#[tokio::test]
async fn an_old_server_is_named_with_its_version_suite_and_certificate() {
    let id = fixtures::self_signed(&["mail01"]);
    let der = id.chain[0].to_vec();
    let path = "multi-443-ih-any";

    // TLS 1.0 only: a failure, named.
    let srv = old_server(70, 0x0301, der.clone()).await;
    let r = ews(&srv.to_string()).await;
    let j = &row(&r, path).judgement;
    assert_eq!(j.verdict.label(), "tls-failed", "{j:?}");
    assert!(
        j.reason
            .contains("only TLS 1.0 with TLS_RSA_WITH_AES_128_CBC_SHA"),
        "{}",
        j.reason
    );
    let chain = &row(&r, path)
        .obs
        .tls
        .as_ref()
        .expect("the chain was read")
        .chain;
    assert_eq!(chain.len(), 1);

    // TLS 1.2 with RSA key exchange: Windows takes it; a warning, and the certificate judged.
    let srv = old_server(40, 0x0303, der).await;
    let r = ews(&srv.to_string()).await;
    let j = &row(&r, path).judgement;
    assert_eq!(j.verdict.label(), "ok", "{j:?}");
    let kinds: Vec<_> = j.findings.iter().map(|f| f.kind.label()).collect();
    assert!(
        kinds.contains(&"legacy-tls") && kinds.contains(&"untrusted-chain"),
        "{kinds:?}"
    );
    assert!(
        j.reason
            .contains("legacy suite TLS_RSA_WITH_AES_128_CBC_SHA"),
        "{}",
        j.reason
    );

    // A product CA in the legacy chain is still interception.
    let fg = Ca::new("FortiGate CA", "Fortinet");
    let srv = old_server(40, 0x0303, fg.leaf(&["127.0.0.1"]).chain[0].to_vec()).await;
    let r = ews(&srv.to_string()).await;
    assert_eq!(row(&r, path).judgement.verdict.label(), "intercepted");
}
