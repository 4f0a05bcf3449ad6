//! Finding this machine in the site file (DESIGN §8): the same site file is copied to every
//! host, and `mssp-check --site site.toml` with no `--role` checks every role that the site
//! file gives this machine. A machine is found by its host name (or the first label of it:
//! Windows names hosts without their domain), else by one of its own addresses that a site
//! name resolves to. Only names are looked up: no probe leaves before the roles are known.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::site::{OneOrMany, Site};
use crate::config::{Found, Host, HostSpec, Role};
use crate::error::UsageError;
use crate::probe::connector::Connector;
use crate::probe::dns::Dns;
use crate::sanitize::printable;

/// The hosts of the site file, each with its role, in the file's order.
fn entries(site: &Site) -> Vec<(Role, String)> {
    let list = |v: &Option<OneOrMany>| v.clone().map(OneOrMany::into_vec).unwrap_or_default();
    let mut out = Vec::new();
    out.extend(site.hosts.server.iter().map(|h| (Role::Server, h.clone())));
    out.extend(site.hosts.mgmt.iter().map(|h| (Role::Mgmt, h.clone())));
    out.extend(list(&site.hosts.ih).into_iter().map(|h| (Role::Ih, h)));
    out.extend(list(&site.hosts.cas).into_iter().map(|h| (Role::Cas, h)));
    out
}

/// `name` (a site file's host) names the machine called `me`: the same name, or the same
/// first label when one of them is not fully qualified.
#[must_use]
pub fn same_host(name: &str, me: &str) -> bool {
    let (name, me) = (name.to_ascii_lowercase(), me.to_ascii_lowercase());
    let first = |s: &str| s.split('.').next().unwrap_or_default().to_string();
    name == me || ((!name.contains('.') || !me.contains('.')) && first(&name) == first(&me))
}

/// Finds this machine (`hostname`) in `site`: its roles, its name there, and its own
/// addresses that the name resolved to.
///
/// # Errors
/// The machine is not in the site file: the message names the site file, the host name and
/// what each site name resolved to.
pub async fn find<C: Connector>(
    site: &Site,
    site_file: &str,
    hostname: &str,
    dns: &Dns,
    here: &C,
) -> Result<Found, UsageError> {
    let entries = entries(site);
    if entries.is_empty() {
        return Err(UsageError::new(format!(
            "--site {site_file}: [hosts] names no machine; give --role, or list the deployment's hosts in the site file"
        )));
    }
    let parsed: Vec<(Role, HostSpec)> = entries
        .iter()
        .filter_map(|(r, h)| HostSpec::parse(h).ok().map(|spec| (*r, spec)))
        .collect();
    // By name first: cheap, and what an admin means.
    let by_name: Vec<&(Role, HostSpec)> = parsed
        .iter()
        .filter(|(_, h)| matches!(&h.host, Host::Name(n) if same_host(n, hostname)))
        .collect();
    if !by_name.is_empty() {
        return Ok(found(&by_name, Vec::new()));
    }
    // Then by address: what each site name resolves to, looked up together.
    let mut tried = Vec::new();
    let mut hits: Vec<(&(Role, HostSpec), Vec<IpAddr>)> = Vec::new();
    let lookups = parsed.iter().map(|e| async move {
        match &e.1.host {
            // An address written in the site file, loopback included (labs, one-box trials).
            Host::Ip(ip) => (e, Ok(vec![*ip]), true),
            Host::Name(n) => (e, dns.resolve_like_os(n).await.0, false),
        }
    });
    for (e, answer, literal) in crate::runner::join_all(lookups.collect()).await {
        let shown = e.1.display_host();
        match answer {
            Ok(ips) => {
                // A name that resolves to loopback (a hosts file's own entry) says nothing
                // about which machine this is.
                let mine: Vec<IpAddr> = ips
                    .iter()
                    .copied()
                    .filter(|ip| (literal || !ip.is_loopback()) && here.is_local(*ip))
                    .collect();
                let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
                tried.push(format!("{shown} → {}", list.join(", ")));
                if !mine.is_empty() {
                    hits.push((e, mine));
                }
            }
            Err(f) => tried.push(format!("{shown} → {}", f.short())),
        }
    }
    if hits.is_empty() {
        return Err(UsageError::new(format!(
            "this machine is not in the site file {site_file}: its host name '{}' is none of its hosts, and none of their addresses is this machine's ({}); give --role, or add this machine to [hosts]",
            printable(hostname, 80),
            printable(&tried.join("; "), 600)
        )));
    }
    let addresses: Vec<IpAddr> = hits
        .iter()
        .flat_map(|(_, ips)| ips.iter().copied())
        .collect();
    let entries: Vec<&(Role, HostSpec)> = hits.iter().map(|(e, _)| *e).collect();
    Ok(found(&entries, addresses))
}

fn found(entries: &[&(Role, HostSpec)], mut addresses: Vec<IpAddr>) -> Found {
    let mut roles = Vec::new();
    for (r, _) in entries {
        if !roles.contains(r) {
            roles.push(*r);
        }
    }
    addresses.sort_unstable();
    addresses.dedup();
    Found {
        roles,
        name: entries
            .first()
            .map(|(_, h)| h.display_host())
            .unwrap_or_default(),
        addresses,
    }
}

/// The DNS timeout of discovery: the site's own, or five seconds.
#[must_use]
pub fn timeout(site: &Site) -> Duration {
    site.options
        .timeout
        .as_deref()
        .and_then(|t| crate::config::parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_match_with_or_without_their_domain() {
        assert!(same_host("ih01.example.net", "IH01"));
        assert!(same_host("ih01", "ih01.example.net"));
        assert!(same_host("IH01.example.net", "ih01.example.net"));
        assert!(!same_host("ih01.example.net", "ih01.other.net"));
        assert!(!same_host("ih01", "ih011"));
        assert!(!same_host("mgmt01", "ih01"));
    }

    /// This machine, as the tests see it: 127.0.0.1 is its address, nothing else is (no
    /// socket: Wine, for one, binds any address).
    struct Here;

    impl Connector for Here {
        type Stream = tokio::io::DuplexStream;
        async fn connect(&self, _: std::net::SocketAddr) -> std::io::Result<Self::Stream> {
            Err(std::io::ErrorKind::ConnectionRefused.into())
        }
        fn is_local(&self, ip: IpAddr) -> bool {
            ip == IpAddr::from([127, 0, 0, 1])
        }
    }

    fn site(text: &str) -> Site {
        Site::parse(std::path::Path::new("site.toml"), text).expect("parses")
    }

    #[tokio::test]
    async fn found_by_host_name_with_every_role_it_holds() {
        let s = site("[hosts]\nmgmt = \"box01.example.net\"\ncas = [\"box01.example.net\", \"cas02\"]\nih = \"ih01\"\n");
        let dns = Dns::new(None, Duration::from_secs(1));
        let f = find(&s, "site.toml", "BOX01", &dns, &Here)
            .await
            .expect("found");
        assert_eq!(f.roles, vec![Role::Mgmt, Role::Cas]);
        assert_eq!(f.name, "box01.example.net");
    }

    #[tokio::test]
    async fn found_by_an_address_of_this_machine() {
        let s = site("[hosts]\nmgmt = \"198.18.0.1\"\nih = [\"127.0.0.1\", \"ih09.invalid\"]\n");
        let dns = Dns::new(None, Duration::from_secs(1));
        let f = find(&s, "site.toml", "not-in-the-file", &dns, &Here)
            .await
            .expect("found");
        assert_eq!(f.roles, vec![Role::Ih]);
        assert_eq!(f.name, "127.0.0.1");
        assert_eq!(
            f.addresses,
            vec!["127.0.0.1".parse::<IpAddr>().expect("ip")]
        );
    }

    #[tokio::test]
    async fn not_found_names_what_was_tried() {
        let s = site("[hosts]\nmgmt = \"198.18.0.1\"\nih = \"ih09.invalid\"\n");
        let dns = Dns::new(None, Duration::from_secs(1));
        let e = find(&s, "site.toml", "lonely", &dns, &Here)
            .await
            .expect_err("not here");
        assert!(e.0.contains("not in the site file site.toml"), "{}", e.0);
        assert!(e.0.contains("'lonely'"), "{}", e.0);
        assert!(e.0.contains("198.18.0.1 → 198.18.0.1"), "{}", e.0);
        assert!(e.0.contains("ih09.invalid → NXDOMAIN"), "{}", e.0);
        let empty = find(&site(""), "site.toml", "x", &dns, &Here)
            .await
            .expect_err("no hosts");
        assert!(empty.0.contains("names no machine"), "{}", empty.0);
    }
}
