//! Interception evidence, in-process: product CAs, pins, re-signed internal certificates,
//! mail-proxy greetings, proxy headers and accept-all middleboxes.

use crate::fixtures::{self, self_signed, Ca, Serve, HTTP_OK};
use crate::{check, check_with, row};

fn kinds(r: &mssp_check::report::Report, path: &str) -> Vec<&'static str> {
    row(r, path)
        .judgement
        .findings
        .iter()
        .map(|f| f.kind.label())
        .collect()
}

#[tokio::test]
async fn a_product_ca_on_an_internal_port_is_intercepted() {
    for (cn, org) in [
        ("FortiGate CA", "Fortinet"),
        ("mitmproxy", "mitmproxy"),
        ("DO_NOT_TRUST_FiddlerRoot", "DO_NOT_TRUST"),
    ] {
        let ca = Ca::new(cn, org);
        let mgmt =
            fixtures::tls_server("127.0.0.1:0", ca.leaf(&["mgmt01"]), Serve::Answer(HTTP_OK)).await;
        let r = check(&["--role", "ih", "--mgmt", &mgmt.to_string()]).await;
        let j = &row(&r, "multi-8471-ih-mgmt").judgement;
        assert_eq!(j.verdict.label(), "intercepted", "{cn}: {j:?}");
        assert!(
            kinds(&r, "multi-8471-ih-mgmt").contains(&"interception-ca"),
            "{cn}"
        );
        assert!(j.reason.contains(cn), "{cn}: {}", j.reason);
        assert!(
            j.hint
                .as_deref()
                .unwrap_or("")
                .contains(&format!("{}", mgmt.port())),
            "{cn}: advice names the port: {:?}",
            j.hint
        );
    }
}

#[tokio::test]
async fn an_unknown_ca_on_an_internal_port_is_a_resigned_warning_not_interception() {
    let ca = Ca::new("Contoso Issuing CA 2", "Contoso");
    let mgmt =
        fixtures::tls_server("127.0.0.1:0", ca.leaf(&["mgmt01"]), Serve::Answer(HTTP_OK)).await;
    let r = check(&["--role", "ih", "--mgmt", &mgmt.to_string()]).await;
    let j = &row(&r, "multi-8471-ih-mgmt").judgement;
    assert_eq!(j.verdict.label(), "ok", "{j:?}");
    assert!(kinds(&r, "multi-8471-ih-mgmt").contains(&"resigned"));
    assert_eq!(format!("{:?}", j.severity), "Warn");
}

#[tokio::test]
async fn pins_settle_it_both_ways() {
    let id = self_signed(&["mgmt01"]);
    let sha1 = {
        use std::fmt::Write;
        let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &id.chain[0]);
        d.as_ref().iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02X}:");
            s
        })
    };
    let mgmt = fixtures::tls_server("127.0.0.1:0", id, Serve::Answer(HTTP_OK)).await;
    let pin = format!("{mgmt}={}", sha1.trim_end_matches(':'));
    let r = check(&["--role", "ih", "--mgmt", &mgmt.to_string(), "--pin", &pin]).await;
    assert_eq!(
        row(&r, "multi-8471-ih-mgmt").judgement.verdict.label(),
        "ok"
    );
    assert!(kinds(&r, "multi-8471-ih-mgmt").contains(&"pin-match"));

    let wrong = format!("{mgmt}={}", "ab".repeat(32));
    let r = check(&["--role", "ih", "--mgmt", &mgmt.to_string(), "--pin", &wrong]).await;
    let j = &row(&r, "multi-8471-ih-mgmt").judgement;
    assert_eq!(j.verdict.label(), "intercepted");
    let f = j
        .findings
        .iter()
        .find(|f| f.kind.label() == "pin-mismatch")
        .expect("pin-mismatch");
    assert!(
        f.detail.contains(&"ab".repeat(32)),
        "both fingerprints: {}",
        f.detail
    );
}

/// The Instance Host's run against `path` as its Management Server, the canary on `canary`.
async fn with_canary(path: std::net::SocketAddr, canary: u16) -> mssp_check::report::Report {
    let (path, canary) = (path.to_string(), canary.to_string());
    check(&[
        "--role",
        "ih",
        "--mgmt",
        &path,
        "--timeout",
        "400ms",
        "--canary-port",
        &canary,
    ])
    .await
}

#[tokio::test]
async fn an_accept_all_middlebox_shows_on_the_canary() {
    let path = fixtures::silent_server("127.0.0.1:0").await;
    let canary = fixtures::silent_server("127.0.0.1:0").await;
    let r = with_canary(path, canary.port()).await;
    assert_eq!(
        row(&r, "multi-8471-ih-mgmt").judgement.verdict.label(),
        "no-service"
    );
    assert!(kinds(&r, "multi-8471-ih-mgmt").contains(&"canary-open"));

    // An ordinary host: the canary port is closed, no finding.
    let closed = fixtures::closed_port("127.0.0.1");
    let r = with_canary(path, closed.port()).await;
    assert!(!kinds(&r, "multi-8471-ih-mgmt").contains(&"canary-open"));
}

/// Accepts every connection, reads what comes for a moment, and drops it without a byte:
/// closed (FIN) or, with `reset`, reset (`SO_LINGER` 0) — an accept-everything middlebox.
async fn dropper(reset: bool) -> std::net::SocketAddr {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                if reset {
                    let _ = s.set_zero_linger();
                    return;
                }
                let mut buf = [0u8; 4096];
                let _ =
                    tokio::time::timeout(std::time::Duration::from_millis(100), s.read(&mut buf))
                        .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_tls_port_that_drops_without_a_byte_asks_the_canary() {
    for reset in [false, true] {
        let how = if reset { "reset" } else { "closed" };
        let path = dropper(reset).await;
        // The middlebox takes the canary port too: the path is not the service's TLS.
        let canary = dropper(reset).await;
        let r = with_canary(path, canary.port()).await;
        let j = &row(&r, "multi-8471-ih-mgmt").judgement;
        assert_eq!(j.verdict.label(), "no-service", "{how}: {j:?}");
        assert!(
            j.reason.contains(&format!("then {how} without a byte")),
            "{how}: {}",
            j.reason
        );
        assert!(kinds(&r, "multi-8471-ih-mgmt").contains(&"canary-open"));

        // Nothing on the canary port: the host itself drops this tool's TLS.
        let closed = fixtures::closed_port("127.0.0.1");
        let r = with_canary(path, closed.port()).await;
        let j = &row(&r, "multi-8471-ih-mgmt").judgement;
        assert_eq!(j.verdict.label(), "tls-failed", "{how}: {j:?}");
        assert!(
            j.reason.ends_with("nothing at all came back"),
            "{how}: {}",
            j.reason
        );
        assert!(!kinds(&r, "multi-8471-ih-mgmt").contains(&"canary-open"));
    }
}

const VIA_OK: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nVia: 1.1 bluecoat\r\nContent-Length: 0\r\n\r\n";

#[tokio::test]
async fn a_via_header_is_a_proxy_finding() {
    let ews = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["ews01"]),
        Serve::Answer(VIA_OK),
    )
    .await;
    let mgmt = fixtures::closed_port("127.0.0.1").to_string();
    let r = check(&["--role", "ih", "--mgmt", &mgmt, "--ews", &ews.to_string()]).await;
    assert!(
        kinds(&r, "multi-443-ih-any").contains(&"proxy-header"),
        "{:?}",
        row(&r, "multi-443-ih-any").judgement
    );
}

#[tokio::test]
async fn a_mail_proxy_greeting_is_intercepted() {
    let p3scan = fixtures::canned_server("127.0.0.1:0", b"+OK P3Scan'ing...\r\n").await;
    let mgmt = fixtures::closed_port("127.0.0.1").to_string();
    let r = check(&[
        "--role",
        "ih",
        "--mgmt",
        &mgmt,
        "--pop3",
        &p3scan.to_string(),
        "--timeout",
        "500ms",
    ])
    .await;
    let j = &row(&r, "multi-110-ih-any").judgement;
    assert_eq!(j.verdict.label(), "intercepted", "{j:?}");
    assert!(kinds(&r, "multi-110-ih-any").contains(&"banner-signature"));
}

#[tokio::test]
async fn clean_paths_have_no_interception_findings() {
    let mgmt = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["mgmt01"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let r = check(&["--role", "ih", "--mgmt", &mgmt.to_string(), "--canary"]).await;
    for row in &r.rows {
        assert_ne!(
            row.judgement.verdict.label(),
            "intercepted",
            "{:?}",
            row.judgement
        );
        for f in &row.judgement.findings {
            assert!(
                !matches!(
                    f.kind.label(),
                    "interception-ca" | "canary-open" | "resigned" | "pin-mismatch"
                ),
                "{f:?}"
            );
        }
    }
}

#[tokio::test]
async fn my_mailstore_is_checked_directly_and_through_the_proxy() {
    let ca = Ca::new("Lab Public Root", "Lab");
    let ms =
        fixtures::tls_server("127.0.0.1:0", ca.leaf(&["ms.test"]), Serve::Answer(HTTP_OK)).await;
    let dns = fixtures::dns_server(vec![(
        "ms.test",
        fixtures::Answer::Addrs(vec!["127.0.0.1".parse().expect("ip")]),
    )])
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let pem = ca
        .write(dir.path(), "public.pem")
        .to_string_lossy()
        .into_owned();
    let target = format!("ms.test:{}", ms.port());
    let d = dns.to_string();
    for (allow, via_proxy) in [(true, "ok"), (false, "refused")] {
        let proxy = format!("http://{}", fixtures::connect_proxy(allow).await);
        let r = check(&[
            "--role",
            "server",
            "--mailstore-host",
            &target,
            "--dns-server",
            &d,
            "--public-ca",
            &pem,
            "--proxy",
            &proxy,
        ])
        .await;
        let rows: Vec<_> = r
            .rows
            .iter()
            .filter(|row| row.obs.path.id == "single-443-server-mailstore")
            .collect();
        assert_eq!(rows.len(), 2, "direct and through the proxy");
        let direct = rows
            .iter()
            .find(|row| row.obs.via_proxy.is_none())
            .expect("direct");
        let tunnelled = rows
            .iter()
            .find(|row| row.obs.via_proxy.is_some())
            .expect("via proxy");
        assert_eq!(direct.judgement.verdict.label(), "ok");
        assert_eq!(
            tunnelled.judgement.verdict.label(),
            via_proxy,
            "{:?}",
            tunnelled.judgement
        );
        assert_eq!(tunnelled.obs.port, ms.port());
        if !allow {
            assert!(
                tunnelled.judgement.reason.contains("403"),
                "{}",
                tunnelled.judgement.reason
            );
        }
        assert!(r.meta.notes.iter().any(|n| n.contains("through it")));
    }
}

#[tokio::test]
async fn signatures_from_a_file_add_to_the_built_in_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("ours.toml");
    std::fs::write(
        &file,
        "[[signature]]\nproduct = \"Our outbound proxy\"\nkind = \"proxy\"\nfield = \"issuer-o\"\nmatch = \"exact\"\n\
         pattern = \"Example Corp Inspection\"\nadvice = \"ask the network team to exempt {host}:{port}\"\n\
         source = \"https://intranet.example/proxy\"\n",
    )
    .expect("write");
    let ca = Ca::new("Gateway 7", "Example Corp Inspection");
    let mgmt =
        fixtures::tls_server("127.0.0.1:0", ca.leaf(&["mgmt01"]), Serve::Answer(HTTP_OK)).await;
    let f = file.to_string_lossy().into_owned();
    let r = check(&[
        "--role",
        "ih",
        "--mgmt",
        &mgmt.to_string(),
        "--signatures",
        &f,
    ])
    .await;
    let j = &row(&r, "multi-8471-ih-mgmt").judgement;
    assert_eq!(j.verdict.label(), "intercepted", "{j:?}");
    assert!(
        j.hint
            .as_deref()
            .unwrap_or("")
            .starts_with("ask the network team to exempt 127.0.0.1:"),
        "{j:?}"
    );
    // Without the file it is only a re-signed warning.
    let r = check(&["--role", "ih", "--mgmt", &mgmt.to_string()]).await;
    assert_eq!(
        row(&r, "multi-8471-ih-mgmt").judgement.verdict.label(),
        "ok"
    );

    std::fs::write(&file, "[[signature]]\nproduct = 5\n").expect("write");
    let out = crate::bin()
        .args(["--role", "ih", "--mgmt", "127.0.0.1:1", "--signatures", &f])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ours.toml:2:"), "{err}");
}

#[tokio::test]
async fn a_proxy_that_fails_is_named_as_the_hop() {
    let ms = fixtures::tls_server(
        "127.0.0.1:0",
        fixtures::self_signed(&["ms.test"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let target = ms.to_string();
    let auth = fixtures::canned_server(
        "127.0.0.1:0",
        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\n\r\n",
    )
    .await;
    let ssh = fixtures::canned_server("127.0.0.1:0", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").await;
    let closed = fixtures::closed_port("127.0.0.1");
    let silent = fixtures::silent_server("127.0.0.1:0").await;
    for (proxy, verdict, words) in [
        (auth, "refused", "requires authentication"),
        (ssh, "protocol-error", "not an HTTP proxy"),
        (closed, "refused", "refused the connection"),
        (silent, "filtered", "no answer from the proxy"),
    ] {
        // Credentials in the setting are accepted, never sent and never shown.
        let url = format!("http://admin:s3cret@{proxy}");
        let r = check(&[
            "--role",
            "server",
            "--mailstore-host",
            &target,
            "--timeout",
            "1s",
            "--proxy",
            &url,
        ])
        .await;
        let tunnelled = r
            .rows
            .iter()
            .find(|row| row.obs.via_proxy.is_some())
            .expect("via proxy");
        let j = &tunnelled.judgement;
        assert_eq!(j.verdict.label(), verdict, "{words}: {j:?}");
        assert!(j.reason.contains(words), "{words}: {}", j.reason);
        assert!(
            j.reason.contains(&proxy.to_string()),
            "the proxy is the hop: {}",
            j.reason
        );
        let everything = format!("{j:?} {:?}", r.meta.notes);
        assert!(!everything.contains("s3cret"), "{everything}");
    }
}

/// Sends connections for `alias` to `real` (none: the alias is unreachable) and the rest
/// where they go, recording every address it is asked for.
struct Redirect {
    alias: std::net::SocketAddr,
    real: Option<std::net::SocketAddr>,
    asked: std::sync::Arc<std::sync::Mutex<Vec<std::net::SocketAddr>>>,
}

impl mssp_check::probe::connector::Connector for Redirect {
    type Stream = tokio::net::TcpStream;
    async fn connect(&self, addr: std::net::SocketAddr) -> std::io::Result<Self::Stream> {
        self.asked.lock().expect("lock").push(addr);
        match (addr == self.alias, self.real) {
            (false, _) => tokio::net::TcpStream::connect(addr).await,
            (true, Some(real)) => tokio::net::TcpStream::connect(real).await,
            (true, None) => Err(std::io::ErrorKind::HostUnreachable.into()),
        }
    }
}

#[tokio::test]
async fn the_proxy_is_dialled_through_the_injected_connector() {
    let ca = Ca::new("Lab Public Root", "Lab");
    let ms =
        fixtures::tls_server("127.0.0.1:0", ca.leaf(&["ms.test"]), Serve::Answer(HTTP_OK)).await;
    let dns = fixtures::dns_server(vec![(
        "ms.test",
        fixtures::Answer::Addrs(vec!["127.0.0.1".parse().expect("ip")]),
    )])
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let pem = ca
        .write(dir.path(), "public.pem")
        .to_string_lossy()
        .into_owned();
    let target = format!("ms.test:{}", ms.port());
    let d = dns.to_string();
    // Nothing listens at the alias: only the connector knows where the proxy is.
    let alias: std::net::SocketAddr = "127.0.0.9:3128".parse().expect("addr");
    let proxy = format!("http://{alias}");
    for (real, verdict) in [
        (Some(fixtures::connect_proxy(true).await), "ok"),
        (None, "unreachable"),
    ] {
        let asked = std::sync::Arc::default();
        let connector = Redirect {
            alias,
            real,
            asked: std::sync::Arc::clone(&asked),
        };
        let r = check_with(
            &[
                "--role",
                "server",
                "--mailstore-host",
                &target,
                "--dns-server",
                &d,
                "--public-ca",
                &pem,
                "--proxy",
                &proxy,
            ],
            connector,
        )
        .await;
        let tunnelled = r
            .rows
            .iter()
            .find(|row| row.obs.via_proxy.is_some())
            .expect("via proxy");
        let j = &tunnelled.judgement;
        assert_eq!(j.verdict.label(), verdict, "{j:?}");
        assert_eq!(tunnelled.obs.address, Some(alias));
        assert!(
            asked.lock().expect("lock").contains(&alias),
            "the proxy was dialled through the connector"
        );
        if real.is_none() {
            assert!(j.reason.contains(&alias.to_string()), "{}", j.reason);
        }
    }
}

/// An explicit proxy that inspects TLS: after CONNECT it ends the client's TLS with a leaf of
/// its own CA and opens its own TLS session to the target on 127.0.0.1.
async fn inspecting_proxy(ca: &Ca) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let id = ca.leaf(&["ms.test"]);
    let acceptor = fixtures::acceptor(id);
    let tls = std::sync::Arc::new(mssp_check::probe::tls::TlsContext::new(&[]).expect("tls"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (acceptor, tls) = (acceptor.clone(), std::sync::Arc::clone(&tls));
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
                    if !matches!(s.read(&mut byte).await, Ok(1)) {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let port: u16 = text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|t| t.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                if s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                let name = rustls::pki_types::ServerName::try_from("ms.test").expect("name");
                fixtures::terminate_and_forward(s, acceptor, upstream, name, tls).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_proxy_that_presents_another_certificate_inspects_tls() {
    let public = Ca::new("Lab Public Root", "Lab");
    let ms = fixtures::tls_server(
        "127.0.0.1:0",
        public.leaf(&["ms.test"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let dns = fixtures::dns_server(vec![(
        "ms.test",
        fixtures::Answer::Addrs(vec!["127.0.0.1".parse().expect("ip")]),
    )])
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let pem = public
        .write(dir.path(), "public.pem")
        .to_string_lossy()
        .into_owned();
    // A corporate CA that no store here trusts, with no product name: only the direct row
    // tells that the proxy's certificate is not the endpoint's.
    let corp = Ca::new("Example Corp Gateway", "Example Corp");
    let proxy = format!("http://{}", inspecting_proxy(&corp).await);
    let target = format!("ms.test:{}", ms.port());
    let d = dns.to_string();
    let r = check(&[
        "--role",
        "server",
        "--mailstore-host",
        &target,
        "--dns-server",
        &d,
        "--public-ca",
        &pem,
        "--proxy",
        &proxy,
    ])
    .await;
    let ms_rows = || {
        r.rows
            .iter()
            .filter(|row| row.obs.path.id == "single-443-server-mailstore")
    };
    let via = ms_rows()
        .find(|row| row.obs.via_proxy.is_some())
        .expect("via proxy");
    let direct = ms_rows()
        .find(|row| row.obs.via_proxy.is_none())
        .expect("direct");
    assert_eq!(direct.judgement.verdict.label(), "ok");
    assert_eq!(
        via.judgement.verdict.label(),
        "intercepted",
        "{:?}",
        via.judgement
    );
    let f = via
        .judgement
        .findings
        .iter()
        .find(|f| f.kind.label() == "cert-differs")
        .expect("cert-differs");
    assert!(f.detail.contains("Example Corp Gateway"), "{}", f.detail);
    assert_eq!(r.summary.failed, 1, "the summary counts it");
}

#[tokio::test]
async fn a_pin_that_no_probe_checks_is_reported() {
    let srv = fixtures::tls_server("127.0.0.1:0", self_signed(&["mgmt01"]), Serve::Hold).await;
    let mgmt = srv.to_string();
    let pin = format!("127.0.0.1:{}={}", srv.port(), "ab".repeat(20));
    let stray = format!("127.0.0.1:8471={}", "cd".repeat(20));
    let r = check(&[
        "--role", "ih", "--mgmt", &mgmt, "--pin", &pin, "--pin", &stray,
    ])
    .await;
    let notes: Vec<&String> = r
        .meta
        .notes
        .iter()
        .filter(|n| n.contains("matched no probed endpoint"))
        .collect();
    assert_eq!(notes.len(), 1, "{:?}", r.meta.notes);
    assert!(notes[0].contains("127.0.0.1:8471"), "{}", notes[0]);
}
