//! Runs one probe: connect, TLS, protocol — recording phase timings into an [`Observation`].
//! Probes judge nothing and print nothing.

pub mod attempts;
pub mod canary;
pub mod connector;
pub mod deadline;
pub mod dialogue;
pub mod dns;
pub mod e2e;
pub mod http;
pub mod legacy;
pub mod listening;
pub mod proxy;
pub mod reset;
pub mod rtt;
pub mod starttls;
pub mod tcp;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::AlertDescription;
use tokio::time::Instant;

use crate::config::profile::ProbeKind;
use crate::config::{Host, HostSpec, PathSpec};
use crate::observation::{ConnectFailure, Observation, Outcome, Phase, ProtocolEnd, TlsFailure};
use connector::Connector;
use deadline::Deadline;
use dialogue::{Conn, HttpScript};
use starttls::imap::Imap;
use starttls::ldap::Ldap;
use starttls::pop3::Pop3;
use starttls::{Dialogue, Failure};
use tls::TlsContext;

/// What every probe of a run shares.
pub struct ProbeContext<C> {
    pub connector: Arc<C>,
    pub tls: Arc<TlsContext>,
    /// The timeout of each step.
    pub timeout: Duration,
    /// The shared secret of `--token`, for the responder's HMAC.
    pub token: Option<Vec<u8>>,
    /// Counts finished probes for the progress line.
    pub progress: Arc<crate::progress::Progress>,
    /// How fast each route answers, learned during the run (shared by every probe).
    pub routes: Arc<rtt::RouteTimes>,
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
    /// Tunnel through the HTTP proxy at `addrs` on this port (`http://…`), instead of
    /// connecting to `addrs` on `port`.
    pub proxy: Option<(u16, String)>,
}

impl Job {
    /// An observation of this job that never got to the network. It does no I/O: whether
    /// `address` is this machine's (`local_target`) is the connector's to say, in [`run`].
    #[must_use]
    pub fn observe(&self, outcome: Outcome, address: Option<SocketAddr>) -> Observation {
        let mut obs = Observation::new(
            Arc::clone(&self.path),
            Some(self.host.clone()),
            self.port,
            outcome,
        );
        obs.address = address;
        obs.via_proxy = self.proxy.as_ref().map(|p| p.1.clone());
        obs.timings.dns = self.dns_time;
        obs.timings.total = self.dns_time.unwrap_or_default();
        obs
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
        .map(|ip| match &job.proxy {
            Some((port, _)) => SocketAddr::new(*ip, *port),
            // A link-local target's zone (`fe80::1%eth0`) goes into the address; validation
            // already refused a zone this machine does not have.
            None => job
                .host
                .socket_addr(*ip, job.port)
                .unwrap_or_else(|_| SocketAddr::new(*ip, job.port)),
        })
        .collect();
    let mut obs = job.observe(Outcome::Completed, addrs.first().copied());

    let finish = |obs: Observation, outcome: Outcome| finish(obs, outcome, job, started);

    let connected = attempts::connect(
        &ctx.connector,
        &addrs,
        ctx.timeout,
        &ctx.routes,
        C::ROUTE_TIMES,
    )
    .await;
    let (addr, stream, took) = match connected {
        Ok((addr, stream, took, tries)) => {
            obs.connect_tries = Some(tries);
            (addr, stream, took)
        }
        Err(mut failures) => {
            let (addr, first, tries) = if failures.is_empty() {
                (
                    None,
                    ConnectFailure::Other {
                        detail: "no address to connect to".into(),
                    },
                    None,
                )
            } else {
                let (a, f, t) = failures.remove(0);
                (Some(a), f, Some(t))
            };
            obs.address = addr;
            obs.local_target = addr.is_some_and(|a| ctx.connector.is_local(a.ip()));
            obs.other_attempts = failures.into_iter().map(|(a, f, _)| (a, f)).collect();
            obs.connect_tries = tries;
            obs.timings.connect = Some(started.elapsed());
            if let (ConnectFailure::ResetAfterAccept, Some(addr), None) = (&first, addr, &job.proxy)
            {
                // Accepted: go on as if connected, over the reset connection.
                return after_reset(ctx, job, obs, addr, &deadline, started).await;
            }
            return finish(obs, Outcome::Connect(first));
        }
    };
    obs.address = Some(addr);
    obs.local_target = ctx.connector.is_local(addr.ip());
    obs.local_addr = C::local_addr(&stream);
    obs.timings.connect = Some(took);

    let name = server_name(&job.host, addr);
    let kind = job.path.probe;
    let conn = if kind.is_implicit_tls() {
        let t = Instant::now();
        let heard: [Arc<AtomicUsize>; 2] = Default::default();
        let hedged = handshake_hedged(ctx, stream, addr, &name, &heard);
        let r = deadline.step(Phase::Tls, hedged).await;
        obs.timings.tls = Some(t.elapsed());
        obs.tls_connections = 1;
        let r = r.map(|(r, connections, local)| {
            obs.tls_connections = connections;
            if local.is_some() {
                obs.local_addr = local;
            }
            r
        });
        if matches!(r, Err(to) if !to.overall) {
            // Silent to the end: the second connection was opened and waited too.
            obs.tls_connections = 2;
        }
        match r {
            Err(to) if to.overall => return finish(obs, Outcome::Deadline { phase: to.phase }),
            Err(_) => return finish(obs, Outcome::Tls(silence_or_stall(&heard))),
            Ok(Err(f)) => {
                if refused_our_tls(&f) {
                    let sni = match &name {
                        ServerName::DnsName(n) => Some(n.as_ref().to_string()),
                        _ => None,
                    };
                    let look = deadline
                        .step(Phase::Tls, legacy_look(ctx, addr, sni.as_deref()))
                        .await;
                    if let Ok(Some((version, suite, chain))) = look {
                        let certs: Vec<_> = chain
                            .into_iter()
                            .map(rustls::pki_types::CertificateDer::from)
                            .collect();
                        obs.tls = Some(ctx.tls.judge_chain(&certs, &name, version, suite));
                    }
                }
                return finish(obs, Outcome::Tls(f));
            }
            Ok(Ok((tls_stream, facts))) => {
                obs.tls = Some(facts);
                Conn::Tls(Box::new(tls_stream))
            }
        }
    } else {
        Conn::Plain(stream)
    };

    talk(ctx, job, obs, conn, &name, &deadline, started).await
}

/// The end of a probe: its outcome and total time (the name's lookup included).
fn finish(mut obs: Observation, outcome: Outcome, job: &Job, started: Instant) -> Observation {
    obs.outcome = outcome;
    obs.timings.total = started.elapsed() + job.dns_time.unwrap_or_default();
    obs
}

/// A connection the peer accepted and reset before the connect call returned: the probe
/// talks to a [`reset::ResetStream`] as it would to the connection, so that the verdict is
/// the one a reset a moment later gives.
async fn after_reset<C: Connector>(
    ctx: &ProbeContext<C>,
    job: &Job,
    mut obs: Observation,
    addr: SocketAddr,
    deadline: &Deadline,
    started: Instant,
) -> Observation {
    let name = server_name(&job.host, addr);
    let stream = reset::ResetStream;
    let conn = if job.path.probe.is_implicit_tls() {
        obs.tls_connections = 1;
        match ctx.tls.handshake(stream, &name).await {
            Ok((s, facts)) => {
                obs.tls = Some(facts);
                Conn::Tls(Box::new(s))
            }
            Err(f) => return finish(obs, Outcome::Tls(f), job, started),
        }
    } else {
        Conn::Plain(stream)
    };
    talk(ctx, job, obs, conn, &name, deadline, started).await
}

/// After the connection (and, on a TLS port, the handshake): the protocol of the path.
async fn talk<C, S>(
    ctx: &ProbeContext<C>,
    job: &Job,
    mut obs: Observation,
    conn: Conn<S>,
    name: &ServerName<'static>,
    deadline: &Deadline,
    started: Instant,
) -> Observation
where
    C: Connector,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let finish = |obs: Observation, outcome: Outcome| finish(obs, outcome, job, started);
    let kind = job.path.probe;
    let t = Instant::now();
    let nonce = crate::e2e::new_nonce();
    let driven = match kind {
        ProbeKind::Tcp => None,
        ProbeKind::Tls => {
            if let Conn::Tls(mut s) = conn {
                let (seen, error) = e2e::listen(&mut s, ctx, &nonce, obs.timings.tls).await;
                obs.e2e = seen;
                let requested = obs.tls.as_ref().is_some_and(|t| t.client_cert_requested);
                obs.protocol_end = error
                    .and_then(|e| tls::alert_after_handshake(&e, requested))
                    .map(ProtocolEnd::Tls);
            }
            None
        }
        ProbeKind::Https => {
            let path = job.path.http_path.as_deref().unwrap_or("/");
            let mut script = HttpScript::new(&host_header(&job.host, job.port), path, &nonce);
            let d = dialogue::drive(conn, &mut script, &ctx.tls, name, deadline).await;
            if d.end.is_none() || script.response.is_done() {
                let head = script.response.into_outcome();
                obs.e2e = head.as_ref().ok().and_then(|h| e2e::from_header(h, &nonce));
                obs.http = Some(head);
            }
            Some(d)
        }
        ProbeKind::Imaps => {
            Some(converse(&mut obs, conn, Imap::implicit(), ctx, name, deadline).await)
        }
        ProbeKind::Pop3s => {
            Some(converse(&mut obs, conn, Pop3::implicit(), ctx, name, deadline).await)
        }
        ProbeKind::Ldaps => {
            Some(converse(&mut obs, conn, Ldap::implicit(), ctx, name, deadline).await)
        }
        ProbeKind::ImapStarttls => {
            Some(converse(&mut obs, conn, Imap::starttls(), ctx, name, deadline).await)
        }
        ProbeKind::Pop3Stls => {
            Some(converse(&mut obs, conn, Pop3::stls(), ctx, name, deadline).await)
        }
        ProbeKind::LdapStarttls => {
            Some(converse(&mut obs, conn, Ldap::starttls(), ctx, name, deadline).await)
        }
    };
    if let Some(d) = driven {
        let total = t.elapsed();
        obs.timings.tls = d.tls_time.or(obs.timings.tls);
        obs.timings.protocol = Some(total.saturating_sub(d.tls_time.unwrap_or_default()));
        if let Some(facts) = d.tls {
            obs.tls = Some(facts);
        }
        if let Some(mut end) = d.end {
            // The dialogue cannot know whether the server had asked for a client certificate.
            if let ProtocolEnd::Tls(TlsFailure::Alert {
                client_cert_requested,
                ..
            }) = &mut end
            {
                *client_cert_requested = obs.tls.as_ref().is_some_and(|t| t.client_cert_requested);
            }
            if let ProtocolEnd::TimedOut { overall: true, .. } = end {
                obs.protocol_end = Some(end);
                return finish(
                    obs,
                    Outcome::Deadline {
                        phase: Phase::Protocol,
                    },
                );
            }
            obs.protocol_end = Some(end);
        }
    }
    finish(obs, Outcome::Completed)
}

/// Runs a protocol machine and keeps its transcript in the observation.
async fn converse<S, D>(
    obs: &mut Observation,
    conn: Conn<S>,
    mut machine: D,
    ctx: &ProbeContext<impl Connector>,
    name: &ServerName<'static>,
    deadline: &Deadline,
) -> dialogue::Driven
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    D: Dialogue,
{
    let d = dialogue::drive(conn, &mut machine, &ctx.tls, name, deadline).await;
    // The statement inside TLS is the stronger one: a middlebox can rewrite plaintext.
    let t = machine.transcript();
    obs.e2e = t
        .notice_tls
        .as_deref()
        .and_then(e2e::from_greeting)
        .or_else(|| t.greeting.as_deref().and_then(e2e::from_greeting));
    obs.dialogue = Some(machine.transcript().clone());
    obs.dialogue_failure = match machine.outcome() {
        // Unfinished: the conversation ended outside the machine (see `protocol_end`).
        Ok(()) | Err(Failure::Unfinished) => None,
        Err(f) => Some(f.clone()),
    };
    d
}

/// The Host header: the name as given (an address in brackets for IPv6), with the port
/// when it is not 443.
fn host_header(host: &HostSpec, port: u16) -> String {
    let h = match &host.host {
        Host::Name(n) => n.clone(),
        Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
        Host::Ip(ip) => ip.to_string(),
    };
    if port == 443 {
        h
    } else {
        format!("{h}:{port}")
    }
}

/// The TLS handshake, confirmed: when the server has not answered within half the step
/// timeout, a second, independent connection starts its own handshake and the first answer
/// on either wins — so that one lost segment never reads as "no TLS answer". Returns the
/// result, how many connections it took, and the winner's local address when it was the
/// second.
async fn handshake_hedged<C: Connector>(
    ctx: &ProbeContext<C>,
    stream: C::Stream,
    addr: SocketAddr,
    name: &ServerName<'static>,
    heard: &[Arc<AtomicUsize>; 2],
) -> (
    Result<
        (
            tokio_rustls::client::TlsStream<tls::Tap<C::Stream>>,
            crate::observation::TlsFacts,
        ),
        TlsFailure,
    >,
    u8,
    Option<SocketAddr>,
) {
    let first = ctx.tls.handshake_heard(stream, name, Arc::clone(&heard[0]));
    tokio::pin!(first);
    let patience = ctx.timeout / 2;
    tokio::select! {
        r = &mut first => return (r, 1, None),
        () = tokio::time::sleep(patience) => {}
    }
    let second = async {
        let Ok(Ok(s)) = tokio::time::timeout(patience, ctx.connector.connect(addr)).await else {
            // The second connection got no answer: it cannot decide anything.
            return std::future::pending().await;
        };
        let local = C::local_addr(&s);
        let second = ctx.tls.handshake_heard(s, name, Arc::clone(&heard[1]));
        (second.await, local)
    };
    tokio::select! {
        r = &mut first => (r, 2, None),
        (r, local) = second => (r, 2, local),
    }
}

/// A handshake the step timeout ended: silence, or a server that began and stalled.
pub(crate) fn silence_or_stall(heard: &[Arc<AtomicUsize>]) -> TlsFailure {
    if heard.iter().any(|h| h.load(Ordering::Relaxed) > 0) {
        TlsFailure::Stalled
    } else {
        TlsFailure::TimedOut
    }
}

/// A TLS refusal that a server of older TLS gives to this tool's offer.
fn refused_our_tls(f: &TlsFailure) -> bool {
    matches!(
        f,
        TlsFailure::Alert {
            description: AlertDescription::ProtocolVersion
                | AlertDescription::HandshakeFailure
                | AlertDescription::InsufficientSecurity,
            client_cert_requested: false,
        }
    )
}

/// A second connection with the legacy `ClientHello` ([`legacy`]): the version and suite the
/// server chose (by name) and its chain, when it speaks only what this tool does not.
async fn legacy_look<C: Connector>(
    ctx: &ProbeContext<C>,
    addr: std::net::SocketAddr,
    sni: Option<&str>,
) -> Option<(rustls::ProtocolVersion, String, Vec<Vec<u8>>)> {
    let mut stream = tokio::time::timeout(ctx.timeout, ctx.connector.connect(addr))
        .await
        .ok()?
        .ok()?;
    match legacy::ask(&mut stream, sni, ctx.timeout).await {
        legacy::Answer::Hello {
            version,
            suite,
            chain,
        } if !legacy::modern(version, suite) => Some((
            rustls::ProtocolVersion::from(version),
            legacy::suite_name(suite),
            chain,
        )),
        _ => None,
    }
}
