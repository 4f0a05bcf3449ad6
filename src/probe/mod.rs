//! Runs one probe: connect, TLS, protocol — recording phase timings into an [`Observation`].
//! Probes judge nothing and print nothing.

pub mod connector;
pub mod deadline;
pub mod dns;
pub mod tcp;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::time::Instant;

use crate::config::{Host, HostSpec, PathSpec};
use crate::observation::{ConnectFailure, Observation, Outcome, Phase, Timings, TlsFailure};
use connector::Connector;
use deadline::Deadline;
use tls::TlsContext;

/// What every probe of a run shares.
pub struct ProbeContext<C> {
    pub connector: Arc<C>,
    pub tls: TlsContext,
    /// The timeout of each step.
    pub timeout: Duration,
}

/// One probe to run: a path, a host, and the addresses to try.
#[derive(Debug, Clone)]
pub struct Job {
    pub path: Arc<PathSpec>,
    pub host: HostSpec,
    pub port: u16,
    /// Tried at once; the first that connects is probed.
    pub addrs: Vec<IpAddr>,
    pub dns_time: Option<Duration>,
}

impl Job {
    /// An observation of this job that never got to the network.
    #[must_use]
    pub fn observe(&self, outcome: Outcome, address: Option<SocketAddr>) -> Observation {
        Observation {
            path: Arc::clone(&self.path),
            host: Some(self.host.clone()),
            port: self.port,
            address,
            local_target: address.is_some_and(|a| dns::is_local(a.ip())),
            other_attempts: Vec::new(),
            outcome,
            tls: None,
            timings: Timings {
                dns: self.dns_time,
                total: self.dns_time.unwrap_or_default(),
                ..Timings::default()
            },
        }
    }
}

/// The name TLS sends as SNI and verifies against.
fn server_name(host: &HostSpec, addr: SocketAddr) -> ServerName<'static> {
    match &host.host {
        Host::Name(n) => ServerName::try_from(n.clone())
            .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into())),
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
    }
}

/// Probes one job.
pub async fn run<C: Connector>(ctx: &ProbeContext<C>, job: &Job) -> Observation {
    let started = Instant::now();
    let deadline = Deadline::start(ctx.timeout);
    let addrs: Vec<SocketAddr> = job
        .addrs
        .iter()
        .map(|ip| SocketAddr::new(*ip, job.port))
        .collect();
    let mut obs = job.observe(Outcome::Completed, addrs.first().copied());

    let finish = |mut obs: Observation, outcome: Outcome| {
        obs.outcome = outcome;
        obs.timings.total = started.elapsed() + job.dns_time.unwrap_or_default();
        obs
    };

    let (addr, stream, took) = match tcp::connect_first(&ctx.connector, &addrs, ctx.timeout).await {
        Ok(ok) => ok,
        Err(mut failures) => {
            let (addr, first) = if failures.is_empty() {
                (
                    None,
                    ConnectFailure::Other {
                        detail: "no address to connect to".into(),
                    },
                )
            } else {
                let (a, f) = failures.remove(0);
                (Some(a), f)
            };
            obs.address = addr;
            obs.local_target = addr.is_some_and(|a| dns::is_local(a.ip()));
            obs.other_attempts = failures;
            obs.timings.connect = Some(started.elapsed());
            return finish(obs, Outcome::Connect(first));
        }
    };
    obs.address = Some(addr);
    obs.local_target = dns::is_local(addr.ip());
    obs.timings.connect = Some(took);

    if job.path.probe.is_implicit_tls() {
        let t = Instant::now();
        let name = server_name(&job.host, addr);
        let r = deadline
            .step(Phase::Tls, ctx.tls.handshake(stream, &name))
            .await;
        obs.timings.tls = Some(t.elapsed());
        match r {
            Err(to) if to.overall => return finish(obs, Outcome::Deadline { phase: to.phase }),
            Err(_) => return finish(obs, Outcome::Tls(TlsFailure::TimedOut)),
            Ok(Err(f)) => return finish(obs, Outcome::Tls(f)),
            Ok(Ok((_stream, facts))) => {
                obs.tls = Some(facts);
            }
        }
    }
    finish(obs, Outcome::Completed)
}
