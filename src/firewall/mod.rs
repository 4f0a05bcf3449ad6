//! Inbound firewall rules for one role of a MailStore SPE deployment (DESIGN §8): which TCP
//! ports it must accept, from which sources, rendered for `netsh advfirewall`, PowerShell's
//! `New-NetFirewallRule` or an `nft -f` file.
//!
//! Building the rules ([`inbound_rules`]) does no I/O; the caller resolves host names to
//! addresses first. Rendering only writes to the given writer.

mod cidr;
mod netsh;
mod nftables;
mod powershell;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;

use crate::config::profile::{Mode, Profiles, Role};

pub use cidr::{Cidr, CidrError};

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
    let Some(target) = role.as_target() else {
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
pub(super) mod tests;
