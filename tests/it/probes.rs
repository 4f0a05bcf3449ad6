//! Each verdict, from a real socket on loopback (or, where the kernel cannot make the case
//! without root, from an injected connector).

use std::io;
use std::net::SocketAddr;

use crate::fixtures::{self, Answer, Ca, Serve, HTTP_OK};
use crate::{check, check_with, row, verdicts};

const NO_MAILSTORE: &str = "--mailstore-host=127.0.0.1:1";

#[tokio::test]
async fn tls_ok_records_the_whole_chain() {
    let ih = fixtures::tls_server(
        "127.0.0.1:0",
        fixtures::self_signed(&["ih01"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let cas = fixtures::tls_server(
        "127.0.0.1:0",
        fixtures::self_signed(&["cas01"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let r = check(&[
        "--role",
        "mgmt",
        "--ih",
        &ih.to_string(),
        "--cas",
        &cas.to_string(),
        NO_MAILSTORE,
    ])
    .await;
    let ih_row = row(&r, "multi-8472-mgmt-ih");
    assert_eq!(
        ih_row.judgement.verdict.label(),
        "ok",
        "{:?}",
        ih_row.judgement
    );
    let tls = ih_row.obs.tls.as_ref().expect("tls facts");
    assert_eq!(tls.version_label(), "TLSv1.3");
    assert_eq!(tls.chain.len(), 1);
    assert!(tls.chain[0].self_signed);
    assert_eq!(tls.chain[0].subject, "CN=ih01");
    assert_eq!(tls.chain[0].sha1.len(), 40);
    assert_eq!(tls.chain[0].sha256.len(), 64);
    assert!(!tls.public.is_trusted());
    assert_eq!(verdicts(&r, "multi-8473-mgmt-cas"), ["ok"]);
    assert_eq!(ih_row.obs.address, Some(ih));
    assert!(ih_row.obs.local_target, "127.0.0.1 is this machine");
}

#[tokio::test]
async fn tls_ok_over_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        crate::skip_or_fail(
            "tls_ok_over_ipv6_loopback",
            "no IPv6 loopback on this machine",
        );
        return;
    }
    let ih = fixtures::tls_server(
        "[::1]:0",
        fixtures::self_signed(&["ih01"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let r = check(&[
        "--role",
        "mgmt",
        "--ih",
        &format!("[::1]:{}", ih.port()),
        NO_MAILSTORE,
    ])
    .await;
    assert_eq!(verdicts(&r, "multi-8472-mgmt-ih"), ["ok"]);
    assert_eq!(row(&r, "multi-8472-mgmt-ih").obs.address, Some(ih));
}

#[tokio::test]
async fn closed_port_is_refused() {
    let closed = fixtures::closed_port("127.0.0.1");
    let r = check(&["--role", "ih", "--mgmt", &closed.to_string()]).await;
    assert_eq!(
        verdicts(&r, "multi-8471-ih-mgmt"),
        ["refused"],
        "{:?}",
        row(&r, "multi-8471-ih-mgmt").judgement
    );
    let j = &row(&r, "multi-8471-ih-mgmt").judgement;
    assert!(
        j.hint
            .as_deref()
            .unwrap_or("")
            .contains(&format!("TCP {}", closed.port())),
        "{j:?}"
    );
    // The optional pairing path is a warning, the required one a failure.
    assert_eq!(
        format!("{:?}", row(&r, "multi-8470-ih-mgmt").judgement.severity),
        "Warn"
    );
    assert_eq!(r.exit().code(), 1);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn full_backlog_is_filtered() {
    let fb = fixtures::full_backlog().await;
    let r = check(&[
        "--role",
        "ih",
        "--mgmt",
        &fb.addr.to_string(),
        "--timeout",
        "700ms",
    ])
    .await;
    assert_eq!(
        verdicts(&r, "multi-8471-ih-mgmt"),
        ["filtered"],
        "{:?}",
        row(&r, "multi-8471-ih-mgmt").judgement
    );
    let reason = &row(&r, "multi-8471-ih-mgmt").judgement.reason;
    assert!(reason.contains("700 ms"), "{reason}");
}

/// A connector that fails by port, for cases a plain user cannot make on loopback.
struct Failing;

impl mssp_check::probe::connector::Connector for Failing {
    type Stream = tokio::net::TcpStream;
    async fn connect(&self, addr: SocketAddr) -> io::Result<tokio::net::TcpStream> {
        match addr.port() {
            1 => Err(io::Error::from(io::ErrorKind::HostUnreachable)),
            2 => Err(io::Error::from(io::ErrorKind::NetworkUnreachable)),
            3 => std::future::pending().await,
            _ => Err(io::Error::from(io::ErrorKind::ConnectionRefused)),
        }
    }
}

#[tokio::test]
async fn icmp_unreachable_and_silent_drop_from_the_connector() {
    let r = check_with(
        &[
            "--role",
            "mgmt",
            "--ih",
            "127.0.0.1:1",
            "--cas",
            "127.0.0.1:3",
            "--mailstore-host",
            "127.0.0.1:2",
            "--timeout",
            "300ms",
        ],
        Failing,
    )
    .await;
    assert_eq!(verdicts(&r, "multi-8472-mgmt-ih"), ["unreachable"]);
    assert_eq!(verdicts(&r, "multi-443-mgmt-mailstore"), ["unreachable"]);
    assert_eq!(verdicts(&r, "multi-8473-mgmt-cas"), ["filtered"]);
}

/// This machine as a test says it is: every connection refused, no address of its own, and
/// every port held by a service.
struct Elsewhere;

impl mssp_check::probe::connector::Connector for Elsewhere {
    type Stream = tokio::net::TcpStream;
    async fn connect(&self, _: SocketAddr) -> io::Result<tokio::net::TcpStream> {
        Err(io::Error::from(io::ErrorKind::ConnectionRefused))
    }
    fn is_local(&self, _: std::net::IpAddr) -> bool {
        false
    }
    fn try_bind(&self, _: u16) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::AddrInUse))
    }
}

#[tokio::test]
async fn this_machine_is_what_the_connector_says() {
    let r = check_with(&["--role", "ih", "--mgmt", "127.0.0.1:1"], Elsewhere).await;
    let mgmt = row(&r, "multi-8471-ih-mgmt");
    assert_eq!(mgmt.judgement.verdict.label(), "refused");
    assert!(
        !mgmt.obs.local_target,
        "the connector, not a socket, says whether 127.0.0.1 is this machine"
    );
    assert!(!r.meta.inbound.is_empty(), "ih has inbound ports");
    for port in &r.meta.inbound {
        assert_eq!(port.listening, Some(true), "{port:?}");
        assert_eq!(
            port.detail, "in use by a service bound to a specific address",
            "{port:?}"
        );
    }
}

#[tokio::test]
async fn silent_peer_is_no_service() {
    let silent = fixtures::silent_server("127.0.0.1:0").await;
    let r = check(&[
        "--role",
        "ih",
        "--mgmt",
        &silent.to_string(),
        "--timeout",
        "500ms",
    ])
    .await;
    assert_eq!(verdicts(&r, "multi-8471-ih-mgmt"), ["no-service"]);
}

#[tokio::test]
async fn plaintext_answer_on_a_tls_port_is_a_protocol_error() {
    let http = fixtures::canned_server(
        "127.0.0.1:0",
        b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n",
    )
    .await;
    let r = check(&["--role", "ih", "--mgmt", &http.to_string()]).await;
    assert_eq!(verdicts(&r, "multi-8471-ih-mgmt"), ["protocol-error"]);
    let reason = &row(&r, "multi-8471-ih-mgmt").judgement.reason;
    assert!(
        reason.contains("HTTP/1.1 400") && reason.contains("looks like HTTP"),
        "{reason}"
    );
}

#[tokio::test]
async fn tls_alert_is_tls_failed() {
    // A TLS record: fatal alert handshake_failure (40).
    let alert =
        fixtures::canned_server("127.0.0.1:0", &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]).await;
    let r = check(&["--role", "ih", "--mgmt", &alert.to_string()]).await;
    assert_eq!(verdicts(&r, "multi-8471-ih-mgmt"), ["tls-failed"]);
    assert!(row(&r, "multi-8471-ih-mgmt")
        .judgement
        .reason
        .contains("HandshakeFailure"));
}

#[tokio::test]
async fn missing_targets_are_skipped_naming_the_flag() {
    let ih = fixtures::tls_server(
        "127.0.0.1:0",
        fixtures::self_signed(&["mgmt01"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let r = check(&["--role", "ih", "--mgmt", &ih.to_string()]).await;
    assert_eq!(verdicts(&r, "multi-143-ih-any"), ["skipped"]);
    assert!(row(&r, "multi-143-ih-any")
        .judgement
        .reason
        .contains("--imap"));
    assert!(row(&r, "multi-389-ih-any")
        .judgement
        .reason
        .contains("--ldap"));
    assert_eq!(r.exit().code(), 0, "skipped paths do not fail a run");
}

#[tokio::test]
async fn public_endpoint_needs_a_public_chain() {
    let ca = Ca::new("Lab Public Root", "Lab");
    let ms = fixtures::tls_server(
        "127.0.0.1:0",
        ca.leaf(&["my.mailstore.test"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let dns = fixtures::dns_server(vec![(
        "my.mailstore.test",
        Answer::Addrs(vec!["127.0.0.1".parse().expect("ip")]),
    )])
    .await;
    let ih = fixtures::closed_port("127.0.0.1");
    let base = ["--role", "mgmt", "--ih", &ih.to_string()];
    let target = format!("my.mailstore.test:{}", ms.port());
    let dns_arg = dns.to_string();
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--mailstore-host", &target, "--dns-server", &dns_arg]);

    let r = check(&args).await;
    assert_eq!(verdicts(&r, "multi-443-mgmt-mailstore"), ["tls-failed"]);
    // The server sends its leaf only: the issuer is named, with both likely causes.
    let reason = &row(&r, "multi-443-mgmt-mailstore").judgement.reason;
    assert!(
        reason.contains("issued by CN=Lab Public Root") && reason.contains("missing intermediate"),
        "{reason}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let pem = ca.write(dir.path(), "public.pem");
    let pem = pem.to_string_lossy().into_owned();
    args.extend(["--public-ca", &pem]);
    let r = check(&args).await;
    assert_eq!(
        verdicts(&r, "multi-443-mgmt-mailstore"),
        ["ok"],
        "{:?}",
        row(&r, "multi-443-mgmt-mailstore").judgement
    );
    assert!(row(&r, "multi-443-mgmt-mailstore")
        .obs
        .tls
        .as_ref()
        .expect("tls")
        .public
        .is_trusted());
}

/// Runs the binary (the environment is per process) as `--role server` against a
/// my.mailstore.com stand-in at `ms`, with `ca` as this machine's only trusted root; returns
/// the stand-in's JSON row and the exit code.
#[cfg(not(any(windows, target_os = "macos")))]
async fn mailstore_row_with_os_store(
    ms: std::net::SocketAddr,
    ca: &Ca,
) -> (serde_json::Value, Option<i32>) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = ca.write(dir.path(), "os-store.pem");
    let out = tokio::task::spawn_blocking(move || {
        crate::bin()
            .args([
                "--role",
                "server",
                "--mailstore-host",
                &ms.to_string(),
                "--format",
                "json",
            ])
            .env("SSL_CERT_FILE", &store)
            .env_remove("SSL_CERT_DIR")
            .output()
            .expect("runs")
    })
    .await
    .expect("join");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = doc["results"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["path"] == "single-443-server-mailstore")
        })
        .cloned()
        .expect("row");
    (row, out.status.code())
}

/// `SSL_CERT_FILE` steers only the Linux trust store; Windows and macOS ask the OS's own
/// chain engine.
#[cfg(not(any(windows, target_os = "macos")))]
#[tokio::test]
async fn a_locally_trusted_root_on_a_public_endpoint_is_intercepted() {
    // SSL_CERT_FILE steers the OS store on Linux; the environment is per process, so this
    // runs the binary.
    let av = Ca::new(
        "Kaspersky Anti-Virus Personal Root Certificate",
        "AO Kaspersky Lab (TEST)",
    );
    let ms = fixtures::tls_server(
        "127.0.0.1:0",
        av.leaf(&["127.0.0.1"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let (ms_row, code) = mailstore_row_with_os_store(ms, &av).await;
    assert_eq!(ms_row["verdict"], "intercepted", "{ms_row}");
    assert_eq!(ms_row["tls"]["trusted_os"], true);
    assert_eq!(ms_row["tls"]["trusted_public"], false);
    let finding = ms_row["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["kind"] == "local-root"))
        .expect("a local-root finding");
    assert!(
        finding["detail"]
            .as_str()
            .unwrap_or("")
            .contains("Kaspersky"),
        "{finding}"
    );
    assert_eq!(code, Some(1));
}

#[tokio::test]
async fn dns_failures_are_told_apart() {
    let dns = fixtures::dns_server(vec![
        ("nx.test", Answer::NxDomain),
        ("broken.test", Answer::ServFail),
        ("slow.test", Answer::Silent),
    ])
    .await;
    let d = dns.to_string();
    for (name, needle) in [
        ("nx.test", "NXDOMAIN"),
        ("broken.test", "SERVFAIL"),
        ("slow.test", "in time"),
    ] {
        let r = check(&[
            "--role",
            "ih",
            "--mgmt",
            name,
            "--dns-server",
            &d,
            "--timeout",
            "600ms",
        ])
        .await;
        assert_eq!(verdicts(&r, "multi-8471-ih-mgmt"), ["dns"], "{name}");
        let reason = &row(&r, "multi-8471-ih-mgmt").judgement.reason;
        assert!(reason.contains(needle), "{name}: {reason}");
    }
}

#[tokio::test]
async fn a_name_is_probed_on_the_first_address_that_answers() {
    let srv = fixtures::tls_server(
        "127.0.0.1:0",
        fixtures::self_signed(&["mgmt01"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    // 127.0.0.2 is loopback too, but nothing listens there on this port.
    let dns = fixtures::dns_server(vec![(
        "mgmt01.test",
        Answer::Addrs(vec![
            "127.0.0.2".parse().expect("ip"),
            "127.0.0.1".parse().expect("ip"),
        ]),
    )])
    .await;
    let target = format!("mgmt01.test:{}", srv.port());
    let d = dns.to_string();
    let r = check(&["--role", "ih", "--mgmt", &target, "--dns-server", &d]).await;
    assert_eq!(verdicts(&r, "multi-8471-ih-mgmt"), ["ok"]);
    assert_eq!(row(&r, "multi-8471-ih-mgmt").obs.address, Some(srv));
    assert!(row(&r, "multi-8471-ih-mgmt").obs.timings.dns.is_some());

    let r = check(&[
        "--role",
        "ih",
        "--mgmt",
        &target,
        "--dns-server",
        &d,
        "--all-addresses",
    ])
    .await;
    let mut v = verdicts(&r, "multi-8471-ih-mgmt");
    v.sort_unstable();
    assert_eq!(v, ["ok", "refused"]);
}

#[tokio::test]
async fn my_mailstore_is_probed_on_every_address() {
    let srv = fixtures::tls_server(
        "127.0.0.1:0",
        fixtures::self_signed(&["x"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let dns = fixtures::dns_server(vec![(
        "ms.test",
        Answer::Addrs(vec![
            "127.0.0.1".parse().expect("ip"),
            "127.0.0.3".parse().expect("ip"),
        ]),
    )])
    .await;
    let target = format!("ms.test:{}", srv.port());
    let d = dns.to_string();
    let r = check(&[
        "--role",
        "server",
        "--mailstore-host",
        &target,
        "--dns-server",
        &d,
    ])
    .await;
    let mut v = verdicts(&r, "single-443-server-mailstore");
    v.sort_unstable();
    assert_eq!(v, ["refused", "tls-failed"], "a stale address must show");
}

#[tokio::test]
async fn a_name_with_many_addresses_is_probed_on_a_few() {
    // A broken or hostile DNS answer: 60 addresses (as many as fit one UDP answer) (loopback, nothing listens there on this
    // port). They are not each given a socket; the run says how many there were.
    let closed = fixtures::closed_port("127.0.0.1");
    let many: Vec<std::net::IpAddr> = (1..=60u8)
        .map(|i| std::net::IpAddr::from([127, 0, 2, i]))
        .collect();
    let dns = fixtures::dns_server(vec![("many.test", Answer::Addrs(many))]).await;
    let target = format!("many.test:{}", closed.port());
    let d = dns.to_string();
    let r = check(&["--role", "ih", "--mgmt", &target, "--dns-server", &d]).await;
    let obs = &row(&r, "multi-8471-ih-mgmt").obs;
    assert_eq!(
        verdicts(&r, "multi-8471-ih-mgmt"),
        ["refused"],
        "{:?}",
        row(&r, "multi-8471-ih-mgmt").judgement
    );
    assert_eq!(
        1 + obs.other_attempts.len(),
        mssp_check::runner::MAX_PER_FAMILY,
        "{obs:?}"
    );
    assert!(
        r.meta
            .notes
            .iter()
            .any(|n| n.contains("many.test resolved to 60 addresses")),
        "{:?}",
        r.meta.notes
    );
}

#[tokio::test]
async fn probes_run_concurrently_within_the_limit() {
    // Ten silent peers: with --concurrency 1 they run one after the other, so the run takes
    // at least ten timeouts; the report still holds all ten, each no-service.
    let mut hosts = Vec::new();
    for _ in 0..10 {
        hosts.push(fixtures::silent_server("127.0.0.1:0").await.to_string());
    }
    let list = hosts.join(",");
    let r = check(&[
        "--role",
        "mgmt",
        "--ih",
        &list,
        NO_MAILSTORE,
        "--timeout",
        "100ms",
        "--concurrency",
        "1",
    ])
    .await;
    assert_eq!(verdicts(&r, "multi-8472-mgmt-ih"), vec!["no-service"; 10]);
    assert!(
        r.meta.duration_ms >= 1000,
        "ran one at a time: {} ms",
        r.meta.duration_ms
    );
}

/// A locally trusted root whose certificate does not even fit the name (an interceptor reached
/// by address): the OS store got past the issuer, so it is still a local root.
#[cfg(not(any(windows, target_os = "macos")))]
#[tokio::test]
async fn a_local_root_is_named_even_when_the_name_does_not_fit() {
    let corp = Ca::new("Example Corp Inspection Root", "Example Corp");
    let ms = fixtures::tls_server(
        "127.0.0.1:0",
        corp.leaf(&["proxy.example.test"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let (row, _) = mailstore_row_with_os_store(ms, &corp).await;
    assert_eq!(row["verdict"], "intercepted", "{row}");
    assert_eq!(row["tls"]["trusted_os"], false, "the name does not fit");
    let kinds: Vec<&str> = row["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(kinds.contains(&"local-root"), "{row}");
}
