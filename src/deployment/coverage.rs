//! Coverage against the site file (`report --site`): the site's hosts that never reported,
//! and the required paths between site hosts that no report covers.

use super::detect::same_host;
use super::finding::{and_list, Kind, MergeFinding};
use super::view::{endpoint, Source};
use crate::config::profile::{Mode, Profiles, Role, Target};
use crate::config::site::{OneOrMany, Site};
use crate::config::{Host, HostSpec};
use crate::error::UsageError;
use crate::verdict::{Severity, Verdict};

/// One machine of the site file with every role the file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteHost {
    pub spec: HostSpec,
    pub roles: Vec<Role>,
}

impl SiteHost {
    fn name(&self) -> String {
        self.spec.display_host()
    }
}

/// The machines of the site file: `[hosts]` server, mgmt, ih, cas (a machine named under
/// two roles holds both).
///
/// # Errors
/// A malformed host in the site file.
pub fn site_hosts(site: &Site, file: &str) -> Result<Vec<SiteHost>, UsageError> {
    let h = &site.hosts;
    let mut entries: Vec<(Role, &str, String)> = Vec::new();
    for (role, key, one) in [
        (Role::Server, "server", &h.server),
        (Role::Mgmt, "mgmt", &h.mgmt),
    ] {
        entries.extend(one.iter().map(|v| (role, key, v.clone())));
    }
    for (role, key, many) in [(Role::Ih, "ih", &h.ih), (Role::Cas, "cas", &h.cas)] {
        let values = many.clone().map(OneOrMany::into_vec).unwrap_or_default();
        entries.extend(values.into_iter().map(|v| (role, key, v)));
    }
    let mut out: Vec<SiteHost> = Vec::new();
    for (role, key, value) in entries {
        let specs = HostSpec::parse_list(&value)
            .map_err(|e| UsageError::new(format!("--site {file}: [hosts] {key}: {e}")))?;
        for spec in specs {
            match out.iter_mut().find(|m| m.spec.host == spec.host) {
                Some(m) if !m.roles.contains(&role) => m.roles.push(role),
                Some(_) => {}
                None => out.push(SiteHost {
                    spec,
                    roles: vec![role],
                }),
            }
        }
    }
    Ok(out)
}

/// The reporting source that is this site host.
fn source_of(host: &SiteHost, sources: &[Source]) -> Option<usize> {
    sources.iter().position(|s| match &host.spec.host {
        Host::Ip(ip) => s.addresses.contains(ip) || s.host == ip.to_string(),
        Host::Name(n) => {
            same_host(&s.host, n) || s.os_hostname.as_deref().is_some_and(|o| same_host(o, n))
        }
    })
}

fn target_role(t: Target) -> Option<Role> {
    match t {
        Target::Server => Some(Role::Server),
        Target::Mgmt => Some(Role::Mgmt),
        Target::Ih => Some(Role::Ih),
        Target::Cas => Some(Role::Cas),
        Target::Any | Target::Mailstore => None,
    }
}

/// Whether a result's host is this site host.
fn names(result_host: Option<&str>, address: Option<std::net::IpAddr>, t: &SiteHost) -> bool {
    match &t.spec.host {
        Host::Ip(ip) => address == Some(*ip) || result_host == Some(ip.to_string().as_str()),
        Host::Name(n) => result_host.is_some_and(|h| same_host(h, n)),
    }
}

/// `not-reported` and `not-covered` findings.
#[must_use]
pub fn coverage(
    hosts: &[SiteHost],
    site: &Site,
    site_file: &str,
    profiles: &Profiles,
    sources: &[Source],
) -> Vec<MergeFinding> {
    let offset = site.options.port_offset.unwrap_or(0);
    // The file name as the admin will type it on each machine.
    let site_file = std::path::Path::new(site_file).file_name().map_or_else(
        || "site.toml".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut out = Vec::new();
    for m in hosts {
        let titles: Vec<String> = m.roles.iter().map(|r| r.title().to_string()).collect();
        let Some(si) = source_of(m, sources) else {
            out.push(MergeFinding {
                kind: Kind::NotReported,
                severity: Severity::Warn,
                row: None,
                target: None,
                sources: vec![m.name()],
                detail: format!(
                    "{} ({} in the site file) never reported: its outbound paths are unchecked",
                    m.name(),
                    and_list(&titles)
                ),
                evidence: Vec::new(),
                hint: Some(format!(
                    "run `mssp-check --site {site_file} --format json > {}.json` on {} and merge its report too",
                    m.name(),
                    m.name()
                )),
                certificates: Vec::new(),
            });
            continue;
        };
        let src = &sources[si];
        for &role in &m.roles {
            let mode = if role == Role::Server {
                Mode::Single
            } else {
                Mode::Multi
            };
            for p in profiles
                .all()
                .iter()
                .filter(|p| p.source == role && p.mode == mode && p.required)
            {
                let Some(to) = target_role(p.target) else {
                    continue;
                };
                for t in hosts
                    .iter()
                    .filter(|t| t.roles.contains(&to) && t.spec.host != m.spec.host)
                {
                    let covered = src.results.iter().any(|r| {
                        r.path == p.id
                            && r.verdict != Verdict::Skipped
                            && names(r.host.as_deref(), r.address_ip(), t)
                    });
                    if covered {
                        continue;
                    }
                    let port = t.spec.port.unwrap_or(p.port.saturating_add(offset));
                    let target = endpoint(&t.name(), port);
                    let why = if src.roles.contains(&role) {
                        format!("its {} run did not check {}", role.label(), t.name())
                    } else {
                        format!(
                            "its report checked the role{} {} only, not {}",
                            if src.roles.len() == 1 { "" } else { "s" },
                            src.roles
                                .iter()
                                .map(|r| r.label())
                                .collect::<Vec<_>>()
                                .join(", "),
                            role.label()
                        )
                    };
                    out.push(MergeFinding {
                        kind: Kind::NotCovered,
                        severity: Severity::Warn,
                        row: None,
                        target: Some(target.clone()),
                        sources: vec![src.host.clone()],
                        detail: format!(
                            "no report covers {} → {target} ({}, {}): {why}",
                            src.host,
                            p.id,
                            p.probe.label()
                        ),
                        evidence: Vec::new(),
                        hint: Some(format!(
                            "run the check on {} with the site file (`mssp-check --site {site_file}`), which names every host of every role",
                            src.host
                        )),
                        certificates: Vec::new(),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::testkit::{result, run};
    use std::path::Path;

    #[test]
    fn who_never_reported_and_which_required_paths_no_report_covers() {
        let site = Site::parse(
            Path::new("site.toml"),
            "[hosts]\nmgmt = \"mgmt01.example.net\"\nih = [\"ih01.example.net\", \"ih02.example.net:18472\"]\ncas = \"cas01.example.net\"\n",
        )
        .expect("parses");
        let hosts = site_hosts(&site, "site.toml").expect("hosts");
        let mut skipped = result(
            Role::Mgmt,
            "cas",
            "cas01.example.net",
            8473,
            Verdict::Skipped,
        );
        skipped.path = "multi-8473-mgmt-cas".into();
        let mgmt = result(Role::Mgmt, "ih", "ih01.example.net", 8472, Verdict::Refused);
        let sources = crate::deployment::view::sources(vec![
            run("MGMT01", Role::Mgmt, vec![mgmt, skipped]),
            run("ih01.example.net", Role::Ih, vec![]),
        ]);
        let profiles = Profiles::embedded().expect("profiles");
        let found = coverage(&hosts, &site, "conf/site.toml", &profiles, &sources);
        let lines: Vec<(Kind, &str)> = found.iter().map(|f| (f.kind, f.detail.as_str())).collect();
        let not_reported: Vec<&str> = lines
            .iter()
            .filter(|l| l.0 == Kind::NotReported)
            .map(|l| l.1)
            .collect();
        assert_eq!(not_reported.len(), 2, "{lines:#?}");
        assert!(not_reported[0].starts_with("ih02.example.net (Instance Host"));
        assert!(not_reported[1].starts_with("cas01.example.net (Client Access Server"));
        let not_covered: Vec<&str> = lines
            .iter()
            .filter(|l| l.0 == Kind::NotCovered)
            .map(|l| l.1)
            .collect();
        // mgmt01 checked ih01 (refused is still covered), not ih02 (its own port) nor cas01
        // (skipped); ih01 checked nothing of mgmt01.
        assert!(
            not_covered.iter().any(|d| d.starts_with(
                "no report covers MGMT01 → ih02.example.net:18472 (multi-8472-mgmt-ih"
            )),
            "{not_covered:#?}"
        );
        assert!(
            not_covered
                .iter()
                .any(|d| d.starts_with("no report covers MGMT01 → cas01.example.net:8473")),
            "{not_covered:#?}"
        );
        assert!(
            not_covered
                .iter()
                .any(|d| d
                    .starts_with("no report covers ih01.example.net → mgmt01.example.net:8471")),
            "{not_covered:#?}"
        );
        assert!(
            !not_covered
                .iter()
                .any(|d| d.contains("ih01.example.net:8472")),
            "{not_covered:#?}"
        );
        assert!(
            !not_covered.iter().any(|d| d.contains(":8470")),
            "8470 is optional from an IH"
        );
        assert!(found.iter().all(|f| f.severity == Severity::Warn));
        let hint = found
            .iter()
            .find(|f| f.kind == Kind::NotReported)
            .and_then(|f| f.hint.as_deref())
            .unwrap_or_default();
        assert!(
            hint.contains("`mssp-check --site site.toml --format json > ih02.example.net.json`"),
            "{hint}"
        );
    }

    #[test]
    fn a_machine_under_two_roles_is_one_host_with_both() {
        let site = Site::parse(
            Path::new("s.toml"),
            "[hosts]\nmgmt = \"mgmt01\"\ncas = [\"MGMT01\", \"cas02:18473\"]\nih = \"ih01,ih02\"\n",
        )
        .expect("parses");
        let hosts = site_hosts(&site, "s.toml").expect("hosts");
        let summary: Vec<(String, Vec<Role>)> = hosts
            .iter()
            .map(|h| (h.spec.to_string(), h.roles.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("mgmt01".into(), vec![Role::Mgmt, Role::Cas]),
                ("ih01".into(), vec![Role::Ih]),
                ("ih02".into(), vec![Role::Ih]),
                ("cas02:18473".into(), vec![Role::Cas]),
            ]
        );
    }

    #[test]
    fn a_malformed_site_host_names_the_file_and_key() {
        let site = Site::parse(Path::new("s.toml"), "[hosts]\nih = [\"ih 01\"]\n").expect("parses");
        let e = site_hosts(&site, "s.toml").expect_err("bad host");
        assert!(e.0.contains("s.toml") && e.0.contains("[hosts] ih"), "{e}");
    }
}
