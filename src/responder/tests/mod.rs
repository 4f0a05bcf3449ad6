//! End-to-end tests of the responder on loopback: the shared helpers (a responder on a free
//! port range, a log to read back, TLS clients); the tests are in `answers` and `limits`.

mod answers;
mod limits;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{inbound_ports, run, ListenConfig, ListenError, ListenSummary};
use crate::config::profile::{Profiles, Role};
use crate::e2e::{self, Statement};
use crate::probe::tls::TlsContext;

const TOKEN: &[u8] = b"shared secret";

#[derive(Clone, Default)]
struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

struct Running {
    cancel: CancellationToken,
    task: JoinHandle<Result<ListenSummary, ListenError>>,
    log: SharedLog,
    offset: u16,
}

impl Running {
    fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port + self.offset)
    }

    /// Waits until the log holds `needle` `times` times.
    async fn wait_log(&self, needle: &str, times: usize) -> String {
        for _ in 0..200 {
            let text = self.log.text();
            if text.matches(needle).count() >= times {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{needle:?} not {times}x in the log:\n{}", self.log.text());
    }

    async fn stop(self) -> (ListenSummary, String) {
        self.cancel.cancel();
        let summary = self.task.await.expect("joins").expect("runs");
        (summary, self.log.text())
    }
}

/// An offset that puts every port of `ports` on a free loopback port below the usual
/// ephemeral ranges (so that no client connection of a parallel test holds one).
fn free_offset(ports: &[u16]) -> u16 {
    for _ in 0..200 {
        let r = u16::from_str_radix(&e2e::new_nonce()[..4], 16).unwrap_or(0);
        let offset = 10_000 + r % 14_000;
        if ports
            .iter()
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", p + offset)).is_ok())
        {
            return offset;
        }
    }
    panic!("no free port range on loopback");
}

fn config(role: Role) -> ListenConfig {
    let profiles = Profiles::embedded().expect("profiles");
    let ports: Vec<u16> = inbound_ports(&profiles, role)
        .iter()
        .map(|p| p.port)
        .collect();
    let mut cfg = ListenConfig::new(role, profiles);
    cfg.bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    cfg.port_offset = free_offset(&ports);
    cfg.duration = Duration::from_secs(120);
    cfg
}

/// Starts `cfg` and waits for its banner.
async fn start_with(cfg: ListenConfig) -> Running {
    let (log, cancel, offset) = (
        SharedLog::default(),
        CancellationToken::new(),
        cfg.port_offset,
    );
    let task = tokio::spawn({
        let (mut log, cancel) = (log.clone(), cancel.clone());
        async move { run(&cfg, cancel, &mut log).await }
    });
    for _ in 0..400 {
        if log.text().contains("Ctrl-C stops earlier") || task.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Running {
        cancel,
        task,
        log,
        offset,
    }
}

/// Starts `role` with every port bound, retrying when a parallel test took one meanwhile.
async fn start(role: Role, tweak: impl Fn(&mut ListenConfig)) -> Running {
    for _ in 0..5 {
        let mut cfg = config(role);
        tweak(&mut cfg);
        let r = start_with(cfg).await;
        if !r.task.is_finished() && !r.log.text().contains("not listening") {
            return r;
        }
        r.cancel.cancel();
        let _ = r.task.await;
    }
    panic!("could not bind the ports of {role:?}");
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("name")
}

fn tls_context() -> TlsContext {
    TlsContext::new(&[]).expect("tls context")
}

/// Parses the statement in `text` and checks it against what the client saw.
fn check(text: &str, leaf_sha256: &str, local: SocketAddr) -> (Statement, String) {
    let (s, tail) = Statement::parse_with_tail(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(s.cert_sha256, leaf_sha256, "{text}");
    assert_eq!(s.peer, local, "{text}");
    assert!(s.verify(TOKEN), "{text}");
    (s, tail.to_string())
}

async fn read_line<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") && line.len() < 4096 {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte)).await {
            Ok(Ok(1)) => line.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}
