//! Markdown for pasting into a support ticket (`--format markdown`): a heading, a table of
//! paths, and the problems with their evidence and next steps.

use std::io::{self, Write};

use super::Report;
use crate::sanitize::printable;
use crate::verdict::Severity;

/// Cell text: printable, no pipes or backticks breaking the table, one line.
fn cell(s: &str, max: usize) -> String {
    printable(s, max).replace('|', "\\|").replace('`', "'")
}

/// Writes the report as Markdown.
///
/// # Errors
/// Write errors.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let m = &report.meta;
    writeln!(
        out,
        "### mssp-check {}: role `{}` ({}) from `{}`, {}\n",
        m.version,
        m.role.label(),
        m.role.title(),
        cell(&m.hostname, 60),
        m.started_at
    )?;
    for note in &m.notes {
        writeln!(out, "> {}", cell(note, 300))?;
    }
    writeln!(
        out,
        "| path | target | port | probe | verdict | time | detail |"
    )?;
    writeln!(out, "|---|---|---:|---|---|---:|---|")?;
    for r in &report.rows {
        let p = &r.obs.path;
        let target = match (&r.obs.host, r.obs.address) {
            (Some(_), Some(a)) => format!("{} ({})", r.obs.host_label(), a.ip()),
            (Some(_), None) => r.obs.host_label(),
            (None, _) => "—".into(),
        };
        let verdict = match r.judgement.severity {
            Severity::Fail => format!("**{}**", r.judgement.verdict.label()),
            _ => r.judgement.verdict.label().to_string(),
        };
        writeln!(
            out,
            "| {} → {} | {} | {} | {} | {} | {} ms | {} |",
            p.source.label(),
            p.target.label(),
            cell(&target, 80),
            r.obs.port,
            p.probe.label(),
            verdict,
            r.obs.timings.total.as_millis(),
            cell(&r.judgement.reason, 160)
        )?;
    }
    let (title, problems) = report.problems();
    if !problems.is_empty() {
        writeln!(out, "\n#### {title}\n")?;
        for r in problems {
            let host = r.obs.host_label();
            writeln!(
                out,
                "- **{} → {}:{} {}** — {}",
                r.obs.path.source.label(),
                cell(&host, 60),
                r.obs.port,
                r.judgement.verdict.label(),
                cell(&r.judgement.reason, 200)
            )?;
            for f in r.judgement.findings.iter().filter(|f| f.warns) {
                writeln!(out, "  - `{}` {}", f.kind.label(), cell(&f.detail, 300))?;
            }
            if let Some(h) = &r.judgement.hint {
                writeln!(out, "  - Next: {}", cell(h, 300))?;
            }
        }
    }
    let s = &report.summary;
    writeln!(
        out,
        "\n{} paths: {} ok, {} failed, {} with warnings, {} skipped (exit {})",
        s.total,
        s.ok,
        s.failed,
        s.warned,
        s.skipped,
        report.exit().code()
    )
}
