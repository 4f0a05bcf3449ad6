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

/// Linux says EPERM when a rule of this machine's own OUTPUT chain drops the SYN, and EACCES
/// for an `ICMPv6` "administratively prohibited" — sent by a firewall on the way, or by a
/// REJECT rule of this machine. Elsewhere the two are not told apart.
fn permission_denied(e: &io::Error) -> &'static str {
    const EACCES: i32 = 13;
    if cfg!(target_os = "linux") && e.raw_os_error() == Some(EACCES) {
        "administratively prohibited (ICMPv6): a firewall on the way, or this machine's own, rejects the connection"
    } else {
        "this machine's own firewall did not let the connection out"
    }
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
        io::ErrorKind::PermissionDenied => ConnectFailure::Unreachable {
            detail: permission_denied(e).into(),
        },
        _ => ConnectFailure::Other {
            detail: e.to_string(),
        },
    }
}

// Linux's errno values: EPERM 1, EACCES 13, ECONNRESET 104.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_by_permission_names_who_may_have_sent_it() {
        let words = |errno: i32| match classify(&io::Error::from_raw_os_error(errno)) {
            ConnectFailure::Unreachable { detail } => detail,
            other => panic!("{other:?}"),
        };
        // EPERM: a local OUTPUT rule.
        assert_eq!(
            words(1),
            "this machine's own firewall did not let the connection out"
        );
        // EACCES: an ICMPv6 administratively prohibited, often from a router.
        assert!(words(13).contains("a firewall on the way"), "{}", words(13));
        assert!(matches!(
            classify(&io::Error::from_raw_os_error(104)),
            ConnectFailure::ResetAfterAccept
        ));
    }
}
