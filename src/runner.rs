//! Runs every probe of a run at once, bounded by `--concurrency`, and every DNS lookup
//! once. Ctrl-C cancels what has not finished; finishing order never shows in results.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::observation::{Observation, Outcome};
use crate::plan::Resolution;
use crate::probe::connector::Connector;
use crate::probe::dns::Dns;
use crate::probe::{self, canary, Job, ProbeContext};

/// Resolves each name once, all at the same time. Also returns the notes of names that only
/// the operating system's resolver knew, in name order.
pub async fn resolve_all(
    dns: Arc<Dns>,
    names: Vec<String>,
) -> (BTreeMap<String, Resolution>, Vec<String>) {
    let mut set = JoinSet::new();
    for name in names {
        let dns = Arc::clone(&dns);
        set.spawn(async move {
            let t = Instant::now();
            let (r, note) = dns.resolve_like_os(&name).await;
            (name, (r, t.elapsed()), note)
        });
    }
    let mut out = BTreeMap::new();
    let mut notes = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        if let Ok((name, r, note)) = joined {
            if let Some(n) = note {
                notes.insert(name.clone(), n);
            }
            out.insert(name, r);
        }
    }
    (out, notes.into_values().collect())
}

/// Runs `jobs`, at most `concurrency` at once. The result has one observation per job, in
/// the order of `jobs`.
pub async fn run_jobs<C: Connector>(
    ctx: Arc<ProbeContext<C>>,
    jobs: Vec<Job>,
    concurrency: usize,
    cancel: CancellationToken,
) -> Vec<Observation> {
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    ctx.progress.add(jobs.len());
    let mut set = JoinSet::new();
    for (i, job) in jobs.iter().cloned().enumerate() {
        let ctx = Arc::clone(&ctx);
        let limit = Arc::clone(&limit);
        let cancel = cancel.clone();
        set.spawn(async move {
            let obs = tokio::select! {
                biased;
                () = cancel.cancelled() => job.observe(Outcome::Cancelled, None),
                obs = async {
                    let Ok(_permit) = limit.acquire().await else {
                        return job.observe(Outcome::Cancelled, None);
                    };
                    probe::run(&ctx, &job).await
                } => obs,
            };
            (i, obs)
        });
    }
    let mut slots: Vec<Option<Observation>> = vec![None; jobs.len()];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, obs)) => {
                ctx.progress.finish_one();
                slots[i] = Some(obs);
            }
            Err(e) => tracing::error!("a probe task failed: {e}"),
        }
    }
    slots
        .into_iter()
        .zip(jobs)
        .map(|(o, job)| o.unwrap_or_else(|| job.observe(Outcome::Cancelled, None)))
        .collect()
}

/// Tries the canary port on the address of every observation marked in `wanted`, once per
/// address, all at once, and records the answer in those observations.
pub async fn run_canaries<C: Connector>(
    ctx: &Arc<ProbeContext<C>>,
    observations: &mut [Observation],
    wanted: &[bool],
    port: u16,
) {
    let mut ips: Vec<std::net::IpAddr> = observations
        .iter()
        .zip(wanted)
        .filter(|(_, w)| **w)
        .filter_map(|(o, _)| o.address.map(|a| a.ip()))
        .collect();
    ips.sort_unstable();
    ips.dedup();
    let mut set = JoinSet::new();
    for ip in ips {
        let ctx = Arc::clone(ctx);
        set.spawn(async move {
            let addr = std::net::SocketAddr::new(ip, port);
            (ip, canary::probe(&ctx.connector, addr, ctx.timeout).await)
        });
    }
    let mut answers = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        if let Ok((ip, c)) = joined {
            answers.insert(ip, c);
        }
    }
    for (o, w) in observations.iter_mut().zip(wanted) {
        if *w {
            o.canary = o.address.and_then(|a| answers.get(&a.ip()).cloned());
        }
    }
}

/// Raises the open-files limit as far as allowed and returns the concurrency that fits,
/// with a note when it had to shrink.
#[must_use]
pub fn fit_concurrency(wanted: usize) -> (usize, Option<String>) {
    #[cfg(unix)]
    {
        // Each probe holds one socket; keep room for the runtime, DNS and stdio.
        const RESERVE: u64 = 64;
        let want = wanted as u64 + RESERVE;
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
        let fits = usize::try_from(have.saturating_sub(RESERVE).max(1)).unwrap_or(1);
        (
            fits,
            Some(format!(
                "--concurrency {wanted} needs {want} open files but this process may open only {have}; running {fits} probes at a time"
            )),
        )
    }
    #[cfg(not(unix))]
    {
        (wanted, None)
    }
}
