//! Runs a check: one task per planned path, all at once, bounded by `--concurrency`. Each task
//! resolves its name through a cache shared by the run (each name once), probes every address,
//! asks the canary when the path needs it, and probes my.mailstore.com through the proxy too.
//! A run lasts as long as its slowest path, not the sum of phases. A stop (Ctrl-C, SIGTERM)
//! ends every unfinished path as `Cancelled`; a task that panics is an internal error of its
//! path only. Finishing order never shows in the results.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OnceCell, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::proxy::ProxySetting;
use crate::config::{Host, HostSpec, Target};
use crate::observation::{Canary, DnsFailure, Observation, Outcome};
use crate::plan::Planned;
use crate::probe::connector::Connector;
use crate::probe::dns::Dns;
use crate::probe::proxy::ProxyConnector;
use crate::probe::{self, canary, Job, ProbeContext};

/// A name's answer, shared by every path that names it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub result: Result<Vec<IpAddr>, DnsFailure>,
    pub took: Duration,
    /// Set when only the operating system's resolver knew the name.
    pub note: Option<String>,
}

/// The most addresses of one family that a name's paths try. A MailStore host has a few;
/// a DNS answer of hundreds (a hostile or broken server) must not open a socket each.
pub const MAX_PER_FAMILY: usize = 16;

/// Keeps the first [`MAX_PER_FAMILY`] addresses of each family, in their order; returns how
/// many there were when some were cut.
fn keep_a_few(addrs: &mut Vec<IpAddr>) -> Option<usize> {
    let before = addrs.len();
    let (mut v4, mut v6) = (0, 0);
    addrs.retain(|ip| {
        let n = if ip.is_ipv4() { &mut v4 } else { &mut v6 };
        *n += 1;
        *n <= MAX_PER_FAMILY
    });
    (addrs.len() < before).then_some(before)
}

/// Each name resolved once per run, on first use.
#[derive(Debug)]
pub struct Names {
    dns: Dns,
    cells: Mutex<HashMap<String, Arc<OnceCell<Answer>>>>,
}

impl Names {
    #[must_use]
    pub fn new(dns: Dns) -> Self {
        Self {
            dns,
            cells: Mutex::default(),
        }
    }

    /// The answer for `name`: looked up by the first caller, shared with the rest.
    pub async fn get(&self, name: &str) -> Answer {
        let cell = {
            let mut cells = self
                .cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(cells.entry(name.to_string()).or_default())
        };
        cell.get_or_init(|| async {
            let t = Instant::now();
            let (mut result, mut note) = self.dns.resolve_like_os(name).await;
            if let Ok(addrs) = &mut result {
                if let Some(cut) = keep_a_few(addrs) {
                    let said = format!(
                        "{name} resolved to {cut} addresses: only the first {MAX_PER_FAMILY} of each family were probed"
                    );
                    note = Some(note.map_or_else(|| said.clone(), |n| format!("{n}; {said}")));
                }
            }
            Answer {
                result,
                took: t.elapsed(),
                note,
            }
        })
        .await
        .clone()
    }

    /// The notes of names that only the operating system's resolver knew, or that resolved
    /// to more addresses than were probed, in name order.
    #[must_use]
    pub fn notes(&self) -> Vec<String> {
        let cells = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sorted: BTreeMap<&String, &Arc<OnceCell<Answer>>> = cells.iter().collect();
        sorted
            .values()
            .filter_map(|c| c.get().and_then(|a| a.note.clone()))
            .collect()
    }
}

/// The canary port of each address, asked once per run.
#[derive(Debug, Default)]
struct Canaries {
    cells: Mutex<HashMap<IpAddr, Arc<OnceCell<Canary>>>>,
}

impl Canaries {
    async fn get<C: Connector>(&self, ctx: &ProbeContext<C>, ip: IpAddr, port: u16) -> Canary {
        let cell = {
            let mut cells = self
                .cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(cells.entry(ip).or_default())
        };
        cell.get_or_init(|| {
            canary::probe(
                &ctx.connector,
                std::net::SocketAddr::new(ip, port),
                ctx.timeout,
            )
        })
        .await
        .clone()
    }
}

/// Everything the paths of one run share.
pub struct Run<C: Connector> {
    pub ctx: Arc<ProbeContext<C>>,
    pub names: Names,
    /// The HTTP proxy my.mailstore.com is also checked through.
    pub proxy: Option<ProxySetting>,
    pub judge: crate::verdict::Context,
    pub canary_port: u16,
    pub canary_always: bool,
    pub all_addresses: bool,
    canaries: Canaries,
    limit: Semaphore,
}

impl<C: Connector> Run<C> {
    #[must_use]
    pub fn new(
        ctx: Arc<ProbeContext<C>>,
        names: Names,
        judge: crate::verdict::Context,
        concurrency: usize,
    ) -> Self {
        Self {
            ctx,
            names,
            proxy: None,
            judge,
            canary_port: canary::DEFAULT_PORT,
            canary_always: false,
            all_addresses: false,
            canaries: Canaries::default(),
            limit: Semaphore::new(concurrency.max(1)),
        }
    }
}

/// Runs every planned path, each in its own task. The result holds every path's
/// observations, in the order of `planned`.
pub async fn run<C: Connector>(
    run: Arc<Run<C>>,
    planned: Vec<Planned>,
    cancel: CancellationToken,
) -> Vec<Observation> {
    run.ctx
        .progress
        .add(planned.iter().filter(|p| p.host.is_some()).count());
    let mut set = JoinSet::new();
    let mut ids = HashMap::new();
    for (i, p) in planned.iter().cloned().enumerate() {
        let run = Arc::clone(&run);
        let cancel = cancel.clone();
        let handle = set.spawn(async move {
            let counted = p.host.is_some();
            let obs = tokio::select! {
                biased;
                () = cancel.cancelled() => vec![unfinished(&p, Outcome::Cancelled)],
                obs = one_path(&run, &p) => obs,
            };
            if counted {
                run.ctx.progress.finish_one();
            }
            (i, obs)
        });
        ids.insert(handle.id(), i);
    }
    let mut slots: Vec<Option<Vec<Observation>>> = vec![None; planned.len()];
    while let Some(joined) = set.join_next_with_id().await {
        match joined {
            Ok((_, (i, obs))) => slots[i] = Some(obs),
            Err(e) => {
                let Some(&i) = ids.get(&e.id()) else { continue };
                let detail = if e.is_panic() {
                    format!(
                        "the probe's task panicked: {}",
                        panic_text(e.into_panic().as_ref())
                    )
                } else {
                    "the probe's task was cancelled".to_string()
                };
                tracing::error!("path {}: {detail}", planned[i].path.id);
                run.ctx.progress.finish_one();
                slots[i] = Some(vec![unfinished(&planned[i], Outcome::Internal { detail })]);
            }
        }
    }
    slots
        .into_iter()
        .zip(&planned)
        .flat_map(|(o, p)| o.unwrap_or_else(|| vec![unfinished(p, Outcome::Cancelled)]))
        .collect()
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

/// An observation of a planned path that never got to (or back from) the network.
fn unfinished(p: &Planned, outcome: Outcome) -> Observation {
    match &p.host {
        Some(host) => Job {
            path: Arc::clone(&p.path),
            host: host.clone(),
            port: p.port,
            addrs: Vec::new(),
            dns_time: None,
            proxy: None,
        }
        .observe(outcome, None),
        None => crate::plan::skipped(p),
    }
}

/// One path: its name, its probes (direct, and through the proxy for my.mailstore.com), its
/// canaries.
async fn one_path<C: Connector>(run: &Run<C>, p: &Planned) -> Vec<Observation> {
    let Some(host) = &p.host else {
        return vec![crate::plan::skipped(p)];
    };
    let resolved = match &host.host {
        Host::Ip(ip) => (Ok(vec![*ip]), None),
        Host::Name(n) => {
            let a = run.names.get(n).await;
            (a.result, Some(a.took))
        }
    };
    let jobs = crate::plan::jobs_for(p, host, resolved, run.all_addresses);
    let direct = async {
        let mut out = Vec::new();
        match jobs {
            Err(failed) => out.push(*failed),
            Ok(jobs) => {
                let mut set = Vec::new();
                for job in jobs {
                    set.push(async move { probe_with_canary(run, job).await });
                }
                out.extend(join_all(set).await);
            }
        }
        out
    };
    let proxied = async {
        match (&run.proxy, p.path.target) {
            // Boxed: only this path needs the room of a second probe.
            (Some(proxy), Target::Mailstore) => {
                Some(Box::pin(through_proxy(run, p, host, proxy)).await)
            }
            _ => None,
        }
    };
    let (mut out, proxied) = tokio::join!(direct, proxied);
    out.extend(proxied);
    out
}

/// Awaits every future at once, keeping their order.
pub(crate) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> =
        std::iter::repeat_with(|| None).take(pinned.len()).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// One address of a path: the probe under the concurrency limit, then the canary when the
/// verdict module wants it.
async fn probe_with_canary<C: Connector>(run: &Run<C>, job: Job) -> Observation {
    let Ok(_permit) = run.limit.acquire().await else {
        return job.observe(Outcome::Cancelled, None);
    };
    // Boxed where reached: a task waiting for its turn holds only a few bytes, so that
    // thousands of paths cost little memory before they run.
    let mut obs = Box::pin(probe::run(&run.ctx, &job)).await;
    if stalled(&obs) {
        // Connected, then silence: one lost segment on a lossy link (after a lost SYN-ACK
        // the kernel's retransmission timer starts at a second) must not read as a hung
        // service. A fresh connection asks again; only a second silence stands.
        let again = Box::pin(probe::run(&run.ctx, &job)).await;
        if stalled(&again) {
            obs.stalls = 2;
        } else {
            obs = again;
        }
    }
    if crate::verdict::needs_canary(&obs, &run.judge, run.canary_always) {
        if let Some(ip) = obs.address.map(|a| a.ip()) {
            obs.canary = Some(run.canaries.get(&run.ctx, ip, run.canary_port).await);
        }
    }
    obs
}

/// A probe that connected and then heard nothing more within a step (not one that got an
/// answer, however unwelcome, nor a peer that trickled until the overall deadline — that is
/// an answer too, and asking again would only double the wait): worth asking once more on a
/// fresh connection. A TLS silence was already confirmed on a second connection by the
/// probe itself.
fn stalled(obs: &Observation) -> bool {
    use crate::observation::{ProtocolEnd, TlsFailure};
    let connected = obs.timings.connect.is_some()
        && matches!(obs.outcome, Outcome::Completed | Outcome::Tls(_));
    connected
        && obs.tls_connections < 2
        && (matches!(
            obs.outcome,
            Outcome::Tls(TlsFailure::TimedOut | TlsFailure::Stalled)
        ) || matches!(
            obs.protocol_end,
            Some(
                ProtocolEnd::TimedOut { overall: false, .. }
                    | ProtocolEnd::Tls(TlsFailure::TimedOut | TlsFailure::Stalled)
            )
        ))
}

/// my.mailstore.com once more through the configured HTTP proxy, as MailStore itself goes
/// when a system proxy is set.
async fn through_proxy<C: Connector>(
    run: &Run<C>,
    p: &Planned,
    host: &HostSpec,
    proxy: &ProxySetting,
) -> Observation {
    let (addrs, dns_time) = match &proxy.host.host {
        Host::Ip(ip) => (Ok(vec![*ip]), None),
        Host::Name(n) => {
            let a = run.names.get(n).await;
            (a.result, Some(a.took))
        }
    };
    let job = Job {
        path: Arc::clone(&p.path),
        host: host.clone(),
        port: p.port,
        addrs: addrs.clone().unwrap_or_default(),
        dns_time,
        proxy: Some((proxy.host.port.unwrap_or(8080), proxy.url())),
    };
    if let Err(f) = addrs {
        return job.observe(Outcome::Dns(f), None);
    }
    let ctx = ProbeContext {
        connector: Arc::new(ProxyConnector {
            inner: Arc::clone(&run.ctx.connector),
            target: format!("{}:{}", host.display_host(), p.port),
        }),
        tls: Arc::clone(&run.ctx.tls),
        timeout: run.ctx.timeout,
        token: run.ctx.token.clone(),
        progress: Arc::clone(&run.ctx.progress),
        routes: Arc::clone(&run.ctx.routes),
    };
    let Ok(_permit) = run.limit.acquire().await else {
        return job.observe(Outcome::Cancelled, None);
    };
    probe::run(&ctx, &job).await
}

/// Raises the open-files limit as far as allowed and returns the concurrency that fits,
/// with a note when it had to shrink. Each path may hold several sockets at once (its
/// independent connect attempts, a second TLS connection, the canary).
#[must_use]
pub fn fit_concurrency(wanted: usize) -> (usize, Option<String>) {
    #[cfg(unix)]
    {
        // Keep room for the runtime, DNS and stdio.
        const RESERVE: u64 = 64;
        let per_path = u64::from(probe::attempts::MAX_ATTEMPTS) + 2;
        let want = wanted as u64 * per_path + RESERVE;
        let have = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok((soft, _)) if soft >= want => return (wanted, None),
            Ok((soft, hard)) => {
                let target = want.min(hard);
                rlimit::setrlimit(rlimit::Resource::NOFILE, target, hard).map_or(soft, |()| target)
            }
            Err(_) => return (wanted, None),
        };
        if have >= want {
            return (wanted, None);
        }
        let fits = usize::try_from((have.saturating_sub(RESERVE) / per_path).max(1)).unwrap_or(1);
        let probes = if fits == 1 { "probe" } else { "probes" };
        (
            fits,
            Some(format!(
                "--concurrency {wanted} needs {want} open files ({per_path} per path) but this process may open only {have}; running {fits} {probes} at a time"
            )),
        )
    }
    #[cfg(not(unix))]
    {
        (wanted, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_addresses_of_each_family_are_kept_in_order() {
        let v4 = (0..40u8).map(|i| IpAddr::from([198, 18, 0, i]));
        let v6 = (0..3u16).map(|i| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, i]));
        let mut addrs: Vec<IpAddr> = v4.chain(v6).collect();
        assert_eq!(keep_a_few(&mut addrs), Some(43));
        assert_eq!(addrs.len(), MAX_PER_FAMILY + 3);
        assert_eq!(addrs[0], IpAddr::from([198, 18, 0, 0]));
        assert!(addrs[MAX_PER_FAMILY..].iter().all(IpAddr::is_ipv6));
        let mut few = addrs[..2].to_vec();
        assert_eq!(keep_a_few(&mut few), None);
        assert_eq!(few.len(), 2);
    }

    /// A path waiting for its turn must stay small: 5,000 of them wait at once.
    #[test]
    fn a_waiting_path_is_small() {
        let ctx = Arc::new(ProbeContext {
            connector: Arc::new(crate::probe::connector::TcpConnector),
            tls: Arc::new(crate::probe::tls::TlsContext::new(&[]).expect("tls")),
            timeout: Duration::from_secs(1),
            token: None,
            progress: Arc::default(),
            routes: Arc::default(),
        });
        let judge = crate::verdict::Context {
            role_label: "mgmt",
            hostname: "h".into(),
            timeout: Duration::from_secs(1),
            pins: Vec::new(),
            signatures: crate::config::load_signatures(&[]).expect("signatures"),
            token: None,
            expiry: crate::verdict::Expiry::from_now(30),
        };
        let run = Run::new(
            ctx,
            Names::new(Dns::new(None, Duration::from_secs(1))),
            judge,
            1,
        );
        let cfg = crate::config::validate_check(
            &<crate::cli::Cli as clap::Parser>::try_parse_from([
                "mssp-check",
                "--role",
                "mgmt",
                "--ih",
                "127.0.0.1",
            ])
            .expect("parses")
            .check,
        )
        .expect("valid");
        let planned = crate::plan::plan(&cfg);
        let p = planned.iter().find(|p| p.host.is_some()).expect("a path");
        let size = std::mem::size_of_val(&one_path(&run, p));
        assert!(size < 4096, "a waiting path holds {size} bytes");
    }
}
