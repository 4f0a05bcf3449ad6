//! The deployment's view as Markdown, for pasting into a ticket: what the merge found, the
//! matrix, the problems with evidence, and the summary line.

use std::io::{self, Write};

use super::evidence::{Evidence, Told};
use super::finding::thumbprint;
use super::table::summary_line;
use super::view::View;
use crate::sanitize::printable;
use crate::verdict::{Severity, Verdict};

/// Cell text: printable, no pipes or backticks breaking the table, one line.
fn cell(s: &str, max: usize) -> String {
    printable(s, max)
        .replace('|', "\\|")
        .replace('`', "'")
        .replace('<', "&lt;")
}

fn from(t: &Told) -> String {
    match &t.from {
        Some(s) => format!("{}: ", cell(&s.join(", "), 120)),
        None => String::new(),
    }
}

fn matrix(view: &View, out: &mut dyn Write) -> io::Result<()> {
    let heads: Vec<String> = view.sources.iter().map(|s| cell(&s.short, 30)).collect();
    writeln!(out, "| target | probe | {} |", heads.join(" | "))?;
    writeln!(out, "|---|---|{}", "---|".repeat(heads.len()))?;
    for row in &view.rows {
        let mut target = cell(&row.endpoint(), 80);
        if let Some(p) = &row.via_proxy {
            target.push_str(" via ");
            target.push_str(&cell(p, 60));
        }
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|c| match c {
                None => "—".to_string(),
                Some(c) => {
                    let mut s = match c.severity {
                        Severity::Fail => format!("**{}**", c.verdict.label()),
                        Severity::Warn if c.verdict == Verdict::Ok => "ok !".to_string(),
                        _ => c.verdict.label().to_string(),
                    };
                    if let Some(spread) = c.spread() {
                        s = format!("{s} ({spread})");
                    }
                    s
                }
            })
            .collect();
        writeln!(
            out,
            "| {target} | {} | {} |",
            row.probe.label(),
            cells.join(" | ")
        )?;
    }
    Ok(())
}

/// Writes the view as Markdown.
///
/// # Errors
/// Write errors.
pub fn render(view: &View, out: &mut dyn Write) -> io::Result<()> {
    let (first, last) = view.span();
    writeln!(
        out,
        "### mssp-check {}: deployment view of {} host{}{}\n",
        env!("CARGO_PKG_VERSION"),
        view.sources.len(),
        if view.sources.len() == 1 { "" } else { "s" },
        view.site
            .as_ref()
            .map(|s| format!(" (site `{}`)", cell(s, 100)))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "Runs from {} to {}. Sources: {}.\n",
        cell(&first, 30),
        cell(&last, 30),
        view.sources
            .iter()
            .map(|s| {
                let roles: Vec<&str> = s.roles.iter().map(|r| r.label()).collect();
                format!("`{}` ({})", cell(&s.host, 60), roles.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    for note in &view.notes {
        writeln!(out, "> {}", cell(note, 300))?;
    }
    if !view.findings.is_empty() {
        writeln!(out, "#### Found by the merge ({})\n", view.findings.len())?;
        for f in &view.findings {
            let mark = if f.severity == Severity::Fail {
                "✗"
            } else {
                "!"
            };
            writeln!(
                out,
                "- {mark} **`{}`** {}",
                f.kind.label(),
                cell(&f.detail, 400)
            )?;
            for line in &f.evidence {
                writeln!(out, "  - {}", cell(line, 400))?;
            }
            if let Some(h) = &f.hint {
                writeln!(out, "  - Next: {}", cell(h, 300))?;
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "#### Matrix\n")?;
    matrix(view, out)?;
    for (srcs, paths) in view.skipped_groups() {
        let names: Vec<&str> = srcs
            .iter()
            .map(|&s| view.sources[s].host.as_str())
            .collect();
        writeln!(
            out,
            "\nSkipped on {} (no target given): {}",
            cell(&names.join(", "), 200),
            cell(&paths.join(", "), 400)
        )?;
    }
    if !view.problems.is_empty() {
        writeln!(out, "\n#### Problems ({})\n", view.problems.len())?;
        for p in &view.problems {
            let e = Evidence::of(p, view);
            writeln!(
                out,
                "- **{} → {} {} {}**{}",
                cell(&e.sources.join(", "), 200),
                cell(&e.target, 120),
                e.probe,
                p.verdict.label(),
                if e.required { "" } else { " (optional path)" }
            )?;
            for r in &e.reasons {
                writeln!(out, "  - {}{}", from(r), cell(&r.text, 200))?;
            }
            for (kind, f) in &e.findings {
                writeln!(
                    out,
                    "  - `{}` {}{}",
                    cell(kind, 40),
                    from(f),
                    cell(&f.text, 300)
                )?;
            }
            for (who, leaf) in &e.certificates {
                writeln!(
                    out,
                    "  - {}certificate {}, issuer {}, thumbprint `{}`, sha256 `{}`",
                    who.as_ref()
                        .map(|w| format!("{}: ", cell(&w.join(", "), 120)))
                        .unwrap_or_default(),
                    cell(&leaf.subject, 100),
                    cell(&leaf.issuer, 100),
                    cell(&thumbprint(&leaf.sha1), 64),
                    cell(&leaf.sha256, 80)
                )?;
            }
            for h in &e.hints {
                writeln!(out, "  - Next: {}{}", from(h), cell(&h.text, 300))?;
            }
        }
    }
    writeln!(out, "\n{}", cell(&summary_line(view), 400))
}

#[cfg(test)]
mod tests {
    use crate::config::profile::Role;
    use crate::deployment::testkit::{result, run, view};
    use crate::verdict::Verdict;

    #[test]
    fn pipes_and_markup_in_reports_do_not_break_the_table() {
        let mut r = result(Role::Ih, "mgmt", "mgmt01", 8471, Verdict::Refused);
        r.reason = "a | b `c` <img>".into();
        let v = view(vec![run("ih|01", Role::Ih, vec![r])]);
        let mut out = Vec::new();
        super::render(&v, &mut out).expect("renders");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("| target | probe | ih\\|01 |"), "{text}");
        assert!(text.contains("a \\| b 'c' &lt;img>"), "{text}");
        assert!(
            text.contains("| mgmt01:8471 | tls | **refused** |"),
            "{text}"
        );
    }
}
