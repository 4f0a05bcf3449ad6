//! The responder under a flood (issue 13): connections held idle, trickling bytes, every slot
//! busy, too few file handles. A real probe still gets its answer, or learns that the
//! responder is busy; it never blames TLS.

use std::net::Ipv4Addr;
use std::time::Duration;

use mssp_check::config::Role;
use mssp_check::probe::tls::TlsContext;
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::responder::responder_tuned;
use crate::{check, row};

/// An Instance Host's probes of the Management Server's responder at `offset`.
async fn probe_mgmt(offset: u16) -> mssp_check::report::Report {
    check(&[
        "--role",
        "ih",
        "--mgmt",
        "127.0.0.1",
        "--port-offset",
        &offset.to_string(),
        "--timeout",
        "5s",
    ])
    .await
}

async fn hold(port: u16, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .expect("connect"),
        );
    }
    held
}

#[tokio::test]
async fn idle_connections_at_the_limit_do_not_lock_a_probe_out() {
    let cancel = CancellationToken::new();
    let offset = responder_tuned(Role::Mgmt, &cancel, |_| {}).await;
    // The default limit (64), all taken by connections that never say a word.
    let _held = hold(
        8471 + offset,
        mssp_check::responder::DEFAULT_MAX_CONNECTIONS,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let started = std::time::Instant::now();
    let r = probe_mgmt(offset).await;
    for path in ["multi-8470-ih-mgmt", "multi-8471-ih-mgmt"] {
        let j = &row(&r, path).judgement;
        assert_eq!(j.verdict.label(), "ok", "{path}: {j:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    cancel.cancel();
}

#[tokio::test]
async fn trickling_connections_do_not_lock_a_probe_out() {
    let cancel = CancellationToken::new();
    let offset = responder_tuned(Role::Mgmt, &cancel, |c| c.max_connections = 16).await;
    let mut held = hold(8471 + offset, 16).await;
    let stop = CancellationToken::new();
    // A byte of a TLS record header every 200 ms on each: slow, but never silent.
    let trickle = {
        let stop = stop.clone();
        tokio::spawn(async move {
            for i in 0..50usize {
                for s in &mut held {
                    let _ = s.write_all(&[[0x16, 0x03, 0x01][i % 3]]).await;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = probe_mgmt(offset).await;
    for path in ["multi-8470-ih-mgmt", "multi-8471-ih-mgmt"] {
        let j = &row(&r, path).judgement;
        assert_eq!(j.verdict.label(), "ok", "{path}: {j:?}");
    }
    stop.cancel();
    let _ = trickle.await;
    cancel.cancel();
}

#[tokio::test]
async fn every_slot_busy_serving_is_busy_not_a_tls_failure() {
    let cancel = CancellationToken::new();
    let offset = responder_tuned(Role::Cas, &cancel, |c| c.max_connections = 4).await;
    // Four HTTPS connections through their handshake, their request not sent: being served.
    let tls = TlsContext::new(&[]).expect("tls");
    let name = ServerName::try_from("localhost").expect("name");
    let mut held = Vec::new();
    for tcp in hold(443 + offset, 4).await {
        held.push(tls.handshake(tcp, &name).await.expect("handshake"));
    }
    let r = check(&[
        "--role",
        "client",
        "--cas",
        "127.0.0.1",
        "--port-offset",
        &offset.to_string(),
        "--timeout",
        "5s",
    ])
    .await;
    for path in ["multi-993-client-cas", "multi-143-client-cas"] {
        let j = &row(&r, path).judgement;
        assert_eq!(j.verdict.label(), "no-service", "{path}: {j:?}");
        assert!(j.reason.contains("the responder is busy"), "{path}: {j:?}");
        assert!(
            j.hint
                .as_deref()
                .is_some_and(|h| h.contains("run the check again")),
            "{path}: {j:?}"
        );
    }
    drop(held);
    cancel.cancel();
}

#[cfg(unix)]
#[test]
fn too_few_file_handles_shrink_the_limit_and_say_so() {
    use std::io::{BufRead, BufReader};
    let port = crate::fixtures::closed_port("127.0.0.1").port();
    // A free offset that puts 8471 (the Management Server's port) on a free port.
    let offset = port.checked_sub(8471).unwrap_or(20_000);
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 128 && exec \"$0\" listen --role mgmt --bind 127.0.0.1 --port-offset {offset} \
             --max-connections 1000 --duration 20s"
        ))
        .arg(env!("CARGO_BIN_EXE_mssp-check"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sh");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut note = None;
    // The note follows the banner; the responder's end (20 s) ends the read otherwise.
    for line in lines.by_ref().take(30) {
        let line = line.expect("line");
        if line.starts_with("note: --max-connections 1000") {
            note = Some(line);
            break;
        }
    }
    let note = note.expect("the fitted limit is said at start");
    assert!(
        note.contains("may open only 128; serving at most 80 connections"),
        "{note}"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let r = rt.block_on(probe_mgmt(offset));
    let _ = child.kill();
    let _ = child.wait();
    for path in ["multi-8470-ih-mgmt", "multi-8471-ih-mgmt"] {
        let j = &row(&r, path).judgement;
        assert_eq!(j.verdict.label(), "ok", "{path}: {j:?}");
    }
}
