//! Accepting on one listener: the connection limit (see `slots`; a connection turned away
//! is told so in a line it can recognise), one task per connection under the handshake and
//! overall time limits, and the log events they report.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::profile::ProbeKind;
use crate::sanitize;

use super::conn::{self, Answer};
use super::context::{Ctx, CONNECTION_TIMEOUT, HANDSHAKE_TIMEOUT};
use super::slots::{Slot, Slots, Stage};

/// The first word of the line a connection turned away for capacity gets, before any TLS:
/// the probe recognises it (`verdict`) and says that the responder is busy, not that TLS
/// failed. On the IMAP port it follows `* BYE [UNAVAILABLE]` (RFC 9051 §7.1), which IMAP
/// clients understand.
pub const BUSY: &str = "MSSP-CHECK-BUSY";
/// How long a turned-away connection is read and discarded after the busy line, so that its
/// unread `ClientHello` does not turn our close into a reset that hides the line.
const BUSY_DRAIN: Duration = Duration::from_secs(1);

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
    pub(super) slots: Arc<Slots>,
    pub(super) events: mpsc::Sender<Event>,
    /// Turned away since the last summary line (logged once a second, not one line each, so
    /// that a flood cannot fill a disk).
    pub(super) turned_away: AtomicU64,
    pub(super) drainers: Arc<Semaphore>,
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
        let Some((slot, evicted)) = shared.slots.admit() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            shared.turned_away.fetch_add(1, Ordering::Relaxed);
            if let Ok(permit) = Arc::clone(&shared.drainers).try_acquire_owned() {
                let line = busy_line(answer, shared.slots.max());
                conns.spawn(async move {
                    turn_away(tcp, line).await;
                    drop(permit);
                });
            }
            continue;
        };
        if evicted.is_some() {
            tracing::debug!("a slot was taken from a connection {evicted:?}");
        }
        let shared = Arc::clone(&shared);
        conns.spawn(async move {
            let served = conn::serve(&shared.ctx, answer, tcp, peer, at.port, &slot.stage);
            let result = within_limits(served, &slot).await;
            drop(slot);
            let _ = shared.events.send(event(Some(peer), result)).await;
        });
    }
}

/// Runs a connection until it ends, its handshake is overdue, its time is up, or a newer
/// connection took its slot.
async fn within_limits(served: impl std::future::Future<Output = String>, slot: &Slot) -> String {
    tokio::pin!(served);
    let overall = tokio::time::sleep(CONNECTION_TIMEOUT);
    let handshake = tokio::time::sleep(HANDSHAKE_TIMEOUT);
    tokio::pin!(overall, handshake);
    let mut handshake_pending = true;
    loop {
        tokio::select! {
            result = &mut served => return result,
            () = &mut overall => return format!(
                "closed: the connection reached the limit of {}",
                sanitize::duration(CONNECTION_TIMEOUT)
            ),
            () = slot.evicted.cancelled() => return match slot.stage.get() {
                Stage::Answered => "answered; closed to make room for a new connection (--max-connections)".into(),
                _ => "closed to make room for a new connection (--max-connections): no TLS handshake yet".into(),
            },
            () = &mut handshake, if handshake_pending => {
                if slot.stage.get() == Stage::Handshake {
                    return format!(
                        "closed: no TLS handshake within {}",
                        sanitize::duration(HANDSHAKE_TIMEOUT)
                    );
                }
                handshake_pending = false;
            }
        }
    }
}

/// What a connection turned away for capacity is told, by how its port answers.
fn busy_line(answer: Answer, max: usize) -> Option<String> {
    let text = format!(
        "{BUSY} {max} connections in flight (mssp-check listen --max-connections); try again"
    );
    match answer {
        Answer::ImapStarttls => Some(format!("* BYE [UNAVAILABLE] {text}\r\n")),
        Answer::Imaps | Answer::Https | Answer::Tls => Some(format!("{text}\r\n")),
        // A TCP probe only connects: it has its answer already.
        Answer::Accept => None,
    }
}

/// Writes the busy line, closes our side, and reads what the client had sent until it
/// closes too (at most [`BUSY_DRAIN`]), so that the close is a FIN, not a reset.
async fn turn_away(mut tcp: TcpStream, line: Option<String>) {
    let Some(line) = line else { return };
    let _ = tcp.set_nodelay(true);
    let work = async {
        tcp.write_all(line.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(BUSY_DRAIN, work).await;
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
