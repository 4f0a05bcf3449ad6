//! Each kind of port answers as our own probe machines and real clients expect, and the
//! statement matches what the client saw.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{check, localhost, read_line, start, tls_context, TOKEN};
use crate::config::profile::Role;
use crate::e2e::{self, Statement};
use crate::probe::deadline::Deadline;
use crate::probe::dialogue::{drive, Conn, HttpScript};
use crate::probe::starttls::imap::Imap;
use crate::probe::starttls::Dialogue;
use crate::probe::tls::TlsContext;
use crate::responder::{StopReason, GREETING_TEXT, SERVER, TLS_TEXT};

fn deadline() -> Deadline {
    Deadline::start(Duration::from_secs(5))
}

/// 143 with our own STARTTLS machine, end to end; returns the leaf's SHA-256.
async fn imap_starttls(tls: &TlsContext, addr: SocketAddr) -> String {
    let tcp = TcpStream::connect(addr).await.expect("connect 143");
    let local = tcp.local_addr().expect("local");
    let mut imap = Imap::starttls();
    let driven = drive(Conn::Plain(tcp), &mut imap, tls, &localhost(), &deadline()).await;
    assert_eq!(imap.outcome(), Ok(()), "{driven:?}");
    let t = imap.transcript();
    assert_eq!(
        (t.starttls_offered, t.upgraded, t.injected_after_upgrade),
        (Some(true), true, 0)
    );
    assert!(t.capabilities.contains(&"LOGINDISABLED".to_string()));
    assert!(
        !t.capabilities_tls.contains(&"STARTTLS".to_string()),
        "{t:?}"
    );
    let leaf = driven.tls.expect("tls facts").chain[0].sha256.clone();
    let greeting = t.greeting.as_deref().expect("greeting");
    assert!(
        greeting.starts_with("* OK [MSSP-CHECK-E2E/1 cert-sha256="),
        "{greeting}"
    );
    let (s, tail) = check(greeting, &leaf, local);
    assert_eq!(tail, GREETING_TEXT);
    assert!(s.text_matches(&tail));
    leaf
}

/// 993: TLS, then the implicit machine.
async fn imaps(tls: &TlsContext, addr: SocketAddr, leaf: &str) {
    let tcp = TcpStream::connect(addr).await.expect("connect 993");
    let local = tcp.local_addr().expect("local");
    let (stream, facts) = tls.handshake(tcp, &localhost()).await.expect("handshake");
    assert_eq!(facts.chain[0].sha256, leaf, "one certificate on every port");
    let mut imap = Imap::implicit();
    drive(
        Conn::Tls(Box::new(stream)),
        &mut imap,
        tls,
        &localhost(),
        &deadline(),
    )
    .await;
    assert_eq!(imap.outcome(), Ok(()));
    let greeting = imap.transcript().greeting.as_deref().expect("greeting");
    let (s, tail) = check(greeting, leaf, local);
    assert!(s.text_matches(&tail));
}

/// 443: the probe's own GET (with its nonce), then a GET without one.
async fn https(tls: &TlsContext, addr: SocketAddr, leaf: &str, nonce: &str) {
    let tcp = TcpStream::connect(addr).await.expect("connect 443");
    let local = tcp.local_addr().expect("local");
    let (stream, _) = tls.handshake(tcp, &localhost()).await.expect("handshake");
    let mut http = HttpScript::new("cas01", "/", nonce);
    drive(
        Conn::Tls(Box::new(stream)),
        &mut http,
        tls,
        &localhost(),
        &deadline(),
    )
    .await;
    let head = http.response.outcome().expect("an HTTP answer");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/plain"));
    assert_eq!(head.server(), Some(SERVER));
    assert!(
        head.body_prefix.contains("not MailStore SPE"),
        "{}",
        head.body_prefix
    );
    let (s, _) = check(
        head.header(e2e::HTTP_HEADER).expect("statement"),
        leaf,
        local,
    );
    assert_eq!(s.nonce.as_deref(), Some(nonce));

    let tcp = TcpStream::connect(addr).await.expect("connect 443");
    let local = tcp.local_addr().expect("local");
    let (mut stream, _) = tls.handshake(tcp, &localhost()).await.expect("handshake");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    drop(stream);
    let answer = String::from_utf8_lossy(&answer);
    let header = answer
        .lines()
        .find(|l| l.starts_with("X-MSSP-Check-E2E: "))
        .expect("statement header");
    let (s, _) = check(header, leaf, local);
    assert_eq!(s.nonce, None);
}

/// 847x: a nonce line, then the statement line; and without a nonce.
async fn statement_line(tls: &TlsContext, addr: SocketAddr, leaf: &str, nonce: &str) {
    for with_nonce in [true, false] {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let local = tcp.local_addr().expect("local");
        let (mut stream, _) = tls.handshake(tcp, &localhost()).await.expect("handshake");
        if with_nonce {
            let line = e2e::nonce_line(nonce);
            stream.write_all(line.as_bytes()).await.expect("write");
        }
        let line = read_line(&mut stream).await;
        assert!(line.ends_with("\r\n"), "{line:?}");
        let (s, _) = check(&line, leaf, local);
        assert_eq!(s.nonce.is_some(), with_nonce);
        stream.shutdown().await.expect("close");
    }
}

#[tokio::test]
async fn cas_answers_every_port_as_its_probe_expects() {
    let r = start(Role::Cas, |c| c.token = Some(TOKEN.to_vec())).await;
    let tls = tls_context();
    let nonce = e2e::new_nonce();
    let leaf = imap_starttls(&tls, r.addr(143)).await;
    imaps(&tls, r.addr(993), &leaf).await;
    https(&tls, r.addr(443), &leaf, &nonce).await;
    statement_line(&tls, r.addr(8473), &leaf, &nonce).await;

    r.wait_log(" -> port ", 6).await;
    let (summary, log) = r.stop().await;
    let counts: Vec<(u16, u64)> = summary
        .ports
        .iter()
        .map(|p| (p.profile_port, p.connections))
        .collect();
    assert_eq!(counts, [(143, 1), (443, 2), (993, 1), (8473, 2)], "{log}");
    assert_eq!(summary.stopped, StopReason::Cancelled);
    assert_eq!(summary.cert_sha256, leaf);
    assert_eq!(summary.cert_sha1.len(), 40);
    for want in [
        "statement sent in the greeting and inside TLS (TLS 1.3, signed); logged out after \
         CAPABILITY, STARTTLS, TLS 1.3, CAPABILITY, LOGOUT",
        "statement sent (TLS 1.3, signed); logged out after LOGOUT",
        "GET / -> 200 OK, statement sent (TLS 1.3, signed)",
        "GET / -> 200 OK, statement sent (TLS 1.3, nonce echoed, signed)",
        "statement sent (TLS 1.3, nonce echoed, signed); closed by the client",
        "statement sent (TLS 1.3, signed); closed by the client",
        &format!("SHA-1 thumbprint  {}", summary.cert_sha1),
        "stopped at ",
    ] {
        assert!(log.contains(want), "{want:?} not in:\n{log}");
    }
    let conn_lines: Vec<&str> = log.lines().filter(|l| l.contains(" -> port ")).collect();
    assert_eq!(conn_lines.len(), 6, "{log}");
    for l in conn_lines {
        assert!(l.starts_with("20") && l.contains("Z 127.0.0.1:"), "{l}");
    }
}

#[tokio::test]
async fn the_statement_inside_tls_follows_starttls() {
    let r = start(Role::Cas, |_| {}).await;
    let tls = tls_context();
    let mut tcp = TcpStream::connect(r.addr(143)).await.expect("connect");
    let local = tcp.local_addr().expect("local");
    let greeting = read_line(&mut tcp).await;
    tcp.write_all(b"a1 LOGIN user secret\r\n")
        .await
        .expect("write");
    let no = read_line(&mut tcp).await;
    assert!(no.starts_with("a1 NO [UNAVAILABLE]"), "{no}");
    tcp.write_all(b"a2 STARTTLS\r\n").await.expect("write");
    assert_eq!(
        read_line(&mut tcp).await,
        "a2 OK Begin TLS negotiation now\r\n"
    );
    let (mut stream, facts) = tls.handshake(tcp, &localhost()).await.expect("handshake");
    let inside = read_line(&mut stream).await;
    let (s, tail) = Statement::parse_with_tail(&inside).expect("statement inside TLS");
    assert_eq!(
        (s.cert_sha256.as_str(), s.peer),
        (facts.chain[0].sha256.as_str(), local)
    );
    assert_eq!(tail, TLS_TEXT);
    assert!(s.text_matches(tail) && s.mac.is_none());
    assert!(inside.starts_with("* OK [") && greeting.starts_with("* OK ["));
    stream.write_all(b"a3 STARTTLS\r\n").await.expect("write");
    assert_eq!(
        read_line(&mut stream).await,
        "a3 BAD TLS is already active\r\n"
    );
    drop(stream);
    let log = r.wait_log("closed by the client after", 1).await;
    assert!(
        log.contains("LOGIN (refused), STARTTLS, TLS 1.3, STARTTLS (again)"),
        "{log}"
    );
    assert!(!log.contains("secret"), "{log}");
    r.stop().await;
}

#[tokio::test]
async fn data_pipelined_after_starttls_drops_the_connection() {
    let r = start(Role::Cas, |_| {}).await;
    let mut tcp = TcpStream::connect(r.addr(143)).await.expect("connect");
    let _greeting = read_line(&mut tcp).await;
    tcp.write_all(b"a1 STARTTLS\r\na2 CAPABILITY\r\n")
        .await
        .expect("write");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.starts_with("* BYE Data after STARTTLS"), "{rest}");
    assert!(!rest.contains("Begin TLS"), "{rest}");
    let log = r.wait_log("pipelined after STARTTLS", 1).await;
    assert!(log.contains("dropped: 15 bytes"), "{log}");
    r.stop().await;
}

#[tokio::test]
async fn mgmt_answers_https_and_tls_and_names_non_tls_clients() {
    let r = start(Role::Mgmt, |_| {}).await;
    let tls = tls_context();
    let deadline = Deadline::start(Duration::from_secs(5));
    for port in [8470, 8474] {
        let tcp = TcpStream::connect(r.addr(port)).await.expect("connect");
        let (stream, _) = tls.handshake(tcp, &localhost()).await.expect("handshake");
        let mut http = HttpScript::new("mgmt01", "/", &e2e::new_nonce());
        drive(
            Conn::Tls(Box::new(stream)),
            &mut http,
            &tls,
            &localhost(),
            &deadline,
        )
        .await;
        let head = http.response.outcome().expect("an HTTP answer");
        assert_eq!(head.status, 200, "{port}");
        assert!(head.header(e2e::HTTP_HEADER).is_some());
    }
    let tcp = TcpStream::connect(r.addr(8471)).await.expect("connect");
    let (mut stream, facts) = tls.handshake(tcp, &localhost()).await.expect("handshake");
    let line = read_line(&mut stream).await;
    assert_eq!(
        Statement::parse(&line).expect("statement").cert_sha256,
        facts.chain[0].sha256
    );
    drop(stream);
    // Plain text to a TLS port, with an escape sequence that must not reach the terminal.
    let mut tcp = TcpStream::connect(r.addr(8470)).await.expect("connect");
    tcp.write_all(b"\x1b[31mGET / HTTP/1.1\r\n\r\n")
        .await
        .expect("write");
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut sink)).await;
    let log = r.wait_log("did not start TLS", 1).await;
    assert!(log.contains("it sent \"\\x1b[31mGET / HTTP/1.1"), "{log}");
    assert!(!log.contains('\x1b'), "{log}");
    r.wait_log(" -> port ", 4).await;
    let (summary, _) = r.stop().await;
    assert_eq!(summary.connections(), 4);
}
