//! Accepting on one listener: the connection limit (excess connections are closed at once),
//! one task per connection under the overall time limit, and the log events they report.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::profile::ProbeKind;
use crate::sanitize;

use super::conn::{self, Answer};
use super::context::{Ctx, CONNECTION_TIMEOUT};

/// One log line: a connection and how it ended.
pub(super) struct Event {
    pub(super) peer: Option<SocketAddr>,
    pub(super) port: u16,
    pub(super) probe: ProbeKind,
    pub(super) result: String,
}

/// Counters of one port, shared by its listeners.
#[derive(Default)]
pub(super) struct PortStats {
    pub(super) connections: AtomicU64,
    pub(super) refused: AtomicU64,
}

/// What every accept loop and connection task of a run shares.
pub(super) struct Shared {
    pub(super) ctx: Ctx,
    pub(super) slots: Arc<Semaphore>,
    pub(super) max_connections: usize,
    pub(super) events: mpsc::Sender<Event>,
}

/// The port a listener serves and how it is probed.
#[derive(Clone, Copy)]
pub(super) struct PortRef {
    pub(super) port: u16,
    pub(super) probe: ProbeKind,
}

/// Accepts until aborted; serves each connection in its own task (aborted with the loop),
/// or closes it at once when `max_connections` are in flight.
pub(super) async fn accept_loop(
    listener: tokio::net::TcpListener,
    at: PortRef,
    shared: Arc<Shared>,
    stats: Arc<PortStats>,
) {
    let answer = Answer::for_probe(at.probe);
    let mut conns = JoinSet::new();
    let mut last_error: Option<Instant> = None;
    let event = move |peer, result| Event {
        peer,
        port: at.port,
        probe: at.probe,
        result,
    };
    loop {
        let accepted = listener.accept().await;
        while conns.try_join_next().is_some() {}
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: say so now and then, never spin.
                if last_error.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    last_error = Some(Instant::now());
                    let _ = shared
                        .events
                        .try_send(event(None, format!("accept failed: {e}")));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let peer = unmapped(peer);
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let Ok(permit) = Arc::clone(&shared.slots).try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(tcp);
            let result = format!(
                "closed at once: {} connections already in flight (--max-connections)",
                shared.max_connections
            );
            let _ = shared.events.try_send(event(Some(peer), result));
            continue;
        };
        let shared = Arc::clone(&shared);
        conns.spawn(async move {
            let served = conn::serve(&shared.ctx, answer, tcp, peer, at.port);
            let result = match tokio::time::timeout(CONNECTION_TIMEOUT, served).await {
                Ok(result) => result,
                Err(_) => format!(
                    "closed: the connection reached the limit of {}",
                    sanitize::duration(CONNECTION_TIMEOUT)
                ),
            };
            drop(permit);
            let _ = shared.events.send(event(Some(peer), result)).await;
        });
    }
}

/// An IPv4 client of a dual-stack socket appears as `::ffff:a.b.c.d`; the client itself
/// knows its address as `a.b.c.d`.
fn unmapped(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => peer,
        },
        SocketAddr::V4(_) => peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_mapped_peers_are_shown_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:50312".parse().expect("addr");
        assert_eq!(
            unmapped(mapped),
            "192.0.2.7:50312".parse::<SocketAddr>().expect("addr")
        );
        let v6: SocketAddr = "[2001:db8::1]:1".parse().expect("addr");
        assert_eq!(unmapped(v6), v6);
    }
}
