//! The responder and the probe together: every port kind verified end to end, and a
//! TLS-terminating relay between them caught with certainty.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mssp_check::config::{Profiles, Role};
use mssp_check::responder::{self, ListenConfig};
use tokio_util::sync::CancellationToken;

use crate::fixtures::Ca;
use crate::{check, row};

/// Each responder of this process starts its search for a free offset elsewhere: tests run
/// in parallel, and two that found the same offset would race for its ports.
static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Starts a responder for `role` on 127.0.0.1 at a free offset; returns the offset.
async fn responder(role: Role, token: Option<&str>, cancel: &CancellationToken) -> u16 {
    responder_with(role, token, None, cancel).await
}

/// As [`responder`], serving the certificate and key in these PEM files.
async fn responder_with(
    role: Role,
    token: Option<&str>,
    identity: Option<(std::path::PathBuf, std::path::PathBuf)>,
    cancel: &CancellationToken,
) -> u16 {
    responder_tuned(role, cancel, |cfg| {
        cfg.token = token.map(|t| t.as_bytes().to_vec());
        cfg.identity = identity;
    })
    .await
}

/// Starts a responder for `role` with its configuration changed by `tune`; returns the offset.
pub async fn responder_tuned(
    role: Role,
    cancel: &CancellationToken,
    tune: impl FnOnce(&mut ListenConfig),
) -> u16 {
    let profiles = Profiles::embedded().expect("profiles");
    let ports: Vec<u16> = profiles
        .all()
        .iter()
        .filter(|p| p.target.label() == role.label() && p.mode.label() == "multi")
        .map(|p| p.port)
        .collect();
    let skip = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let offset = (20_000u16..=56_000)
        .step_by(997)
        .cycle()
        .skip(skip % 37)
        .take(37)
        .find(|o| {
            ports
                .iter()
                .all(|p| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, p + o)).is_ok())
        })
        .expect("a free offset");
    let mut cfg = ListenConfig::new(role, profiles);
    cfg.bind = Ipv4Addr::LOCALHOST.into();
    cfg.port_offset = offset;
    cfg.duration = Duration::from_secs(60);
    tune(&mut cfg);
    let c = cancel.clone();
    tokio::spawn(async move {
        let mut sink = std::io::sink();
        let _ = responder::run(&cfg, c, &mut sink).await;
    });
    for p in &ports {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, p + offset))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    offset
}

fn kinds(r: &mssp_check::report::Report, path: &str) -> Vec<&'static str> {
    row(r, path)
        .judgement
        .findings
        .iter()
        .map(|f| f.kind.label())
        .collect()
}

#[tokio::test]
async fn every_port_kind_is_verified_end_to_end() {
    let cancel = CancellationToken::new();
    let cas = responder(Role::Cas, Some("s3cret"), &cancel)
        .await
        .to_string();
    let r = check(&[
        "--role",
        "client",
        "--cas",
        "127.0.0.1",
        "--port-offset",
        &cas,
        "--token",
        "s3cret",
    ])
    .await;
    for path in [
        "multi-143-client-cas",
        "multi-443-client-cas",
        "multi-993-client-cas",
    ] {
        let j = &row(&r, path).judgement;
        assert_eq!(j.verdict.label(), "ok", "{path}: {j:?}");
        assert!(kinds(&r, path).contains(&"e2e-verified"), "{path}: {j:?}");
        assert!(
            j.reason.ends_with("end-to-end verified"),
            "{path}: {}",
            j.reason
        );
        assert!(
            !kinds(&r, path).contains(&"nat"),
            "{path}: loopback has no NAT"
        );
    }
    // The richest report there is (TLS, STARTTLS, HTTP, greetings, statements) matches the schema.
    let mut json = Vec::new();
    mssp_check::report::render(&r, mssp_check::report::Style::Json, &mut json).expect("render");
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("json");
    crate::profiles::assert_schema("schemas/report-1.schema.json", &doc);
    assert!(
        doc["results"][0]["e2e"]["statement"].is_string(),
        "{}",
        doc["results"][0]
    );
    // On 143 the proof comes from inside TLS, where a middlebox cannot rewrite it.
    let notice = row(&r, "multi-143-client-cas")
        .obs
        .dialogue
        .as_ref()
        .and_then(|d| d.notice_tls.clone());
    assert!(notice.is_some_and(|n| n.contains(mssp_check::e2e::MAGIC)));
    let mgmt = responder(Role::Mgmt, None, &cancel).await.to_string();
    let r = check(&[
        "--role",
        "ih",
        "--mgmt",
        "127.0.0.1",
        "--port-offset",
        &mgmt,
    ])
    .await;
    for path in ["multi-8470-ih-mgmt", "multi-8471-ih-mgmt"] {
        assert!(
            kinds(&r, path).contains(&"e2e-verified"),
            "{path}: {:?}",
            row(&r, path).judgement
        );
    }
    cancel.cancel();
}

#[tokio::test]
async fn a_wrong_token_is_not_proof() {
    let cancel = CancellationToken::new();
    let ih = responder(Role::Ih, Some("right"), &cancel).await;
    let target = format!("127.0.0.1:{}", 8472 + ih);
    let r = check(&[
        "--role",
        "mgmt",
        "--ih",
        &target,
        "--mailstore-host",
        "127.0.0.1:1",
        "--token",
        "wrong",
    ])
    .await;
    // The same certificate arrived: a token typed wrong is not interception, and not proof.
    let j = &row(&r, "multi-8472-mgmt-ih").judgement;
    assert_eq!(j.verdict.label(), "ok", "{j:?}");
    assert_eq!(format!("{:?}", j.severity), "Warn");
    let k = kinds(&r, "multi-8472-mgmt-ih");
    assert!(
        k.contains(&"e2e-unproven") && !k.contains(&"e2e-verified"),
        "{k:?}"
    );

    // A responder without a token, a probe with one: the same.
    let plain = responder(Role::Ih, None, &cancel).await;
    let target = format!("127.0.0.1:{}", 8472 + plain);
    let r = check(&[
        "--role",
        "mgmt",
        "--ih",
        &target,
        "--mailstore-host",
        "127.0.0.1:1",
        "--token",
        "x",
    ])
    .await;
    assert_eq!(
        row(&r, "multi-8472-mgmt-ih").judgement.verdict.label(),
        "ok"
    );
    assert!(kinds(&r, "multi-8472-mgmt-ih").contains(&"e2e-unproven"));
    cancel.cancel();
}

/// A relay that ends TLS with exactly the responder's certificate and key (SSL offload, a
/// WAF) and opens a new session to it.
async fn same_key_relay(upstream: SocketAddr, id: crate::fixtures::Identity) -> SocketAddr {
    relay_with(upstream, crate::fixtures::acceptor(id)).await
}

#[tokio::test]
async fn a_relay_with_the_servers_own_key_is_caught_by_the_session() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["ih01".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let (cert_pem, key_pem) = (dir.path().join("ih.pem"), dir.path().join("ih.key"));
    std::fs::write(&cert_pem, cert.pem()).expect("write");
    std::fs::write(&key_pem, key.serialize_pem()).expect("write");
    let id = crate::fixtures::Identity {
        chain: vec![cert.der().clone()],
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    };
    let cancel = CancellationToken::new();
    let ih = responder_with(Role::Ih, None, Some((cert_pem, key_pem)), &cancel).await;
    let relay = same_key_relay(SocketAddr::from((Ipv4Addr::LOCALHOST, 8472 + ih)), id).await;
    let r = check(&[
        "--role",
        "mgmt",
        "--ih",
        &relay.to_string(),
        "--mailstore-host",
        "127.0.0.1:1",
    ])
    .await;
    let j = &row(&r, "multi-8472-mgmt-ih").judgement;
    assert_eq!(j.verdict.label(), "intercepted", "{j:?}");
    assert!(j.reason.contains("re-terminated"), "{}", j.reason);
    cancel.cancel();
}

/// A TLS-terminating relay with its own CA, as TLS inspection does.
async fn relay(upstream: SocketAddr) -> SocketAddr {
    let ca = Ca::new("Corporate Inspection CA", "Example Corp");
    let id = ca.leaf(&["127.0.0.1"]);
    relay_with(upstream, crate::fixtures::acceptor(id)).await
}

/// Accepts TLS with `acceptor`, opens a new TLS session to `upstream`, and copies between.
async fn relay_with(upstream: SocketAddr, acceptor: tokio_rustls::TlsAcceptor) -> SocketAddr {
    let tls = Arc::new(mssp_check::probe::tls::TlsContext::new(&[]).expect("tls"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tls) = (acceptor.clone(), Arc::clone(&tls));
            let name = rustls::pki_types::ServerName::IpAddress(upstream.ip().into());
            tokio::spawn(crate::fixtures::terminate_and_forward(
                tcp, acceptor, upstream, name, tls,
            ));
        }
    });
    addr
}

#[tokio::test]
async fn a_relay_in_between_is_caught() {
    let cancel = CancellationToken::new();
    let ih = responder(Role::Ih, None, &cancel).await;
    let relay = relay(SocketAddr::from((Ipv4Addr::LOCALHOST, 8472 + ih))).await;
    let r = check(&[
        "--role",
        "mgmt",
        "--ih",
        &relay.to_string(),
        "--mailstore-host",
        "127.0.0.1:1",
    ])
    .await;
    let j = &row(&r, "multi-8472-mgmt-ih").judgement;
    assert_eq!(j.verdict.label(), "intercepted", "{j:?}");
    let f = j
        .findings
        .iter()
        .find(|f| f.kind.label() == "e2e-mismatch")
        .expect("e2e-mismatch");
    assert!(f.detail.contains("Corporate Inspection CA"), "{}", f.detail);
    cancel.cancel();
}
