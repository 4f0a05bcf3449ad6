//! Which ports a role listens on (from the profiles: the paths whose target is the role),
//! binding them (dual-stack where the OS allows), and what to tell the admin when a port
//! cannot be bound.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::profile::{ProbeKind, Profiles, Role, Target};

/// One inbound port of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundPort {
    /// The port of the profile (before any `--port-offset`).
    pub port: u16,
    /// How the paths to it are probed (the first path's, in profile order).
    pub probe: ProbeKind,
    /// The roles that connect to it, in profile order, without repeats.
    pub sources: Vec<Role>,
}

/// The target name of a role's machine; `adm` and `client` are never a target.
#[must_use]
pub fn role_target(role: Role) -> Option<Target> {
    role.as_target()
}

/// The ports that paths of `profiles` reach on a machine of `role`, sorted by port.
#[must_use]
pub fn inbound_ports(profiles: &Profiles, role: Role) -> Vec<InboundPort> {
    let Some(target) = role_target(role) else {
        return Vec::new();
    };
    let mut ports: Vec<InboundPort> = Vec::new();
    for path in profiles.all().iter().filter(|p| p.target == target) {
        match ports.iter_mut().find(|p| p.port == path.port) {
            Some(p) if !p.sources.contains(&path.source) => p.sources.push(path.source),
            Some(_) => {}
            None => ports.push(InboundPort {
                port: path.port,
                probe: path.probe,
                sources: vec![path.source],
            }),
        }
    }
    ports.sort_by_key(|p| p.port);
    ports
}

/// Whether an IPv6 socket bound to `::` accepts only IPv6 unless told otherwise (Windows
/// always; Linux when `net.ipv6.bindv6only` is 1). Then `0.0.0.0` is bound as well.
fn v6_only_by_default() -> bool {
    #[cfg(windows)]
    {
        true
    }
    #[cfg(target_os = "linux")]
    {
        std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|s| s.trim() == "1")
    }
    #[cfg(not(any(windows, target_os = "linux")))]
    {
        false
    }
}

fn bind_one(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let std = std::net::TcpListener::bind(addr)?;
    std.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(std)
}

/// Binds `port` on `ip`. For `::`: dual-stack where `::` takes IPv4 too, `::` plus `0.0.0.0`
/// where it does not, and `0.0.0.0` alone when IPv6 is off.
///
/// # Errors
/// The error of the bind that decides: address in use, permission denied, …
pub(crate) fn bind(ip: IpAddr, port: u16) -> io::Result<Vec<tokio::net::TcpListener>> {
    if ip != IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
        return bind_one(SocketAddr::new(ip, port)).map(|l| vec![l]);
    }
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    match bind_one(SocketAddr::new(ip, port)) {
        Ok(v6) if v6_only_by_default() => match bind_one(v4) {
            Ok(l4) => Ok(vec![v6, l4]),
            // The IPv4 side is taken (the real service): the port counts as in use.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(e),
            Err(_) => Ok(vec![v6]),
        },
        Ok(v6) => Ok(vec![v6]),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
            ) =>
        {
            Err(e)
        }
        // IPv6 is off (EAFNOSUPPORT, EADDRNOTAVAIL, …): IPv4 only.
        Err(_) => bind_one(v4).map(|l| vec![l]),
    }
}

/// What to tell the admin about a port that could not be bound.
pub(crate) fn bind_hint(
    e: &io::Error,
    role: Role,
    inbound: &InboundPort,
    bound_port: u16,
    host: &str,
) -> String {
    let head = format!("port {bound_port} ({}): ", inbound.probe);
    match e.kind() {
        // With --port-offset, whatever holds the shifted port is not MailStore.
        io::ErrorKind::AddrInUse if bound_port != inbound.port => {
            format!("{head}already in use by another program; choose another --port-offset")
        }
        io::ErrorKind::AddrInUse => {
            let title = role.title();
            let service = if title.starts_with("MailStore") {
                title.to_string()
            } else {
                format!("MailStore SPE {title}")
            };
            let commands: Vec<String> = inbound
                .sources
                .iter()
                .map(|s| {
                    format!(
                        "`mssp-check --role {} --{} {host}` from the {}",
                        s.label(),
                        role.label(),
                        s.title()
                    )
                })
                .collect();
            format!(
                "{head}already in use. The real service ({service}) is probably running on this \
                 port: probe it with {} instead",
                commands.join(" or ")
            )
        }
        io::ErrorKind::PermissionDenied if bound_port < 1024 => format!(
            "{head}permission denied: ports below 1024 need root (or CAP_NET_BIND_SERVICE) on \
             Linux and an elevated prompt (Administrator) on Windows; or pass --port-offset \
             and give the probe the shifted port"
        ),
        _ => format!("{head}cannot listen: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(role: Role) -> Vec<u16> {
        let p = Profiles::embedded().expect("embedded");
        inbound_ports(&p, role).iter().map(|i| i.port).collect()
    }

    #[test]
    fn each_role_listens_where_its_paths_arrive() {
        assert_eq!(ports(Role::Server), [143, 443, 993, 8470, 8474]);
        assert_eq!(ports(Role::Mgmt), [8470, 8471, 8474]);
        assert_eq!(ports(Role::Ih), [8472]);
        assert_eq!(ports(Role::Cas), [143, 443, 993, 8473]);
        assert!(ports(Role::Adm).is_empty());
        assert!(ports(Role::Client).is_empty());
    }

    #[test]
    fn probes_and_sources_come_from_the_paths() {
        let p = Profiles::embedded().expect("embedded");
        let cas = inbound_ports(&p, Role::Cas);
        let kinds: Vec<ProbeKind> = cas.iter().map(|i| i.probe).collect();
        assert_eq!(
            kinds,
            [
                ProbeKind::ImapStarttls,
                ProbeKind::Https,
                ProbeKind::Imaps,
                ProbeKind::Tls
            ]
        );
        assert_eq!(cas[0].sources, [Role::Client]);
        let mgmt = inbound_ports(&p, Role::Mgmt);
        assert!(mgmt[0].sources.contains(&Role::Adm) && mgmt[0].sources.contains(&Role::Ih));
    }

    #[tokio::test]
    async fn a_taken_port_is_reported_with_the_probe_to_run_instead() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let e = bind(IpAddr::V4(Ipv4Addr::LOCALHOST), port).expect_err("in use");
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        let inbound = InboundPort {
            port: 8472,
            probe: ProbeKind::Tls,
            sources: vec![Role::Mgmt, Role::Cas],
        };
        let shifted = bind_hint(&e, Role::Ih, &inbound, port, "ih01");
        assert!(
            shifted.ends_with("already in use by another program; choose another --port-offset")
        );
        let hint = bind_hint(&e, Role::Ih, &inbound, 8472, "ih01");
        assert!(hint.contains("already in use"), "{hint}");
        assert!(hint.contains("(MailStore SPE Instance Host)"), "{hint}");
        assert!(
            hint.contains("`mssp-check --role mgmt --ih ih01` from the Management Server"),
            "{hint}"
        );
        assert!(hint.contains(" or `mssp-check --role cas --ih "), "{hint}");
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(bind_hint(&denied, Role::Cas, &inbound, 143, "cas01").contains("--port-offset"));
    }

    #[tokio::test]
    async fn the_wildcard_binds_somewhere() {
        let listeners = bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0).expect("binds");
        assert!(!listeners.is_empty());
    }
}
