//! `mssp-check listen --role R` (DESIGN §7): binds the inbound ports of role R and answers
//! each as its probe expects, with the end-to-end statement ([`crate::e2e`], DESIGN §5.1)
//! inside TLS — so that a deployment's firewalls can be verified before MailStore SPE is
//! installed.
//!
//! Limits: at most [`ListenConfig::max_connections`] connections in flight, fitted to the
//! open-file limit (at the limit, answered and stuck connections make room; otherwise a new
//! one is told it is busy, see `slots`), a TLS handshake within [`HANDSHAKE_TIMEOUT`], [`ListenConfig::max_bytes`] read per connection, every read
//! [`READ_TIMEOUT`], every connection [`CONNECTION_TIMEOUT`].

mod accept;
mod conn;
mod context;
mod http;
mod identity;
mod imap;
mod log;
mod ports;
mod slots;
mod stream;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::profile::{ProbeKind, Profiles, Role};

pub use accept::BUSY;
use accept::{accept_loop, PortRef, PortStats, Shared};
use context::Ctx;
pub use context::{CONNECTION_TIMEOUT, HANDSHAKE_TIMEOUT, READ_TIMEOUT};
pub use http::SERVER;
pub use identity::Identity;
pub use imap::{GREETING_TEXT, TLS_TEXT};
pub use ports::{inbound_ports, role_target, InboundPort};

/// How long the responder runs unless told otherwise.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(15 * 60);
/// Connections served at the same time.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Bytes read from one connection, TLS records included.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;
/// Pending log lines; beyond this, the connection tasks wait.
const EVENT_QUEUE: usize = 1024;
/// How long a connection may be short of its TLS handshake before a new one, at the
/// connection limit, may take its slot.
const EVICTION_GRACE: Duration = Duration::from_secs(1);

/// What `mssp-check listen` was asked to do.
#[derive(Clone)]
pub struct ListenConfig {
    pub role: Role,
    pub profiles: Profiles,
    /// `::` (with `0.0.0.0` where `::` is IPv6 only, or instead when IPv6 is off), or one address.
    pub bind: IpAddr,
    /// Added to every profile port (to test without root, or beside a running service).
    pub port_offset: u16,
    /// `--cert` and `--key` (PEM); `None`: a self-signed certificate made at start.
    pub identity: Option<(PathBuf, PathBuf)>,
    pub duration: Duration,
    pub max_connections: usize,
    /// Read cap per connection, in bytes.
    pub max_bytes: usize,
    /// Shared secret that signs every statement (`mac=`).
    pub token: Option<Vec<u8>>,
}

impl ListenConfig {
    /// The defaults: all addresses, no offset, a generated certificate, 15 min, 64
    /// connections, 64 KiB, no token.
    #[must_use]
    pub fn new(role: Role, profiles: Profiles) -> Self {
        ListenConfig {
            role,
            profiles,
            bind: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            port_offset: 0,
            identity: None,
            duration: DEFAULT_DURATION,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_bytes: DEFAULT_MAX_BYTES,
            token: None,
        }
    }
}

impl fmt::Debug for ListenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenConfig")
            .field("role", &self.role)
            .field("bind", &self.bind)
            .field("port_offset", &self.port_offset)
            .field("identity", &self.identity)
            .field("duration", &self.duration)
            .field("max_connections", &self.max_connections)
            .field("max_bytes", &self.max_bytes)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Why the responder could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    #[error(
        "role {role} has no inbound ports: no path of the profiles ends at it, so there is \
         nothing to listen for; run `mssp-check listen` on the machines the paths go to \
         (--role server, mgmt, ih or cas), and `mssp-check --role {role}` here"
    )]
    NoInboundPorts { role: &'static str },
    #[error("--port-offset {offset} moves port {port} past 65535")]
    PortOutOfRange { port: u16, offset: u16 },
    /// `--cert` / `--key`: unreadable, empty, or not a pair.
    #[error("{}: {message}", file.display())]
    Identity { file: PathBuf, message: String },
    #[error("cannot generate the certificate: {0}")]
    Certificate(String),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("no port could be bound:\n  {}", .0.join("\n  "))]
    NothingBound(Vec<String>),
}

impl ListenError {
    /// Bad input (exit code 2) rather than a failure of the machine (3).
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ListenError::NoInboundPorts { .. }
                | ListenError::PortOutOfRange { .. }
                | ListenError::Identity { .. }
        )
    }
}

/// Why the responder stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--duration` ran out.
    Duration,
    /// The cancellation token fired (Ctrl-C).
    Cancelled,
}

/// One inbound port: where it listened, or why not, and what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSummary {
    /// The port listened on (profile port + offset).
    pub port: u16,
    /// The profile's port.
    pub profile_port: u16,
    pub probe: ProbeKind,
    /// Empty when the port could not be bound.
    pub addresses: Vec<SocketAddr>,
    /// Why it could not be bound, with the hint.
    pub error: Option<String>,
    /// Connections accepted, including those turned away.
    pub connections: u64,
    /// Closed at once because `max_connections` were in flight.
    pub refused: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSummary {
    pub role: Role,
    /// SHA-1 of the served certificate, upper-case hex (the Windows thumbprint).
    pub cert_sha1: String,
    /// SHA-256 of the served certificate, lower-case hex.
    pub cert_sha256: String,
    pub ports: Vec<PortSummary>,
    pub stopped: StopReason,
}

impl ListenSummary {
    /// Connections on all ports.
    #[must_use]
    pub fn connections(&self) -> u64 {
        self.ports.iter().map(|p| p.connections).sum()
    }
}

/// A port ready to serve.
struct Bound {
    summary: PortSummary,
    listeners: Vec<tokio::net::TcpListener>,
    stats: Arc<PortStats>,
}

/// Binds the inbound ports of `cfg.role`, answers on them until `cfg.duration` passes or
/// `cancel` fires, and writes a banner and one line per connection to `log`.
///
/// # Errors
/// A role without inbound ports, a port offset past 65535, unusable `--cert`/`--key`, a TLS
/// setup failure, or no port bound at all. A port that is taken is not an error while
/// another one could be bound.
pub async fn run(
    cfg: &ListenConfig,
    cancel: CancellationToken,
    log: &mut (dyn Write + Send),
) -> Result<ListenSummary, ListenError> {
    let no_ports = || ListenError::NoInboundPorts {
        role: cfg.role.label(),
    };
    role_target(cfg.role).ok_or_else(no_ports)?;
    let inbound = inbound_ports(&cfg.profiles, cfg.role);
    if inbound.is_empty() {
        return Err(no_ports());
    }
    for p in &inbound {
        p.port
            .checked_add(cfg.port_offset)
            .ok_or(ListenError::PortOutOfRange {
                port: p.port,
                offset: cfg.port_offset,
            })?;
    }
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let identity = match &cfg.identity {
        Some((cert, key)) => Identity::load(cert, key)?,
        None => Identity::generate(Some(&host))?,
    };
    let server_config = identity.server_config()?;
    let bound = bind_all(cfg, &inbound, &host);
    if bound.iter().all(|b| b.listeners.is_empty()) {
        let errors = bound.into_iter().filter_map(|b| b.summary.error).collect();
        return Err(ListenError::NothingBound(errors));
    }
    let summaries: Vec<&PortSummary> = bound.iter().map(|b| &b.summary).collect();
    log::banner(log, cfg, &host, &identity, &summaries);
    let (max_connections, fitted) =
        slots::fit_connections(cfg.max_connections.clamp(1, Semaphore::MAX_PERMITS));
    if let Some(note) = fitted {
        let _ = writeln!(log, "note: {note}");
    }

    let (tx, mut rx) = mpsc::channel(EVENT_QUEUE);
    let slots = slots::Slots::new(max_connections, EVICTION_GRACE);
    let shared = Arc::new(Shared {
        ctx: Ctx {
            acceptor: tokio_rustls::TlsAcceptor::from(server_config),
            cert_sha256: identity.sha256.clone(),
            token: cfg.token.clone(),
            max_bytes: cfg.max_bytes.max(1),
        },
        slots: Arc::clone(&slots),
        events: tx,
        turned_away: AtomicU64::new(0),
        drainers: Arc::new(Semaphore::new(slots::BUSY_DRAINERS)),
    });
    let turned_away = Arc::clone(&shared);
    let mut accepting = JoinSet::new();
    let mut summaries = Vec::new();
    for b in bound {
        for listener in b.listeners {
            let port = PortRef {
                port: b.summary.port,
                probe: b.summary.probe,
            };
            accepting.spawn(accept_loop(
                listener,
                port,
                Arc::clone(&shared),
                Arc::clone(&b.stats),
            ));
        }
        summaries.push((b.summary, b.stats));
    }
    drop(shared);
    let mut tick = tokio::time::interval(Duration::from_secs(1));

    let now = Instant::now();
    let end = now
        .checked_add(cfg.duration)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(now);
    let stopped = loop {
        tokio::select! {
            () = cancel.cancelled() => break StopReason::Cancelled,
            () = tokio::time::sleep_until(end) => break StopReason::Duration,
            Some(event) = rx.recv() => log::event(log, &event),
            _ = tick.tick() => log::turned_away(log, turned_away.turned_away.swap(0, Ordering::Relaxed), max_connections),
        }
    };
    log::turned_away(
        log,
        turned_away.turned_away.swap(0, Ordering::Relaxed),
        max_connections,
    );
    drop(turned_away);
    let open = slots.in_flight();
    // Dropping an accept loop drops its connections' JoinSet, which aborts them.
    accepting.abort_all();
    while accepting.join_next().await.is_some() {}
    while let Ok(event) = rx.try_recv() {
        log::event(log, &event);
    }
    let ports: Vec<PortSummary> = summaries
        .into_iter()
        .map(|(mut s, stats)| {
            s.connections = stats.connections.load(Ordering::Relaxed);
            s.refused = stats.refused.load(Ordering::Relaxed);
            s
        })
        .collect();
    let summary = ListenSummary {
        role: cfg.role,
        cert_sha1: identity.sha1_thumbprint.clone(),
        cert_sha256: identity.sha256.clone(),
        ports,
        stopped,
    };
    log::footer(log, &summary, open);
    Ok(summary)
}

fn bind_all(cfg: &ListenConfig, inbound: &[InboundPort], host: &str) -> Vec<Bound> {
    inbound
        .iter()
        .map(|p| {
            let port = p.port.saturating_add(cfg.port_offset);
            let (listeners, error) = match ports::bind(cfg.bind, port) {
                Ok(l) => (l, None),
                Err(e) => (
                    Vec::new(),
                    Some(ports::bind_hint(&e, cfg.role, p, port, host)),
                ),
            };
            let addresses = listeners
                .iter()
                .filter_map(|l| l.local_addr().ok())
                .collect();
            Bound {
                summary: PortSummary {
                    port,
                    profile_port: p.port,
                    probe: p.probe,
                    addresses,
                    error,
                    connections: 0,
                    refused: 0,
                },
                listeners,
                stats: Arc::default(),
            }
        })
        .collect()
}
