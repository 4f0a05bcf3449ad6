//! `mssp-check firewall`: the command line and the site file validated into one
//! [`FirewallConfig`]. Names are resolved later, by the app; nothing here touches the network.

use std::net::SocketAddr;

use super::site::{OneOrMany, Site};
use super::{load_profiles, parse_dns_server, role_of, HostSpec, Profiles, Role};
use crate::cli::{FirewallArgs, FirewallFormatArg};
use crate::error::UsageError;
use crate::firewall::{Cidr, FirewallFormat};

/// The peers of one role whose addresses scope the rules, with the flag that named them.
#[derive(Debug, Clone)]
pub struct Peers {
    pub role: Role,
    pub flag: &'static str,
    pub hosts: Vec<HostSpec>,
}

/// A validated `firewall` command.
#[derive(Debug, Clone)]
pub struct FirewallConfig {
    pub profiles: Profiles,
    pub role: Role,
    pub format: FirewallFormat,
    pub admin_nets: Vec<Cidr>,
    pub peers: Vec<Peers>,
    pub dns_server: Option<SocketAddr>,
}

/// Validates `mssp-check firewall …`; the site file fills what the flags leave out.
///
/// # Errors
/// An unreadable or invalid site file or profiles directory, a malformed CIDR, host or DNS
/// server: the message names the flag and what was expected.
pub fn validate_firewall(args: &FirewallArgs) -> Result<FirewallConfig, UsageError> {
    let args = match &args.site {
        Some(path) => fill(
            args,
            &Site::load(path).map_err(|e| usage(format!("--site {e}")))?,
        ),
        None => args.clone(),
    };
    let profiles = load_profiles(args.profiles.as_ref())?;
    let admin_nets = args
        .admin_net
        .iter()
        .map(|net| {
            net.parse::<Cidr>()
                .map_err(|e| usage(format!("--admin-net {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dns_server = args
        .dns_server
        .as_deref()
        .map(parse_dns_server)
        .transpose()
        .map_err(|e| usage(format!("--dns-server {e}")))?;
    let mut peers = Vec::new();
    if let Some(m) = &args.mgmt {
        peers.push(Peers {
            role: Role::Mgmt,
            flag: "--mgmt",
            hosts: vec![HostSpec::parse(m).map_err(|e| usage(format!("--mgmt {e}")))?],
        });
    }
    for (role, flag, values) in [
        (Role::Ih, "--ih", &args.ih),
        (Role::Cas, "--cas", &args.cas),
    ] {
        let mut hosts = Vec::new();
        for v in values {
            hosts.extend(HostSpec::parse_list(v).map_err(|e| usage(format!("{flag} {e}")))?);
        }
        if !hosts.is_empty() {
            peers.push(Peers { role, flag, hosts });
        }
    }
    Ok(FirewallConfig {
        profiles,
        role: role_of(args.role),
        format: match args.format {
            FirewallFormatArg::Netsh => FirewallFormat::Netsh,
            FirewallFormatArg::Powershell => FirewallFormat::Powershell,
            FirewallFormatArg::Nftables => FirewallFormat::Nftables,
        },
        admin_nets,
        peers,
        dns_server,
    })
}

/// The command line with its gaps filled from the site file: flags win.
fn fill(args: &FirewallArgs, site: &Site) -> FirewallArgs {
    let mut a = args.clone();
    let list = |v: &mut Vec<String>, s: &Option<OneOrMany>| {
        if v.is_empty() {
            *v = s.clone().map(OneOrMany::into_vec).unwrap_or_default();
        }
    };
    if a.admin_net.is_empty() {
        a.admin_net.clone_from(&site.admin_nets);
    }
    if a.mgmt.is_none() {
        a.mgmt.clone_from(&site.hosts.mgmt);
    }
    list(&mut a.ih, &site.hosts.ih);
    list(&mut a.cas, &site.hosts.cas);
    if a.dns_server.is_none() {
        a.dns_server.clone_from(&site.options.dns_server);
    }
    a
}

fn usage(m: String) -> UsageError {
    UsageError::new(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &str) -> FirewallArgs {
        let cli = crate::cli::Cli::try_parse_from(
            ["mssp-check", "firewall"]
                .into_iter()
                .chain(line.split_whitespace()),
        )
        .expect("parses");
        match cli.command {
            Some(crate::cli::Command::Firewall(a)) => a,
            _ => panic!("not a firewall command"),
        }
    }

    #[test]
    fn flags_become_typed_values() {
        let c = validate_firewall(&args(
            "--role mgmt --ih 127.0.0.1,ih02:18472 --cas cas01 --admin-net 10.0.0.0/8 --dns-server 127.0.0.53 --format nftables",
        ))
        .expect("valid");
        assert_eq!(c.role, Role::Mgmt);
        assert_eq!(c.format, FirewallFormat::Nftables);
        assert_eq!(c.admin_nets.len(), 1);
        assert_eq!(c.dns_server, Some("127.0.0.53:53".parse().expect("addr")));
        let ih = c.peers.iter().find(|p| p.role == Role::Ih).expect("ih");
        assert_eq!(ih.hosts.len(), 2);
        assert_eq!(ih.hosts[1].port, Some(18472));
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (line, needle) in [
            ("--role mgmt --admin-net 10.0.0.0/40", "--admin-net "),
            (
                "--role mgmt --dns-server dns01",
                "--dns-server 'dns01' is not an IP address",
            ),
            ("--role ih --mgmt a:b:c", "--mgmt "),
            ("--role mgmt --ih ih01,ih02:99999", "--ih "),
        ] {
            let e = validate_firewall(&args(line)).expect_err(line);
            assert!(e.0.starts_with(needle), "{line}: {}", e.0);
        }
    }

    #[test]
    fn the_site_fills_what_the_flags_leave_out() {
        let dir = tempfile::tempdir().expect("tmp");
        let site = dir.path().join("site.toml");
        std::fs::write(
            &site,
            "admin_nets = [\"10.1.0.0/16\"]\n[hosts]\nmgmt = \"mgmt01\"\nih = [\"ih01\", \"ih02\"]\n",
        )
        .expect("write");
        let line = format!("--role cas --site {} --ih ih09", site.display());
        let c = validate_firewall(&args(&line)).expect("valid");
        assert_eq!(c.admin_nets.len(), 1);
        let ih = c.peers.iter().find(|p| p.role == Role::Ih).expect("ih");
        assert_eq!(ih.hosts.len(), 1, "the flag wins over the site file");
        assert!(c.peers.iter().any(|p| p.role == Role::Mgmt));
    }
}
