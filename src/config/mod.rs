//! Turns the command line and the profiles into one validated [`RunConfig`].

pub mod firewall;
pub mod found;
pub mod host;
pub mod listen;
pub mod parse;
pub mod pin;
pub mod ports;
pub mod profile;
pub mod proxy;
pub mod site;
pub mod zone;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{CheckArgs, ColorArg, Format};
use crate::error::UsageError;
use crate::intercept::signatures::Signatures;
pub use firewall::{validate_firewall, FirewallConfig};
pub use found::{validate_check_found, Found};
pub use host::{Host, HostSpec};
pub use listen::validate_listen;
pub use parse::{mode_of, parse_dns_server, parse_duration, parse_duration_long, role_of};
use ports::validate_ports_filter;
pub use ports::PortsFilter;
pub use profile::{Mode, PathSpec, Profiles, Role, Target, TargetFlag};

/// The default target of the licensing path.
pub const MAILSTORE_HOST: &str = "my.mailstore.com";

/// Hosts given for each kind of target.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub server: Option<HostSpec>,
    pub mgmt: Option<HostSpec>,
    pub ih: Vec<HostSpec>,
    pub cas: Vec<HostSpec>,
    pub imap: Vec<HostSpec>,
    pub pop3: Vec<HostSpec>,
    pub ews: Vec<HostSpec>,
    pub ldap: Vec<HostSpec>,
    pub mailstore: Option<HostSpec>,
    /// `--port-offset`: a host without `:port` goes to the path's port plus this, which
    /// [`Targets::for_path`] needs to see that `h` and `h:PORT` are one endpoint.
    pub port_offset: u16,
}

impl Targets {
    /// The hosts a path goes to (empty: the path is skipped), each endpoint once: `--ih
    /// h,h:8472` names 8472 twice on the 8472 path, but other ports on the others.
    #[must_use]
    pub fn for_path(&self, path: &PathSpec) -> Vec<HostSpec> {
        let default_port = path.port.saturating_add(self.port_offset);
        let mut hosts = self.hosts_of(path);
        let mut seen = std::collections::HashSet::new();
        hosts.retain(|h| seen.insert(h.endpoint(default_port)));
        hosts
    }

    fn hosts_of(&self, path: &PathSpec) -> Vec<HostSpec> {
        let hosts: &[HostSpec] = match (path.target, path.flag) {
            (Target::Server, _) => self.server.as_slice(),
            (Target::Mgmt, _) => self.mgmt.as_slice(),
            (Target::Ih, _) => &self.ih,
            (Target::Cas, _) => &self.cas,
            (Target::Mailstore, _) => self.mailstore.as_slice(),
            (Target::Any, Some(TargetFlag::Imap)) => &self.imap,
            (Target::Any, Some(TargetFlag::Pop3)) => &self.pop3,
            (Target::Any, Some(TargetFlag::Ews)) => &self.ews,
            (Target::Any, Some(TargetFlag::Ldap)) => &self.ldap,
            (Target::Any, None) => &[],
        };
        hosts.to_vec()
    }
}

/// The command-line flag that supplies a path's host.
#[must_use]
pub fn flag_for(path: &PathSpec) -> &'static str {
    match (path.target, path.flag) {
        (Target::Server, _) => "--server",
        (Target::Mgmt, _) => "--mgmt",
        (Target::Ih, _) => "--ih",
        (Target::Cas, _) => "--cas",
        (Target::Mailstore, _) => "--mailstore-host",
        (Target::Any, Some(TargetFlag::Imap)) => "--imap",
        (Target::Any, Some(TargetFlag::Pop3)) => "--pop3",
        (Target::Any, Some(TargetFlag::Ews)) => "--ews",
        (Target::Any, Some(TargetFlag::Ldap) | None) => "--ldap",
    }
}

/// `--expiry-warning` by default: time to renew a certificate and re-pin its thumbprint in
/// SPE before it breaks.
pub const EXPIRY_WARNING_DAYS: u32 = 30;

/// Everything a check run needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The first role checked (it names the run); [`RunConfig::roles`] has them all.
    pub role: Role,
    /// More roles this machine holds (found in the site file): checked in the same run.
    pub extra_roles: Vec<Role>,
    /// This machine as the site file names it, when it was found there.
    pub site_name: Option<String>,
    /// This machine's own addresses that a site name resolved to.
    pub addresses: Vec<IpAddr>,
    pub modes: Vec<Mode>,
    pub targets: Targets,
    pub profiles: Profiles,
    pub port_offset: u16,
    pub all_addresses: bool,
    pub timeout: Duration,
    pub concurrency: usize,
    pub dns_server: Option<SocketAddr>,
    pub public_ca: Vec<PathBuf>,
    pub format: Format,
    pub color: ColorArg,
    pub strict: bool,
    pub pins: Vec<pin::Pin>,
    pub signatures: Signatures,
    /// Try the canary port on every target, not only after a no-service.
    pub canary_always: bool,
    pub canary_port: u16,
    /// The HTTP proxy for my.mailstore.com, from `--proxy`, the environment or the system.
    pub proxy: Option<proxy::ProxySetting>,
    /// `--token`, shared with the responder.
    pub token: Option<Secret>,
    /// Report whether the role's inbound ports listen on this machine.
    pub check_inbound: bool,
    /// `--only PORTS` / `--skip PORTS`: which ports of the tables are left out, and by which.
    pub ports_filter: Option<(PortsFilter, Vec<u16>)>,
    /// `--expiry-warning DAYS`.
    pub expiry_warning_days: u32,
    /// `-q`: the table shows only the paths that fail or warn.
    pub quiet: bool,
    /// `-v`: the table shows the phase timings of each row.
    pub phases: bool,
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl RunConfig {
    /// Whether `--only` / `--skip` leaves the table port `port` out, and which flag does.
    #[must_use]
    pub fn excluded(&self, port: u16) -> Option<&'static str> {
        match &self.ports_filter {
            Some((PortsFilter::Only, ports)) if !ports.contains(&port) => Some("--only"),
            Some((PortsFilter::Skip, ports)) if ports.contains(&port) => Some("--skip"),
            _ => None,
        }
    }

    /// Every role this run checks.
    #[must_use]
    pub fn roles(&self) -> Vec<Role> {
        std::iter::once(self.role)
            .chain(self.extra_roles.iter().copied())
            .collect()
    }

    /// The paths this run checks, in profile order.
    pub fn paths(&self) -> impl Iterator<Item = &PathSpec> {
        let roles = self.roles();
        self.profiles
            .all()
            .iter()
            .filter(move |p| roles.contains(&p.source) && self.modes.contains(&p.mode))
    }
}

/// Validates the arguments of a check run.
///
/// # Errors
/// A [`UsageError`] naming the input and what was expected.
pub fn validate_check(cli: &CheckArgs) -> Result<RunConfig, UsageError> {
    validate_check_as(cli, None)
}

pub(crate) fn validate_check_as(
    cli: &CheckArgs,
    found: Option<Role>,
) -> Result<RunConfig, UsageError> {
    let site = cli
        .site
        .as_ref()
        .map(|p| site::Site::load(p).map_err(|e| UsageError::new(format!("--site {e}"))))
        .transpose()?;
    let merged = site.as_ref().map(|s| s.fill(cli));
    let args = merged.as_ref().unwrap_or(cli);
    let role = match (args.role, found) {
        (Some(r), _) => role_of(r),
        (None, Some(r)) => r,
        (None, None) => {
            return Err(UsageError::new(
                "--role is required (or --site FILE, to find this machine's roles there); \
                 expected one of server, mgmt, ih, cas, adm, client \
                 (e.g. mssp-check --role ih --mgmt mgmt01)",
            ))
        }
    };
    let profiles = load_profiles(args.profiles.as_ref())?;
    let mut targets = validate_targets(args)?;
    let modes = validate_modes(role, &targets)?;
    // Only the command line: a site file names hosts of every role on purpose.
    validate_unused_flags(role, &modes, &profiles, cli)?;
    let timeout = parse_duration(args.timeout.as_deref().unwrap_or("5s"))
        .map_err(|e| UsageError::new(format!("--timeout {e}")))?;
    let concurrency = args.concurrency.unwrap_or(256);
    if concurrency == 0 {
        return Err(UsageError::new("--concurrency 0: expected at least 1"));
    }
    let port_offset = args.port_offset.unwrap_or(0);
    targets.port_offset = port_offset;
    let expiry_warning_days = args.expiry_warning.unwrap_or(EXPIRY_WARNING_DAYS);
    if expiry_warning_days > 3650 {
        return Err(UsageError::new(format!(
            "--expiry-warning {expiry_warning_days}: expected 0-3650 days"
        )));
    }
    let dns_server = args
        .dns_server
        .as_deref()
        .map(parse_dns_server)
        .transpose()
        .map_err(|e| UsageError::new(format!("--dns-server {e}")))?;
    for file in &args.public_ca {
        if !file.is_file() {
            return Err(UsageError::new(format!(
                "--public-ca {}: no such file; expected a PEM file of root certificates",
                crate::sanitize::echo(&file.to_string_lossy())
            )));
        }
    }
    let pins = args
        .pin
        .iter()
        .map(|p| pin::Pin::parse(p).map_err(|e| UsageError::new(format!("--pin {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let signatures = load_signatures(&args.signatures)?;
    if args.canary_port == 0 {
        return Err(UsageError::new("--canary-port 0: expected 1-65535"));
    }
    validate_offset(role, &modes, &profiles, port_offset)?;
    let token = match args.token.as_deref() {
        Some("") => {
            return Err(UsageError::new(
                "--token is empty; expected the secret given to mssp-check listen --token",
            ))
        }
        Some(t) => Some(Secret(t.as_bytes().to_vec())),
        None => None,
    };
    let mailstore_name = targets
        .mailstore
        .as_ref()
        .map_or_else(|| MAILSTORE_HOST.to_string(), HostSpec::display_host);
    let proxy = proxy::detect(args.proxy.as_deref(), args.no_proxy, &mailstore_name)
        .map_err(|e| UsageError::new(e.to_string()))?;
    let ports_filter = validate_ports_filter(args, role, &modes, &profiles)?;
    Ok(RunConfig {
        role,
        extra_roles: Vec::new(),
        site_name: None,
        addresses: Vec::new(),
        modes,
        targets,
        profiles,
        port_offset,
        all_addresses: args.all_addresses,
        timeout,
        concurrency,
        dns_server,
        public_ca: args.public_ca.clone(),
        format: args.format,
        color: args.color,
        strict: args.strict,
        pins,
        signatures,
        canary_always: args.canary,
        canary_port: args.canary_port,
        proxy,
        token,
        expiry_warning_days,
        quiet: args.quiet,
        phases: args.verbose > 0,
        check_inbound: true,
        ports_filter,
    })
}

/// The built-in interception signatures plus those of `--signatures FILE`.
///
/// # Errors
/// A malformed or unreadable file, naming file and line.
pub fn load_signatures(files: &[PathBuf]) -> Result<Signatures, UsageError> {
    let mut all =
        Signatures::embedded().map_err(|e| UsageError::new(format!("built-in signatures: {e}")))?;
    for f in files {
        all.extend(
            Signatures::load_file(f).map_err(|e| UsageError::new(format!("--signatures {e}")))?,
        );
    }
    Ok(all)
}

/// `--port-offset` must not push a port of the role past 65535.
pub(crate) fn validate_offset(
    role: Role,
    modes: &[Mode],
    profiles: &Profiles,
    offset: u16,
) -> Result<(), UsageError> {
    if let Some(p) = profiles
        .all()
        .iter()
        .filter(|p| p.source == role && modes.contains(&p.mode))
        .find(|p| u32::from(p.port) + u32::from(offset) > 65535)
    {
        return Err(UsageError::new(format!(
            "--port-offset {offset} takes port {} to {}, beyond 65535",
            p.port,
            u32::from(p.port) + u32::from(offset)
        )));
    }
    Ok(())
}

/// Loads the embedded profiles, or those of `--profiles DIR`.
///
/// # Errors
/// A malformed or unreadable profile, as a usage error naming file and line.
pub fn load_profiles(dir: Option<&PathBuf>) -> Result<Profiles, UsageError> {
    match dir {
        Some(dir) => Profiles::load_dir(dir),
        None => Profiles::embedded(),
    }
    .map_err(|e| UsageError::new(format!("profile {e}")))
}

fn host_flag(flag: &str, value: Option<&String>) -> Result<Option<HostSpec>, UsageError> {
    value.map(|v| host_arg(flag, v)).transpose()
}

/// One host argument; a zone this machine has no interface for is bad input here, before
/// any probe.
fn host_arg(flag: &str, value: &str) -> Result<HostSpec, UsageError> {
    let h = HostSpec::parse(value).map_err(|e| UsageError::new(format!("{flag} {e}")))?;
    h.scope_id()
        .map_err(|e| UsageError::new(format!("{flag} '{h}': {e}")))?;
    Ok(h)
}

fn host_list(flag: &str, values: &[String]) -> Result<Vec<HostSpec>, UsageError> {
    let mut out = Vec::new();
    for v in values {
        for h in HostSpec::parse_list(v).map_err(|e| UsageError::new(format!("{flag} {e}")))? {
            h.scope_id()
                .map_err(|e| UsageError::new(format!("{flag} '{h}': {e}")))?;
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    Ok(out)
}

fn validate_targets(args: &CheckArgs) -> Result<Targets, UsageError> {
    Ok(Targets {
        server: host_flag("--server", args.server.as_ref())?,
        mgmt: host_flag("--mgmt", args.mgmt.as_ref())?,
        ih: host_list("--ih", &args.ih)?,
        cas: host_list("--cas", &args.cas)?,
        imap: host_list("--imap", &args.imap)?,
        pop3: host_list("--pop3", &args.pop3)?,
        ews: host_list("--ews", &args.ews)?,
        ldap: host_list("--ldap", &args.ldap)?,
        mailstore: Some(
            match host_flag("--mailstore-host", args.mailstore_host.as_ref())? {
                Some(h) => h,
                None => HostSpec::new(Host::Name(MAILSTORE_HOST.into()), None),
            },
        ),
        // Set once --port-offset is read.
        port_offset: 0,
    })
}

/// The mode follows from the role; adm and client follow the peer flags (DESIGN §10).
pub(crate) fn validate_modes(role: Role, t: &Targets) -> Result<Vec<Mode>, UsageError> {
    let need = |what: &str| {
        Err(UsageError::new(format!(
            "--role {} needs {what}",
            role.label()
        )))
    };
    match role {
        Role::Server => Ok(vec![Mode::Single]),
        Role::Mgmt if t.ih.is_empty() && t.cas.is_empty() => need(
            "--ih HOST or --cas HOST (the Instance Hosts or Client Access Servers this \
             Management Server talks to)",
        ),
        Role::Ih | Role::Cas if t.mgmt.is_none() => {
            need("--mgmt HOST (the Management Server this machine pairs with)")
        }
        Role::Mgmt | Role::Ih | Role::Cas => Ok(vec![Mode::Multi]),
        Role::Adm | Role::Client => {
            let multi_peer = if role == Role::Adm {
                t.mgmt.is_some()
            } else {
                !t.cas.is_empty()
            };
            let mut modes = Vec::new();
            if t.server.is_some() {
                modes.push(Mode::Single);
            }
            if multi_peer {
                modes.push(Mode::Multi);
            }
            if modes.is_empty() {
                let multi = if role == Role::Adm { "--mgmt" } else { "--cas" };
                need(&format!(
                    "--server HOST (single server mode) or {multi} HOST (multi server mode)"
                ))
            } else {
                Ok(modes)
            }
        }
    }
}

/// A peer flag that no path of the role uses is almost always a mistake (wrong role).
fn validate_unused_flags(
    role: Role,
    modes: &[Mode],
    profiles: &Profiles,
    args: &CheckArgs,
) -> Result<(), UsageError> {
    let used: Vec<&str> = profiles
        .all()
        .iter()
        .filter(|p| p.source == role && modes.contains(&p.mode))
        .map(flag_for)
        .collect();
    let given = [
        ("--server", args.server.is_some()),
        ("--mgmt", args.mgmt.is_some()),
        ("--ih", !args.ih.is_empty()),
        ("--cas", !args.cas.is_empty()),
        ("--imap", !args.imap.is_empty()),
        ("--pop3", !args.pop3.is_empty()),
        ("--ews", !args.ews.is_empty()),
        ("--ldap", !args.ldap.is_empty()),
        ("--mailstore-host", args.mailstore_host.is_some()),
    ];
    for (flag, present) in given {
        if present && !used.contains(&flag) {
            let mut takes: Vec<&str> = used.clone();
            takes.sort_unstable();
            takes.dedup();
            return Err(UsageError::new(format!(
                "{flag} is not used by --role {} ({}); it takes {}",
                role.label(),
                role.title(),
                takes.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &str) -> CheckArgs {
        let cli = crate::cli::Cli::try_parse_from(
            std::iter::once("mssp-check").chain(line.split_whitespace()),
        )
        .expect("parses");
        cli.check
    }

    /// How many endpoints of each --ih path a run probes for `ih`, by port.
    fn ih_endpoints(line: &str) -> Vec<(u16, usize)> {
        let cfg = validate_check(&args(line)).expect("valid");
        cfg.paths()
            .filter(|p| p.target == Target::Ih)
            .map(|p| (p.port, cfg.targets.for_path(p).len()))
            .collect()
    }

    #[test]
    fn one_endpoint_named_twice_is_probed_once() {
        let twice = ih_endpoints("--role mgmt --ih ih01,ih01:8472 --cas c --no-proxy");
        assert!(!twice.is_empty());
        for (port, n) in &twice {
            // 8472 is named twice (by default and explicitly); other paths get two ports.
            assert_eq!(*n, if *port == 8472 { 1 } else { 2 }, "{twice:?}");
        }
        // With an offset, ih01 goes to 18472, so ih01:8472 is another endpoint.
        let offset =
            ih_endpoints("--role mgmt --ih ih01,ih01:8472 --cas c --no-proxy --port-offset 10000");
        assert!(offset.iter().all(|(_, n)| *n == 2), "{offset:?}");
        let same = ih_endpoints(
            "--role mgmt --ih ih01,IH01.:18472 --ih ih01 --cas c --no-proxy --port-offset 10000",
        );
        assert!(
            same.iter()
                .all(|(p, n)| *n == if *p == 8472 { 1 } else { 2 }),
            "{same:?}"
        );
    }

    // Interface names (`%lo`) are looked up on Linux only.
    #[cfg(target_os = "linux")]
    #[test]
    fn zones_and_international_names_are_accepted() {
        let cfg = validate_check(&args(
            "--role mgmt --ih [fe80::1%lo]:8472,fe80::2%12,bücher.example --cas c --no-proxy",
        ))
        .expect("valid");
        let shown: Vec<String> = cfg.targets.ih.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["[fe80::1%lo]:8472", "fe80::2%12", "bücher.example"],
            "as typed"
        );
        assert_eq!(
            cfg.targets.ih[2].host,
            Host::Name("xn--bcher-kva.example".into()),
            "DNS and TLS get the ASCII form"
        );
    }

    #[test]
    fn ih_with_mgmt_as_typed() {
        let c = validate_check(&args("--role ih --mgmt mgmt01")).expect("valid");
        assert_eq!(c.role, Role::Ih);
        assert_eq!(c.modes, vec![Mode::Multi]);
        assert_eq!(c.paths().count(), 9);
    }

    #[test]
    fn usage_errors_name_the_input() {
        for (line, needle) in [
            ("--role ih", "--role ih needs --mgmt"),
            ("--role mgmt", "--role mgmt needs --ih HOST or --cas"),
            ("--role adm", "--server HOST (single server mode) or --mgmt"),
            ("--role ih --mgmt m:0", "--mgmt port 0 in 'm:0'"),
            (
                "--role ih --mgmt m --server s",
                "--server is not used by --role ih",
            ),
            ("--role ih --mgmt m --timeout 5x", "unknown unit 'x'"),
            ("--role ih --mgmt m --timeout 0", "out of range"),
            (
                "--role ih --mgmt m --expiry-warning 4000",
                "--expiry-warning 4000: expected 0-3650 days",
            ),
            ("--role ih --mgmt m --concurrency 0", "--concurrency 0"),
            (
                "--role ih --mgmt m --dns-server nope",
                "--dns-server 'nope'",
            ),
            ("--mgmt m", "--role is required"),
        ] {
            let e = validate_check(&args(line)).expect_err(line);
            assert!(e.to_string().contains(needle), "{line}: {e}");
        }
    }

    #[test]
    fn adm_follows_the_peer_flags() {
        let c = validate_check(&args("--role adm --server s --mgmt m")).expect("valid");
        assert_eq!(c.modes, vec![Mode::Single, Mode::Multi]);
        assert_eq!(c.paths().count(), 4);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5").expect("d"), Duration::from_secs(5));
        assert_eq!(
            parse_duration("800ms").expect("d"),
            Duration::from_millis(800)
        );
        assert_eq!(
            parse_duration("1.5s").expect("d"),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("2m").expect("d"), Duration::from_secs(120));
    }
}
