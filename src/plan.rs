//! Roles × targets → what to probe. No I/O: the runner resolves each name, and [`jobs_for`]
//! turns its answer into [`Job`]s.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{flag_for, HostSpec, PathSpec, RunConfig};
use crate::observation::{DnsFailure, Observation, Outcome};
use crate::probe::Job;

/// A path with the host it goes to (or none: skipped).
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: Arc<PathSpec>,
    pub host: Option<HostSpec>,
    pub port: u16,
    /// Left out by `--only` or `--skip` (the flag's name).
    pub excluded: Option<&'static str>,
}

/// The answer for one name.
pub type Resolution = (Result<Vec<IpAddr>, DnsFailure>, Duration);

/// Every path of the role with every host given for it.
#[must_use]
pub fn plan(cfg: &RunConfig) -> Vec<Planned> {
    let mut out = Vec::new();
    for path in cfg.paths() {
        let path = Arc::new(path.clone());
        let hosts = cfg.targets.for_path(&path);
        let default_port = path.port.saturating_add(cfg.port_offset);
        let excluded = cfg.excluded(path.port);
        if hosts.is_empty() || excluded.is_some() {
            out.push(Planned {
                path,
                host: None,
                port: default_port,
                excluded,
            });
            continue;
        }
        for host in hosts {
            out.push(Planned {
                path: Arc::clone(&path),
                port: host.port.unwrap_or(default_port),
                host: Some(host),
                excluded: None,
            });
        }
    }
    out
}

/// The observation of a path that has no target: skipped, naming the flag that would test it.
#[must_use]
pub fn skipped(p: &Planned) -> Observation {
    let outcome = match p.excluded {
        Some(by) => Outcome::Excluded { by },
        None => Outcome::Skipped {
            flag: flag_for(&p.path),
        },
    };
    Observation::new(Arc::clone(&p.path), None, p.port, outcome)
}

/// The jobs of one planned path to `host`, from its name's answer (`resolved`: the addresses
/// and how long the lookup took, `None` for an address literal): one job that tries every
/// address, or one per address (`--all-addresses`, and my.mailstore.com always). A name that
/// did not resolve is an observation at once.
///
/// # Errors
/// The `dns` observation of a name that did not resolve.
pub fn jobs_for(
    p: &Planned,
    host: &HostSpec,
    resolved: (Result<Vec<IpAddr>, DnsFailure>, Option<Duration>),
    all_addresses: bool,
) -> Result<Vec<Job>, Box<Observation>> {
    let (addrs, dns_time) = resolved;
    let job = Job {
        path: Arc::clone(&p.path),
        host: host.clone(),
        port: p.port,
        addrs: Vec::new(),
        dns_time,
        proxy: None,
    };
    match addrs {
        Err(f) => Err(Box::new(job.observe(Outcome::Dns(f), None))),
        Ok(addrs) if all_addresses || p.path.all_addresses => Ok(addrs
            .into_iter()
            .map(|ip| Job {
                addrs: vec![ip],
                ..job.clone()
            })
            .collect()),
        Ok(addrs) => Ok(vec![Job { addrs, ..job }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate_check;
    use clap::Parser;

    fn cfg(line: &str) -> RunConfig {
        let cli = crate::cli::Cli::try_parse_from(
            std::iter::once("mssp-check").chain(line.split_whitespace()),
        )
        .expect("parses");
        validate_check(&cli.check).expect("valid")
    }

    #[test]
    fn missing_targets_are_skipped_with_their_flag() {
        let planned = plan(&cfg("--role ih --mgmt mgmt01"));
        let skipped: Vec<_> = planned
            .iter()
            .filter(|p| p.host.is_none())
            .filter_map(|p| match skipped(p).outcome {
                Outcome::Skipped { flag } => Some(flag),
                _ => None,
            })
            .collect();
        assert!(skipped.contains(&"--imap") && skipped.contains(&"--ldap"));
        assert_eq!(skipped.len(), 7);
        let mgmt = planned.iter().find(|p| p.host.is_some()).expect("mgmt01");
        let failed = jobs_for(
            mgmt,
            mgmt.host.as_ref().expect("host"),
            (Err(DnsFailure::NxDomain), Some(Duration::ZERO)),
            false,
        );
        let Err(obs) = failed else {
            panic!("a name that did not resolve has no job")
        };
        assert_eq!(obs.outcome, Outcome::Dns(DnsFailure::NxDomain));
    }

    #[test]
    fn port_override_and_offset() {
        let planned = plan(&cfg(
            "--role mgmt --ih 127.0.0.1:18472 --cas 127.0.0.1 --port-offset 10000",
        ));
        let ports: Vec<(String, u16)> = planned
            .iter()
            .map(|p| (p.path.id.clone(), p.port))
            .collect();
        assert!(ports.contains(&("multi-8472-mgmt-ih".into(), 18472)));
        assert!(ports.contains(&("multi-8473-mgmt-cas".into(), 18473)));
    }

    #[test]
    fn mailstore_probes_every_address() {
        let planned = plan(&cfg("--role mgmt --ih 127.0.0.1"));
        let two: Vec<IpAddr> = vec![
            "127.0.0.2".parse().expect("ip"),
            "127.0.0.3".parse().expect("ip"),
        ];
        let ms = planned
            .iter()
            .find(|p| p.path.id == "multi-443-mgmt-mailstore")
            .expect("planned");
        let host = ms.host.as_ref().expect("built in");
        let jobs = jobs_for(ms, host, (Ok(two.clone()), None), false).expect("jobs");
        assert_eq!(jobs.len(), 2);
        assert!(jobs.iter().all(|j| j.addrs.len() == 1));
        let ih = planned
            .iter()
            .find(|p| p.path.id == "multi-8472-mgmt-ih")
            .expect("planned");
        let one =
            jobs_for(ih, ih.host.as_ref().expect("host"), (Ok(two), None), false).expect("jobs");
        assert_eq!(one.len(), 1, "one job tries every address of a name");
    }
}
