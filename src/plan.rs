//! Roles × targets → what to probe. No I/O: names are resolved by the runner, and
//! [`expand`] turns the answers into [`Job`]s.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{flag_for, Host, HostSpec, PathSpec, RunConfig};
use crate::observation::{DnsFailure, Observation, Outcome, Timings};
use crate::probe::Job;

/// A path with the host it goes to (or none: skipped).
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: Arc<PathSpec>,
    pub host: Option<HostSpec>,
    pub port: u16,
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
        if hosts.is_empty() {
            out.push(Planned {
                path,
                host: None,
                port: default_port,
            });
            continue;
        }
        for host in hosts {
            out.push(Planned {
                path: Arc::clone(&path),
                port: host.port.unwrap_or(default_port),
                host: Some(host),
            });
        }
    }
    out
}

/// The names to resolve, each once.
#[must_use]
pub fn names(planned: &[Planned]) -> Vec<String> {
    let mut v: Vec<String> = planned
        .iter()
        .filter_map(|p| match p.host.as_ref().map(|h| &h.host) {
            Some(Host::Name(n)) => Some(n.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Turns planned paths and DNS answers into jobs; skipped paths and DNS failures become
/// observations at once.
#[must_use]
pub fn expand(
    planned: &[Planned],
    answers: &BTreeMap<String, Resolution>,
    all_addresses: bool,
) -> (Vec<Job>, Vec<Observation>) {
    let mut jobs = Vec::new();
    let mut done = Vec::new();
    for p in planned {
        let Some(host) = &p.host else {
            done.push(Observation {
                path: Arc::clone(&p.path),
                host: None,
                port: p.port,
                address: None,
                local_target: false,
                other_attempts: Vec::new(),
                outcome: Outcome::Skipped {
                    flag: flag_for(&p.path),
                },
                tls: None,
                dialogue: None,
                dialogue_failure: None,
                protocol_end: None,
                http: None,
                canary: None,
                via_proxy: None,
                local_addr: None,
                e2e: None,
                timings: Timings::default(),
            });
            continue;
        };
        let (addrs, dns_time) = match &host.host {
            Host::Ip(ip) => (Ok(vec![*ip]), None),
            Host::Name(n) => match answers.get(n) {
                Some((r, t)) => (r.clone(), Some(*t)),
                None => (Err(DnsFailure::Other("not resolved".into())), None),
            },
        };
        let job = Job {
            path: Arc::clone(&p.path),
            host: host.clone(),
            port: p.port,
            addrs: Vec::new(),
            dns_time,
            proxy: None,
        };
        match addrs {
            Err(f) => done.push(job.observe(Outcome::Dns(f), None)),
            Ok(addrs) if all_addresses || p.path.all_addresses => {
                for ip in addrs {
                    jobs.push(Job {
                        addrs: vec![ip],
                        ..job.clone()
                    });
                }
            }
            Ok(addrs) => jobs.push(Job { addrs, ..job }),
        }
    }
    (jobs, done)
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
        let (jobs, done) = expand(&planned, &BTreeMap::new(), false);
        assert!(jobs.is_empty(), "mgmt01 unresolved: no job");
        let skipped: Vec<_> = done
            .iter()
            .filter_map(|o| match o.outcome {
                Outcome::Skipped { flag } => Some(flag),
                _ => None,
            })
            .collect();
        assert!(skipped.contains(&"--imap") && skipped.contains(&"--ldap"));
        assert_eq!(done.len(), 9);
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
        let mut answers = BTreeMap::new();
        let two: Vec<IpAddr> = vec![
            "127.0.0.2".parse().expect("ip"),
            "127.0.0.3".parse().expect("ip"),
        ];
        answers.insert("my.mailstore.com".to_string(), (Ok(two), Duration::ZERO));
        let (jobs, _) = expand(&planned, &answers, false);
        let ms: Vec<_> = jobs
            .iter()
            .filter(|j| j.path.id == "multi-443-mgmt-mailstore")
            .collect();
        assert_eq!(ms.len(), 2);
        assert!(ms.iter().all(|j| j.addrs.len() == 1));
    }
}
