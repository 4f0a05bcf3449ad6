//! PowerShell `New-NetFirewallRule` commands (the `NetSecurity` module, Windows Server 2012+).

use std::io::{self, Write};

use super::{abbrev, join, safe_text, write_header, write_rule_comment, Rule};
use crate::config::profile::Role;

pub(super) fn render(rules: &[Rule], role: Role, out: &mut dyn Write) -> io::Result<()> {
    let removal = format!(
        "them with: Get-NetFirewallRule -DisplayName 'MailStore SPE ({}) *' | Remove-NetFirewallRule",
        abbrev(role)
    );
    write_header(
        out,
        role,
        &[
            "Run in an elevated PowerShell prompt. Running it twice adds the rules twice; remove",
            &removal,
        ],
    )?;
    for rule in rules {
        writeln!(out)?;
        write_rule_comment(out, rule, "")?;
        // Addresses are quoted: an IPv6 address is not a safe bare word in every position.
        let remote = rule
            .sources
            .as_ref()
            .map(|s| {
                let quoted: Vec<String> = s.iter().map(|c| format!("\"{c}\"")).collect();
                format!(" -RemoteAddress {}", quoted.join(","))
            })
            .unwrap_or_default();
        writeln!(
            out,
            "New-NetFirewallRule -DisplayName \"{}\" -Direction Inbound -Action Allow -Protocol TCP \
             -LocalPort {}{remote} -Profile Any -Description \"{}\"",
            safe_text(&rule.name),
            join(rule.ports.iter(), ","),
            safe_text(&rule.description),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_fixtures, rule};
    use super::*;
    use crate::firewall::FirewallFormat;

    #[test]
    fn fixtures_match() {
        check_fixtures(FirewallFormat::Powershell);
    }

    #[test]
    fn expansions_are_removed_from_double_quoted_strings() {
        let mut r = rule();
        r.name = "x $(Remove-Item C:\\) `\"y".into();
        let mut out = Vec::new();
        render(&[r], Role::Ih, &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        let line = text.lines().last().expect("a rule line");
        assert!(
            line.contains("-DisplayName \"x (Remove-Item C:/) 'y\""),
            "{line}"
        );
        assert!(!line.contains('$') && !line.contains('`'), "{line}");
    }

    #[test]
    fn any_source_has_no_remote_address() {
        let mut r = rule();
        r.sources = None;
        let mut out = Vec::new();
        render(&[r], Role::Cas, &mut out).expect("render");
        assert!(!String::from_utf8_lossy(&out).contains("-RemoteAddress"));
    }
}
