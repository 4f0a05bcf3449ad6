//! `netsh advfirewall firewall add rule` lines, as in the vendor's firewall document, with
//! `#` comments, so the output runs as it stands in the PowerShell prompt the vendor uses.

use std::io::{self, Write};

use super::{join, safe_text, write_header, write_rule_comment, Rule};
use crate::config::profile::Role;

pub(super) fn render(rules: &[Rule], role: Role, out: &mut dyn Write) -> io::Result<()> {
    write_header(
        out,
        role,
        &[
            "Run in an elevated PowerShell prompt. Running it twice adds the rules twice; remove",
            "one with: netsh advfirewall firewall delete rule name=\"NAME\"",
        ],
    )?;
    for rule in rules {
        writeln!(out)?;
        write_rule_comment(out, rule, "")?;
        // Every value is quoted: PowerShell would split an unquoted comma list into an array.
        let remote = rule
            .sources
            .as_ref()
            .map(|s| format!(" remoteip=\"{}\"", join(s.iter(), ",")))
            .unwrap_or_default();
        writeln!(
            out,
            "netsh advfirewall firewall add rule name=\"{}\" action=ALLOW dir=IN protocol=TCP \
             localport=\"{}\"{remote} profile=ANY description=\"{}\"",
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
        check_fixtures(FirewallFormat::Netsh);
    }

    #[test]
    fn quotes_and_expansions_cannot_break_out() {
        let mut r = rule();
        r.name = "a\"b $env:X `n%PATH%".into();
        r.description = "line\nbreak \u{201d}x".into();
        let mut out = Vec::new();
        render(&[r], Role::Mgmt, &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        let line = text.lines().last().expect("a rule line");
        assert!(line.contains("name=\"a'b env:X nPATH\""), "{line}");
        assert!(line.contains("description=\"line break 'x\""), "{line}");
        assert_eq!(line.matches('"').count(), 8, "{line}");
    }

    #[test]
    fn any_source_has_no_remoteip() {
        let mut r = rule();
        r.sources = None;
        let mut out = Vec::new();
        render(&[r], Role::Cas, &mut out).expect("render");
        assert!(!String::from_utf8_lossy(&out).contains("remoteip"));
    }
}
