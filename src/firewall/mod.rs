//! Inbound firewall rules for one role of a `MailStore` SPE deployment (DESIGN §8): which TCP
//! ports it must accept, from which sources, rendered for `netsh advfirewall`, PowerShell's
//! `New-NetFirewallRule` or an `nft -f` file.
//!
//! Building the rules ([`inbound_rules`]) does no I/O; the caller resolves host names to
//! addresses first. Rendering only writes to the given writer.

mod netsh;
mod nftables;
mod powershell;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::config::profile::{Mode, Profiles, Role, Target};

/// The syntax a rule set is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FirewallFormat {
    /// `netsh advfirewall firewall add rule …`, as in the vendor's document.
    Netsh,
    /// `New-NetFirewallRule …`.
    Powershell,
    /// A complete file for `nft -f`.
    Nftables,
}

impl FirewallFormat {
    pub const ALL: [FirewallFormat; 3] = [
        FirewallFormat::Netsh,
        FirewallFormat::Powershell,
        FirewallFormat::Nftables,
    ];

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            FirewallFormat::Netsh => "netsh",
            FirewallFormat::Powershell => "powershell",
            FirewallFormat::Nftables => "nftables",
        }
    }
}

/// An IPv4 or IPv6 network: an address and a prefix length.
///
/// Always normalised: bits beyond the prefix are cleared, so `192.0.2.7/24` is stored (and
/// printed) as `192.0.2.0/24`. Parsing accepts such input rather than rejecting it, because
/// an admin who types a host's address with its network's prefix means that network.
/// A bare address is a single host (`/32` or `/128`) and prints without the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a string is not a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not an address or network: {reason}; expected e.g. 192.0.2.0/24 or 2001:db8::/32"
)]
#[non_exhaustive]
pub struct CidrError {
    pub input: String,
    pub reason: String,
}

impl Cidr {
    /// The network of `addr` with `prefix` bits, host bits cleared.
    ///
    /// # Errors
    /// A prefix longer than the address (32 bits for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let max = max_prefix(addr);
        if prefix > max {
            return Err(CidrError {
                input: format!("{addr}/{prefix}"),
                reason: format!(
                    "the prefix /{prefix} is longer than the {max} bits of the address"
                ),
            });
        }
        Ok(Self {
            addr: network(addr, prefix),
            prefix,
        })
    }

    /// One host.
    #[must_use]
    pub fn host(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: max_prefix(addr),
        }
    }

    #[must_use]
    pub fn addr(self) -> IpAddr {
        self.addr
    }

    #[must_use]
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    #[must_use]
    pub fn is_ipv4(self) -> bool {
        self.addr.is_ipv4()
    }

    /// Whether every address of `other` is in `self`.
    #[must_use]
    pub fn contains(self, other: Cidr) -> bool {
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && self.prefix <= other.prefix
            && network(other.addr, self.prefix) == self.addr
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn network(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| CidrError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| fail("the part before the / is not an IPv4 or IPv6 address"))?;
        let Some(prefix) = prefix else {
            return Ok(Self::host(addr));
        };
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("the prefix after the / must be a number of bits"));
        }
        // At most three digits, so the u16 parse cannot fail; `new` checks the length.
        let bits: u16 = prefix.parse().unwrap_or(u16::MAX);
        let prefix = u8::try_from(bits).unwrap_or(u8::MAX);
        Self::new(addr, prefix).map_err(|e| fail(&e.reason))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == max_prefix(self.addr) {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// Where connections may come from: the administration networks (`--admin-net`) and the
/// resolved addresses of the other servers (`--mgmt`, `--ih`, `--cas`, `--server`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub admin_nets: Vec<Cidr>,
    pub peers: BTreeMap<Role, Vec<IpAddr>>,
}

/// One inbound allow rule: TCP to `ports` from `sources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique within a rule set, e.g. `MailStore SPE (MGMT) 8471 from IH/CAS`.
    pub name: String,
    /// Ascending.
    pub ports: Vec<u16>,
    /// Sorted, none covering another; `None` allows any source.
    pub sources: Option<Vec<Cidr>>,
    /// The vendor's words for each port.
    pub description: String,
    /// The vendor marks the path optional (the 8470 pairing path from IH/CAS).
    pub optional: bool,
    /// The roles the connections come from (`Client` = anyone), in `Role` order.
    pub from: Vec<Role>,
    /// Something the admin must read before using the rule (an ADM rule open to any).
    pub warning: Option<String>,
}

/// The inbound rules the machine of `role` needs: one per set of source roles (and
/// optionality), ports grouped, sorted with required rules first, then by lowest port.
///
/// # Errors
/// `role` receives no connections (adm, client), the profiles have no path to it, or a peer
/// role whose connections it must accept has no address; the message names the flag to add.
/// A rule that silently allowed any source in place of a missing peer would be worse.
pub fn inbound_rules(
    profiles: &Profiles,
    role: Role,
    sources: &Sources,
) -> Result<Vec<Rule>, String> {
    let Some(target) = target_of(role) else {
        return Err(format!(
            "--role {}: an {} only opens connections, it accepts none from MailStore SPE, so it \
             needs no inbound rules; use --role server, mgmt, ih or cas",
            role.label(),
            role.title()
        ));
    };
    let mut by_port: ByPort<'_> = BTreeMap::new();
    for p in profiles.all().iter().filter(|p| p.target == target) {
        let (roles, descriptions) = by_port.entry((!p.required, p.port)).or_default();
        roles.insert(p.source);
        if !descriptions.contains(&p.description.as_str()) {
            descriptions.push(&p.description);
        }
    }
    if by_port.is_empty() {
        return Err(format!(
            "--role {}: the profiles have no path to the {}, so there is nothing to open",
            role.label(),
            role.title()
        ));
    }
    let mut groups: Groups<'_> = BTreeMap::new();
    for ((optional, port), (roles, descriptions)) in by_port {
        groups
            .entry((optional, roles))
            .or_default()
            .push((port, descriptions));
    }
    check_peers(role, &groups, sources)?;
    let mut rules: Vec<Rule> = groups
        .into_iter()
        .map(|((optional, from), ports)| build_rule(role, optional, &from, &ports, sources))
        .collect();
    rules.sort_by(|a, b| (a.optional, &a.ports, &a.from).cmp(&(b.optional, &b.ports, &b.from)));
    Ok(rules)
}

/// (optional, port) → the source roles and the vendor's descriptions.
type ByPort<'a> = BTreeMap<(bool, u16), (BTreeSet<Role>, Vec<&'a str>)>;
/// (optional, source roles) → the ports with their descriptions, ascending.
type Groups<'a> = BTreeMap<(bool, BTreeSet<Role>), Vec<(u16, Vec<&'a str>)>>;

/// Fails, naming every missing flag at once, when a peer role has no address.
fn check_peers(role: Role, groups: &Groups<'_>, sources: &Sources) -> Result<(), String> {
    let mut missing: BTreeMap<Role, BTreeSet<u16>> = BTreeMap::new();
    for ((_, from), ports) in groups {
        for &r in from.iter().filter(|r| is_peer(**r)) {
            if sources.peers.get(&r).is_none_or(Vec::is_empty) {
                missing
                    .entry(r)
                    .or_default()
                    .extend(ports.iter().map(|(p, _)| *p));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(r, ports)| {
            let list = join(ports.iter(), ", ");
            let (noun, verb) = if ports.len() == 1 {
                ("port", "needs")
            } else {
                ("ports", "need")
            };
            format!(
                "{noun} {list} from {} {verb} --{} HOST (the {}'s address)",
                r.label(),
                r.label(),
                r.title()
            )
        })
        .collect();
    Err(format!("--role {}: {}", role.label(), parts.join("; ")))
}

fn build_rule(
    role: Role,
    optional: bool,
    from: &BTreeSet<Role>,
    ports: &[(u16, Vec<&str>)],
    sources: &Sources,
) -> Rule {
    let port_list = join(ports.iter().map(|(p, _)| p), ",");
    let from_list = join(from.iter().map(|r| abbrev(*r)), "/");
    let name = format!(
        "MailStore SPE ({}) {port_list} from {from_list}{}",
        abbrev(role),
        if optional { " (optional)" } else { "" }
    );
    let words: Vec<String> = ports
        .iter()
        .map(|(port, descriptions)| {
            let text: Vec<&str> = descriptions
                .iter()
                .map(|d| if optional { strip_optional(d) } else { d })
                .collect();
            format!("{port}: {}", text.join(" / "))
        })
        .collect();
    let description = format!(
        "{}{}",
        if optional { "Optional. " } else { "" },
        words.join(" ")
    );
    let (sources, warning) = resolve(from, sources);
    Rule {
        name,
        ports: ports.iter().map(|(p, _)| *p).collect(),
        sources,
        description,
        optional,
        from: from.iter().copied().collect(),
        warning,
    }
}

/// The vendor starts the optional row's text with "Optional:"; the rule says it once.
fn strip_optional(text: &str) -> &str {
    text.strip_prefix("Optional:").map_or(text, str::trim_start)
}

/// The addresses of `from`, or `None` for any (a client path, or ADM without `--admin-net`).
fn resolve(from: &BTreeSet<Role>, sources: &Sources) -> (Option<Vec<Cidr>>, Option<String>) {
    if from.contains(&Role::Client) {
        return (None, None);
    }
    if from.contains(&Role::Adm) && sources.admin_nets.is_empty() {
        let warning = "no --admin-net given, so this rule allows the administration ports from \
                       ANY address; pass --admin-net CIDR (repeatable) to limit it to the \
                       administration network"
            .to_string();
        return (None, Some(warning));
    }
    let mut nets: Vec<Cidr> = Vec::new();
    for r in from {
        match r {
            Role::Adm => nets.extend(&sources.admin_nets),
            Role::Client => {}
            peer => nets.extend(
                sources
                    .peers
                    .get(peer)
                    .into_iter()
                    .flatten()
                    .map(|a| Cidr::host(*a)),
            ),
        }
    }
    (Some(minimal(nets)), None)
}

/// Sorted, without duplicates or networks covered by another: some nft versions refuse
/// overlapping intervals in one set, and the other formats gain nothing from them.
fn minimal(mut nets: Vec<Cidr>) -> Vec<Cidr> {
    nets.sort();
    nets.dedup();
    let all = nets.clone();
    nets.retain(|n| !all.iter().any(|m| m != n && m.contains(*n)));
    nets
}

fn target_of(role: Role) -> Option<Target> {
    match role {
        Role::Server => Some(Target::Server),
        Role::Mgmt => Some(Target::Mgmt),
        Role::Ih => Some(Target::Ih),
        Role::Cas => Some(Target::Cas),
        Role::Adm | Role::Client => None,
    }
}

/// Whether the role is one of the deployment's servers, addressed by a `--ROLE` flag.
fn is_peer(role: Role) -> bool {
    matches!(role, Role::Server | Role::Mgmt | Role::Ih | Role::Cas)
}

/// The vendor's abbreviations from the port tables.
fn abbrev(role: Role) -> &'static str {
    match role {
        Role::Server => "SERVER",
        Role::Mgmt => "MGMT",
        Role::Ih => "IH",
        Role::Cas => "CAS",
        Role::Adm => "ADM",
        Role::Client => "ANY",
    }
}

fn join<T: fmt::Display>(items: impl Iterator<Item = T>, sep: &str) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
}

/// Prints `rules` for the machine of `role` in `format`, comments first.
///
/// # Errors
/// Only those of `out`.
pub fn render(
    rules: &[Rule],
    role: Role,
    format: FirewallFormat,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        FirewallFormat::Netsh => netsh::render(rules, role, out),
        FirewallFormat::Powershell => powershell::render(rules, role, out),
        FirewallFormat::Nftables => nftables::render(rules, role, out),
    }
}

/// The opening comment lines every format shares (`#` starts a comment in all three).
fn write_header(out: &mut dyn Write, role: Role, extra: &[&str]) -> io::Result<()> {
    let mode = if role == Role::Server {
        Mode::Single
    } else {
        Mode::Multi
    };
    writeln!(
        out,
        "# MailStore SPE inbound firewall rules for the {} (--role {}, {} server mode),",
        role.title(),
        role.label(),
        mode.label()
    )?;
    writeln!(
        out,
        "# from the vendor's port tables, generated by mssp-check."
    )?;
    for line in extra {
        writeln!(out, "# {line}")?;
    }
    Ok(())
}

/// The comment lines above one rule: what it allows, from where, and any warning.
fn write_rule_comment(out: &mut dyn Write, rule: &Rule, indent: &str) -> io::Result<()> {
    let who: Vec<&str> = rule.from.iter().map(|r| source_title(*r)).collect();
    let addresses = rule
        .sources
        .as_ref()
        .map_or_else(|| "any address".to_string(), |s| join(s.iter(), ", "));
    writeln!(
        out,
        "{indent}# {}llow TCP {} from {}: {}",
        if rule.optional { "Optional: a" } else { "A" },
        join(rule.ports.iter(), ","),
        safe_text(&who.join(", ")),
        addresses
    )?;
    if let Some(w) = &rule.warning {
        writeln!(out, "{indent}# WARNING: {}", safe_text(w))?;
    }
    Ok(())
}

fn source_title(role: Role) -> &'static str {
    match role {
        Role::Adm => "the administration network",
        Role::Client => "archive users anywhere",
        other => other.title(),
    }
}

/// `text` safe inside a double-quoted argument of cmd, netsh and PowerShell, inside an nft
/// string and inside a `#` comment line: control and bidi characters become spaces, double
/// quotes (straight and typographic) become `'`, a backslash (which could escape the closing
/// quote when Windows PowerShell re-quotes an argument for netsh) becomes `/`, and `` ` ``
/// `$` `%` (PowerShell's escape and expansion, cmd's expansion) are dropped; runs of white
/// space collapse to one space.
fn safe_text(text: &str) -> String {
    let mapped: String = text
        .chars()
        .filter(|c| !matches!(c, '`' | '$' | '%'))
        .map(|c| match c {
            '"' | '\u{201c}' | '\u{201d}' | '\u{201e}' => '\'',
            '\\' => '/',
            c if c.is_control() || is_bidi(c) => ' ',
            c => c,
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The documentation addresses every fixture uses (RFC 5737, RFC 2544, RFC 4193).
    pub(crate) fn fixture_sources() -> Sources {
        let ip = |s: &str| s.parse::<IpAddr>().expect("fixture address");
        Sources {
            admin_nets: vec!["192.0.2.0/24".parse().expect("cidr")],
            peers: BTreeMap::from([
                (Role::Server, vec![ip("198.18.0.1")]),
                (Role::Mgmt, vec![ip("198.18.0.10")]),
                (Role::Ih, vec![ip("198.18.0.11")]),
                (Role::Cas, vec![ip("198.18.0.12"), ip("fd00::12")]),
            ]),
        }
    }

    pub(crate) fn fixture_rules(role: Role) -> Vec<Rule> {
        let profiles = Profiles::embedded().expect("embedded profiles");
        inbound_rules(&profiles, role, &fixture_sources()).expect("rules")
    }

    /// A rule for the renderers' own tests.
    pub(crate) fn rule() -> Rule {
        Rule {
            name: "MailStore SPE (MGMT) 8471 from CAS".into(),
            ports: vec![8471],
            sources: Some(vec!["198.18.0.12".parse().expect("cidr")]),
            description: "8471: Internal communication with Management Server".into(),
            optional: false,
            from: vec![Role::Cas],
            warning: None,
        }
    }

    const SERVERS: [Role; 4] = [Role::Server, Role::Mgmt, Role::Ih, Role::Cas];

    /// Compares each role's output with `tests/fixtures/firewall/ROLE.FORMAT.txt`, or
    /// rewrites the files when `UPDATE_FIXTURES` is set.
    pub(crate) fn check_fixtures(format: FirewallFormat) {
        let update = std::env::var_os("UPDATE_FIXTURES").is_some();
        for role in SERVERS {
            write_or_compare(role, format, update);
        }
    }

    fn write_or_compare(role: Role, format: FirewallFormat, update: bool) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/firewall")
            .join(format!("{}.{}.txt", role.label(), format.label()));
        let mut out = Vec::new();
        render(&fixture_rules(role), role, format, &mut out).expect("render");
        let got = String::from_utf8(out).expect("utf-8");
        if update {
            std::fs::write(&path, &got).expect("write fixture");
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with UPDATE_FIXTURES=1 to create it",
                path.display()
            )
        });
        assert_eq!(
            got,
            want,
            "{} differs; UPDATE_FIXTURES=1 rewrites it",
            path.display()
        );
    }

    #[test]
    #[ignore = "rewrites tests/fixtures/firewall; review the diff before committing"]
    fn regenerate_fixtures() {
        for format in FirewallFormat::ALL {
            for role in SERVERS {
                write_or_compare(role, format, true);
            }
        }
    }

    #[test]
    fn cidrs_parse_and_normalise() {
        let cases = [
            ("192.0.2.0/24", "192.0.2.0/24"),
            ("192.0.2.77/24", "192.0.2.0/24"),
            ("198.18.0.11", "198.18.0.11"),
            ("198.18.0.11/32", "198.18.0.11"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("10.1.2.3/0", "0.0.0.0/0"),
            ("2001:db8::1/32", "2001:db8::/32"),
            ("fd00::12", "fd00::12"),
            ("fd00::12/128", "fd00::12"),
            ("::/0", "::/0"),
        ];
        for (input, want) in cases {
            let got: Cidr = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got.to_string(), want, "{input}");
        }
    }

    #[test]
    fn bad_cidrs_say_what_is_wrong() {
        let cases = [
            ("192.0.2.0/33", "longer than the 32 bits"),
            ("fd00::/129", "longer than the 128 bits"),
            ("192.0.2.0/", "number of bits"),
            ("192.0.2.0/+8", "number of bits"),
            ("192.0.2.0/2000", "number of bits"),
            ("192.0.2.0/256", "longer than the 32 bits"),
            ("mgmt.example/24", "not an IPv4 or IPv6 address"),
            ("", "not an IPv4 or IPv6 address"),
        ];
        for (input, want) in cases {
            let e = input.parse::<Cidr>().expect_err(input).to_string();
            assert!(
                e.contains(want) && e.contains("192.0.2.0/24"),
                "{input}: {e}"
            );
        }
    }

    #[test]
    fn containment() {
        let c = |s: &str| s.parse::<Cidr>().expect("cidr");
        let cases = [
            ("192.0.2.0/24", "192.0.2.9", true),
            ("192.0.2.0/24", "192.0.3.9", false),
            ("192.0.2.9", "192.0.2.0/24", false),
            ("0.0.0.0/0", "198.18.0.1", true),
            ("::/0", "198.18.0.1", false),
            ("fd00::/8", "fd00::12", true),
        ];
        for (outer, inner, want) in cases {
            assert_eq!(c(outer).contains(c(inner)), want, "{outer} ⊇ {inner}");
        }
    }

    #[test]
    fn rules_group_ports_by_sources_and_optionality() {
        let names =
            |role| -> Vec<String> { fixture_rules(role).into_iter().map(|r| r.name).collect() };
        let cases: [(Role, &[&str]); 4] = [
            (
                Role::Server,
                &[
                    "MailStore SPE (SERVER) 143,443,993 from ANY",
                    "MailStore SPE (SERVER) 8470,8474 from ADM",
                ],
            ),
            (
                Role::Mgmt,
                &[
                    "MailStore SPE (MGMT) 8470,8474 from ADM",
                    "MailStore SPE (MGMT) 8471 from IH/CAS",
                    "MailStore SPE (MGMT) 8470 from IH/CAS (optional)",
                ],
            ),
            (Role::Ih, &["MailStore SPE (IH) 8472 from MGMT/CAS"]),
            (
                Role::Cas,
                &[
                    "MailStore SPE (CAS) 143,443,993 from ANY",
                    "MailStore SPE (CAS) 8473 from MGMT",
                ],
            ),
        ];
        for (role, want) in cases {
            assert_eq!(names(role), want, "{}", role.label());
        }
    }

    #[test]
    fn sources_come_from_the_right_flags() {
        let mgmt = fixture_rules(Role::Mgmt);
        let shown = |r: &Rule| r.sources.as_ref().map(|s| join(s.iter(), ","));
        assert_eq!(shown(&mgmt[0]).as_deref(), Some("192.0.2.0/24"));
        assert_eq!(
            shown(&mgmt[1]).as_deref(),
            Some("198.18.0.11,198.18.0.12,fd00::12")
        );
        assert!(mgmt[2].optional && mgmt[2].description.starts_with("Optional. 8470: Required"));
        let cas = fixture_rules(Role::Cas);
        assert_eq!(cas[0].sources, None);
        assert_eq!(cas[0].warning, None);
    }

    #[test]
    #[allow(clippy::items_after_statements)]
    fn missing_peers_name_their_flags() {
        let profiles = Profiles::embedded().expect("embedded");
        // role, peers without an address, what the message says, what it must not name
        type Case = (
            Role,
            &'static [Role],
            &'static [&'static str],
            &'static [&'static str],
        );
        let cases: [Case; 4] = [
            (
                Role::Mgmt,
                &[Role::Ih],
                &["--role mgmt:", "from ih need --ih HOST"],
                &["--cas"],
            ),
            (
                Role::Mgmt,
                &[Role::Ih, Role::Cas],
                &["--ih HOST", "--cas HOST"],
                &["--mgmt"],
            ),
            (
                Role::Ih,
                &[Role::Mgmt],
                &["port 8472 from mgmt needs --mgmt HOST"],
                &["--cas"],
            ),
            (
                Role::Cas,
                &[Role::Mgmt],
                &["--role cas: port 8473 from mgmt needs --mgmt HOST"],
                &[],
            ),
        ];
        for (role, drop, want, not) in cases {
            let mut sources = fixture_sources();
            for r in drop {
                sources.peers.remove(r);
            }
            let e = inbound_rules(&profiles, role, &sources).expect_err("must fail");
            for w in want {
                assert!(e.contains(w), "{e}");
            }
            for n in not {
                assert!(!e.contains(n), "{e}");
            }
        }
        let mut empty = fixture_sources();
        empty.peers.insert(Role::Mgmt, Vec::new());
        let e = inbound_rules(&profiles, Role::Ih, &empty).expect_err("an empty list is missing");
        assert!(e.contains("--mgmt HOST"), "{e}");
    }

    #[test]
    fn roles_without_inbound_paths_are_an_error() {
        let profiles = Profiles::embedded().expect("embedded");
        for role in [Role::Adm, Role::Client] {
            let e = inbound_rules(&profiles, role, &fixture_sources()).expect_err("no rules");
            assert!(e.starts_with(&format!("--role {}:", role.label())), "{e}");
            assert!(e.contains("server, mgmt, ih or cas"), "{e}");
        }
    }

    #[test]
    fn no_admin_net_allows_any_and_says_so() {
        let profiles = Profiles::embedded().expect("embedded");
        let mut sources = fixture_sources();
        sources.admin_nets.clear();
        let rules = inbound_rules(&profiles, Role::Server, &sources).expect("rules");
        let adm = rules
            .iter()
            .find(|r| r.from == [Role::Adm])
            .expect("an ADM rule");
        assert_eq!(adm.sources, None);
        for format in FirewallFormat::ALL {
            let mut out = Vec::new();
            render(&rules, Role::Server, format, &mut out).expect("render");
            let text = String::from_utf8(out).expect("utf-8");
            assert!(
                text.contains("# WARNING: no --admin-net given"),
                "{}",
                format.label()
            );
        }
    }

    #[test]
    fn duplicate_and_covered_sources_are_dropped() {
        let c = |s: &str| s.parse::<Cidr>().expect("cidr");
        let got = minimal(vec![
            c("fd00::12"),
            c("192.0.2.9"),
            c("192.0.2.0/24"),
            c("fd00::12"),
            c("198.18.0.0/15"),
        ]);
        assert_eq!(join(got.iter(), ","), "192.0.2.0/24,198.18.0.0/15,fd00::12");
    }

    #[test]
    fn names_are_unique_for_every_role() {
        for role in SERVERS {
            let rules = fixture_rules(role);
            let names: BTreeSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names.len(), rules.len(), "{}", role.label());
        }
    }

    #[test]
    fn safe_text_neutralises_shell_syntax() {
        let cases = [
            ("plain words.", "plain words."),
            ("say \"hi\"", "say 'hi'"),
            ("$env:PATH `n %TEMP%", "env:PATH n TEMP"),
            ("a\r\n\tb\u{1b}[31m", "a b [31m"),
            ("\u{202e}evil\u{201c}q\u{201d}", "evil'q'"),
            ("C:\\dir", "C:/dir"),
        ];
        for (input, want) in cases {
            assert_eq!(safe_text(input), want, "{input:?}");
        }
    }
}
