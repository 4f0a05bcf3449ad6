//! TCP connect: the first address that answers, and how a failed connect failed.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::connector::Connector;
use crate::observation::ConnectFailure;

/// Connects to every address at once and keeps the first that connects. When none does,
/// the failures come back in the order of `addrs`.
///
/// # Errors
/// Every address's failure, when none connected.
pub async fn connect_first<C: Connector>(
    connector: &Arc<C>,
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(SocketAddr, C::Stream, Duration), Vec<(SocketAddr, ConnectFailure)>> {
    let started = tokio::time::Instant::now();
    let mut set = JoinSet::new();
    for (i, &addr) in addrs.iter().enumerate() {
        let c = Arc::clone(connector);
        set.spawn(async move {
            let r = tokio::time::timeout(timeout, c.connect(addr)).await;
            (i, addr, r)
        });
    }
    let mut failures: Vec<(usize, SocketAddr, ConnectFailure)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        let Ok((i, addr, r)) = joined else { continue };
        match r {
            Ok(Ok(stream)) => return Ok((addr, stream, started.elapsed())),
            Ok(Err(e)) => failures.push((i, addr, classify(&e))),
            Err(_) => failures.push((i, addr, ConnectFailure::TimedOut)),
        }
    }
    failures.sort_by_key(|f| f.0);
    Err(failures.into_iter().map(|(_, a, f)| (a, f)).collect())
}

/// What a connect error means on the wire.
#[must_use]
pub fn classify(e: &io::Error) -> ConnectFailure {
    if let Some(p) = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<super::proxy::ProxyRefused>())
    {
        return ConnectFailure::ProxyRefused {
            status: p.status,
            line: p.line.clone(),
        };
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
        // A RST in SYN-SENT is "refused"; "reset" means the handshake had completed.
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            ConnectFailure::ResetAfterAccept
        }
        io::ErrorKind::TimedOut => ConnectFailure::TimedOut,
        io::ErrorKind::HostUnreachable => ConnectFailure::Unreachable {
            detail: "host unreachable (ICMP host unreachable or administratively prohibited)"
                .into(),
        },
        io::ErrorKind::NetworkUnreachable => ConnectFailure::Unreachable {
            detail: "network unreachable (no route, or ICMP net unreachable)".into(),
        },
        io::ErrorKind::AddrNotAvailable => ConnectFailure::Unreachable {
            detail: "no usable local address for this destination (is IPv6 configured?)".into(),
        },
        // Linux answers EPERM/EACCES when a local OUTPUT rule drops or rejects the SYN.
        io::ErrorKind::PermissionDenied => ConnectFailure::Unreachable {
            detail: "this machine's own firewall did not let the connection out".into(),
        },
        _ => ConnectFailure::Other {
            detail: e.to_string(),
        },
    }
}
