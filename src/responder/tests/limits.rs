//! The limits (connections, bytes, duration), a taken port, and setup errors.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{config, localhost, read_line, start, start_with, tls_context, SharedLog};
use crate::config::profile::{Profiles, Role};
use crate::e2e;
use crate::responder::{run, ListenConfig, ListenError, StopReason};

#[tokio::test]
async fn max_connections_is_honoured() {
    let r = start(Role::Ih, |c| c.max_connections = 2).await;
    let tls = tls_context();
    let mut held = Vec::new();
    for _ in 0..2 {
        let tcp = TcpStream::connect(r.addr(8472)).await.expect("connect");
        let (mut stream, _) = tls.handshake(tcp, &localhost()).await.expect("handshake");
        assert!(read_line(&mut stream).await.starts_with(e2e::MAGIC));
        held.push(stream);
    }
    // Both are answered and only linger: a third takes the older one's slot.
    let tcp = TcpStream::connect(r.addr(8472)).await.expect("connect");
    let (mut third, _) = tls
        .handshake(tcp, &localhost())
        .await
        .expect("an answered connection made room");
    assert!(read_line(&mut third).await.starts_with(e2e::MAGIC));
    r.wait_log("answered; closed to make room for a new connection", 1)
        .await;
    // Two fresh connections, short of their handshake, take the two slots; they are within
    // their grace, so a third is turned away, and told so before any TLS.
    let _fresh = (
        TcpStream::connect(r.addr(8472)).await.expect("connect"),
        TcpStream::connect(r.addr(8472)).await.expect("connect"),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut turned = TcpStream::connect(r.addr(8472)).await.expect("connect");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), turned.read_to_end(&mut buf))
        .await
        .expect("closed at once")
        .expect("a clean close");
    let line = String::from_utf8_lossy(&buf);
    assert!(
        line.starts_with("MSSP-CHECK-BUSY 2 connections in flight"),
        "{line}"
    );
    assert!(line.ends_with("\r\n"), "{line}");
    r.wait_log("busy: 1 connection was turned away, 2 already in flight", 1)
        .await;
    drop(held);
    let (summary, log) = r.stop().await;
    assert_eq!(
        (summary.ports[0].connections, summary.ports[0].refused),
        (6, 1),
        "{log}"
    );
    assert!(
        log.contains("1 turned away over --max-connections"),
        "{log}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_closed_after_the_handshake_deadline() {
    let r = start(Role::Ih, |_| {}).await;
    let mut silent = TcpStream::connect(r.addr(8472)).await.expect("connect");
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(7), silent.read(&mut buf))
        .await
        .expect("closed within the handshake deadline");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    r.wait_log("closed: no TLS handshake within 5 s", 1).await;
}

#[tokio::test]
async fn an_endless_line_is_cut_at_max_bytes() {
    let r = start(Role::Cas, |c| c.max_bytes = 4096).await;
    let mut tcp = TcpStream::connect(r.addr(143)).await.expect("connect");
    let _greeting = read_line(&mut tcp).await;
    let chunk = [b'A'; 1024];
    let mut sent = 0;
    while sent < 4 << 20 {
        match tokio::time::timeout(Duration::from_secs(2), tcp.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            _ => break,
        }
    }
    let log = r.wait_log("read limit of 4096 bytes reached", 1).await;
    assert!(sent > 4096, "{sent}");
    assert!(
        log.contains("closed: read limit of 4096 bytes reached after no command"),
        "{log}"
    );
    r.stop().await;
}

#[tokio::test]
async fn a_taken_port_is_reported_and_the_others_serve() {
    let mut cfg = config(Role::Cas);
    let taken = std::net::TcpListener::bind(("127.0.0.1", 993 + cfg.port_offset)).expect("bind");
    cfg.token = None;
    let r = start_with(cfg).await;
    assert!(!r.task.is_finished(), "{}", r.log.text());
    let log = r.log.text();
    let port = 993 + r.offset;
    let want = format!(
        "not listening on port {port} (imaps): already in use by another program; choose \
         another --port-offset"
    );
    assert!(log.contains(&want), "{log}");
    let tcp = TcpStream::connect(r.addr(8473)).await.expect("8473 serves");
    drop(tcp);
    let (summary, _) = r.stop().await;
    let p993 = summary
        .ports
        .iter()
        .find(|p| p.profile_port == 993)
        .expect("993");
    assert!(p993.error.is_some() && p993.addresses.is_empty());
    assert!(summary.ports.iter().filter(|p| p.error.is_none()).count() == 3);
    drop(taken);

    // Nothing bound at all is an error.
    let mut cfg = config(Role::Ih);
    let _taken = std::net::TcpListener::bind(("127.0.0.1", 8472 + cfg.port_offset)).expect("bind");
    cfg.duration = Duration::from_secs(5);
    let mut log = SharedLog::default();
    let e = run(&cfg, CancellationToken::new(), &mut log)
        .await
        .expect_err("nothing bound");
    assert!(
        matches!(&e, ListenError::NothingBound(v) if v.len() == 1),
        "{e}"
    );
    assert!(e.to_string().contains("already in use"), "{e}");
    assert!(!e.is_usage());
}

#[tokio::test]
async fn it_stops_when_the_duration_runs_out() {
    let r = start(Role::Ih, |c| c.duration = Duration::from_millis(300)).await;
    let addr = r.addr(8472);
    let summary = tokio::time::timeout(Duration::from_secs(5), r.task)
        .await
        .expect("stops by itself")
        .expect("joins")
        .expect("runs");
    assert_eq!(summary.stopped, StopReason::Duration);
    let want = format!("(duration reached): 0 connections ({}: 0)", addr.port());
    assert!(r.log.text().contains(&want), "{}", r.log.text());
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed again"
    );
}

#[tokio::test]
async fn setup_errors_name_the_problem() {
    for role in [Role::Adm, Role::Client] {
        let cfg = ListenConfig::new(role, Profiles::embedded().expect("profiles"));
        let e = run(&cfg, CancellationToken::new(), &mut Vec::new())
            .await
            .expect_err("no ports");
        assert!(
            e.is_usage()
                && e.to_string()
                    .starts_with(&format!("role {} has no inbound ports", role.label())),
            "{e}"
        );
    }
    let mut cfg = config(Role::Ih);
    cfg.port_offset = 60_000;
    let e = run(&cfg, CancellationToken::new(), &mut Vec::new())
        .await
        .expect_err("range");
    assert_eq!(
        e.to_string(),
        "--port-offset 60000 moves port 8472 past 65535"
    );
    let mut cfg = config(Role::Ih);
    cfg.identity = Some(("/nonexistent/c.pem".into(), "/nonexistent/k.pem".into()));
    let e = run(&cfg, CancellationToken::new(), &mut Vec::new())
        .await
        .expect_err("cert");
    assert!(
        e.is_usage()
            && e.to_string()
                .starts_with("/nonexistent/c.pem: cannot read it"),
        "{e}"
    );
    assert!(!format!("{cfg:?}").contains("secret"));
    cfg.token = Some(b"secret".to_vec());
    assert!(format!("{cfg:?}").contains("<redacted>") && !format!("{cfg:?}").contains("115"));
}
