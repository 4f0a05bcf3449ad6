//! Small hand-made runs for the unit tests of this module (the integration tests use real
//! runs on loopback).

use std::net::IpAddr;

use super::input::{Inbound, Leaf, PathResult, Run};
use crate::config::profile::{ProbeKind, Role};
use crate::verdict::{Severity, Verdict};

/// A result of `source` to `host:port` with this verdict (required, tls).
pub fn result(source: Role, target: &str, host: &str, port: u16, verdict: Verdict) -> PathResult {
    let severity = match verdict {
        Verdict::Ok => Severity::Pass,
        Verdict::Skipped => Severity::Skip,
        _ => Severity::Fail,
    };
    PathResult {
        path: format!("multi-{port}-{}-{target}", source.label()),
        port,
        source,
        target: target.into(),
        host: (!host.is_empty()).then(|| host.into()),
        address: Some(format!("10.0.0.{}:{port}", host.len())),
        local_address: None,
        probe: ProbeKind::Tls,
        required: true,
        verdict,
        severity,
        reason: format!("{} reason", verdict.label()),
        hint: None,
        findings: Vec::new(),
        leaf: None,
        trusted_public: false,
        via_proxy: None,
        greeting: None,
        total_ms: 5,
    }
}

/// The same result with a leaf certificate whose fingerprints derive from `tag`.
pub fn with_leaf(mut r: PathResult, tag: &str, issuer: &str) -> PathResult {
    r.leaf = Some(Leaf {
        subject: "CN=ih01".into(),
        issuer: issuer.into(),
        sha1: format!("{tag:0>40}"),
        sha256: format!("{tag:0>64}"),
    });
    r
}

/// A run of `host` with one role.
pub fn run(host: &str, role: Role, results: Vec<PathResult>) -> Run {
    Run {
        file: format!("{host}.json"),
        host: host.into(),
        os_hostname: None,
        roles: vec![role],
        addresses: Vec::new(),
        version: "0.1.0".into(),
        started_at: "2026-11-29T10:00:00Z".into(),
        duration_ms: 100,
        results,
        notes: Vec::new(),
        inbound: Vec::new(),
    }
}

/// The run with its own inbound check of `port`.
pub fn listening(mut r: Run, port: u16, listening: bool) -> Run {
    r.inbound.push(Inbound {
        port,
        listening: Some(listening),
        detail: "its own check".into(),
    });
    r
}

/// The run claiming these addresses as its own.
pub fn addresses(mut r: Run, ips: &[&str]) -> Run {
    r.addresses = ips
        .iter()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .collect();
    r
}

/// The merged view of these runs, without a site file.
pub fn view(runs: Vec<Run>) -> super::View {
    let profiles = crate::config::profile::Profiles::embedded().expect("profiles");
    super::build(runs, Vec::new(), None, &profiles, false).expect("builds")
}
