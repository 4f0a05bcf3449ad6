//! The human report: a header, one row a path, the problems with evidence and next steps,
//! and a summary line (DESIGN §6).

use std::fmt::Write as _;
use std::io::{self, Write};

use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};

use super::{Report, Row, TableView};
use crate::observation::Outcome;
use crate::sanitize::{duration, printable};
use crate::verdict::{Severity, Verdict};

/// `skipped: 143, 993 (add --imap HOST) · 110, 995 (add --pop3 HOST)`: one group per missing
/// flag, in the order of the report, each port once.
fn skipped_line(rows: &[&Row]) -> Option<String> {
    let mut groups: Vec<(&str, Vec<u16>)> = Vec::new();
    let mut excluded: Vec<(&str, Vec<u16>)> = Vec::new();
    for r in rows {
        let (list, flag) = match r.obs.outcome {
            Outcome::Skipped { flag } => (&mut groups, flag),
            Outcome::Excluded { by } => (&mut excluded, by),
            _ => continue,
        };
        match list.iter_mut().find(|(f, _)| *f == flag) {
            Some((_, ports)) if !ports.contains(&r.obs.port) => ports.push(r.obs.port),
            Some(_) => {}
            None => list.push((flag, vec![r.obs.port])),
        }
    }
    if groups.is_empty() && excluded.is_empty() {
        return None;
    }
    let join = |p: &[u16]| p.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
    let segments: Vec<String> = groups
        .iter()
        .map(|(flag, p)| format!("{} (add {flag} HOST)", join(p)))
        .chain(
            excluded
                .iter()
                .map(|(by, p)| format!("{} (excluded by {by})", join(p))),
        )
        .collect();
    Some(format!(" skipped: {}", segments.join(" · ")))
}

fn verdict_color(v: Verdict) -> Color {
    match v {
        Verdict::Ok => Color::Green,
        Verdict::Skipped | Verdict::Cancelled => Color::DarkGrey,
        Verdict::Intercepted => Color::Magenta,
        Verdict::Dns | Verdict::NoService | Verdict::ProtocolError | Verdict::TlsFailed => {
            Color::Yellow
        }
        Verdict::Refused | Verdict::Filtered | Verdict::Unreachable | Verdict::InternalError => {
            Color::Red
        }
    }
}

fn target_cell(row: &Row) -> String {
    let o = &row.obs;
    let Some(host) = &o.host else {
        return "—".to_string();
    };
    let shown = host.display_host();
    let mut s = printable(&shown, 60);
    if let Some(a) = o.address {
        let ip = a.ip().to_string();
        if ip != shown {
            let _ = write!(s, " ({ip})");
        }
    }
    if o.local_target {
        s.push_str(" [this machine]");
    }
    if let Some(p) = &o.via_proxy {
        let _ = write!(s, " via {}", printable(p, 60));
    }
    s
}

fn time_cell(row: &Row) -> String {
    if row.judgement.verdict == Verdict::Skipped && row.obs.host.is_none() {
        return String::new();
    }
    let t = row.obs.timings.total;
    if t.as_millis() < 1000 {
        format!("{}ms", t.as_millis())
    } else {
        format!("{:.1}s", t.as_secs_f64())
    }
}

/// `dns 1ms · connect 2ms · tls 8ms · protocol 3ms`: the phases the probe got to.
fn phases_cell(row: &Row) -> String {
    let t = &row.obs.timings;
    let ms = |d: std::time::Duration| {
        if d.as_millis() < 1000 {
            format!("{}ms", d.as_millis())
        } else {
            format!("{:.1}s", d.as_secs_f64())
        }
    };
    [
        ("dns", t.dns),
        ("connect", t.connect),
        ("tls", t.tls),
        ("protocol", t.protocol),
    ]
    .iter()
    .filter_map(|(name, d)| d.map(|d| format!("{name} {}", ms(d))))
    .collect::<Vec<_>>()
    .join(" · ")
}

fn detail_cell(row: &Row) -> String {
    let mut s = printable(&row.judgement.reason, 120);
    // An ok row that warns says why in the row itself, in words ("STARTTLS was not offered"
    // rather than only the greeting) and by the findings' labels, which `mssp-check explain`
    // knows.
    let mut warnings: Vec<crate::verdict::FindingKind> = row
        .judgement
        .findings
        .iter()
        .filter(|f| f.warns && row.judgement.verdict == Verdict::Ok)
        .map(|f| f.kind)
        .collect();
    warnings.dedup();
    if let Some(first) = warnings.first() {
        let labels: Vec<&str> = warnings.iter().map(|k| k.label()).collect();
        let _ = write!(s, "; {} [{}]", first.summary(), labels.join(", "));
    }
    if !row.obs.path.required {
        s.push_str(" (optional)");
    }
    s
}

/// Writes the table report.
///
/// # Errors
/// Write errors.
pub fn render(
    report: &Report,
    color: bool,
    width: Option<u16>,
    view: TableView,
    out: &mut dyn Write,
) -> io::Result<()> {
    let m = &report.meta;
    let modes: Vec<&str> = m.modes.iter().map(|m| m.label()).collect();
    writeln!(
        out,
        "mssp-check {} · role {} ({}, {} server mode) · from {} · {}",
        m.version,
        m.role.label(),
        m.role.title(),
        modes.join(" + "),
        printable(&m.hostname, 60),
        m.started_at
    )?;
    for note in &m.notes {
        writeln!(out, "note: {}", printable(note, 300))?;
    }
    writeln!(out)?;

    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    if let Some(w) = width {
        table.set_content_arrangement(ContentArrangement::Dynamic);
        table.set_width(w);
    }
    let mut header = vec!["PATH", "TARGET", "PORT", "PROBE", "VERDICT", "TIME"];
    if view.phases {
        header.push("PHASES");
    }
    header.push("DETAIL");
    table.set_header(header);
    // Paths skipped for want of a target are folded into one line under the table, so the
    // first screen shows what was checked (issue 11).
    let (unasked, rows): (Vec<&Row>, Vec<&Row>) = report.rows.iter().partition(|r| {
        matches!(
            r.obs.outcome,
            Outcome::Skipped { .. } | Outcome::Excluded { .. }
        )
    });
    let rows = rows
        .into_iter()
        .filter(|r| !view.quiet || matches!(r.judgement.severity, Severity::Fail | Severity::Warn));
    for row in rows {
        let p = &row.obs.path;
        let mut verdict = Cell::new(row.judgement.verdict.label());
        if color {
            verdict = verdict.fg(verdict_color(row.judgement.verdict));
            if row.judgement.severity == Severity::Fail {
                verdict = verdict.add_attribute(Attribute::Bold);
            }
        }
        let mut cells = vec![
            Cell::new(format!("{} → {}", p.source.label(), p.target.label())),
            Cell::new(target_cell(row)),
            Cell::new(row.obs.port).set_alignment(CellAlignment::Right),
            Cell::new(p.probe.label()),
            verdict,
            Cell::new(time_cell(row)).set_alignment(CellAlignment::Right),
        ];
        if view.phases {
            cells.push(Cell::new(phases_cell(row)));
        }
        cells.push(Cell::new(detail_cell(row)));
        table.add_row(cells);
    }
    if table.row_count() > 0 {
        writeln!(out, "{table}")?;
    }
    if let Some(line) = skipped_line(&unasked).filter(|_| !view.quiet) {
        writeln!(out, "{line}")?;
    }

    if !m.inbound.is_empty() && !view.quiet {
        writeln!(out)?;
        writeln!(
            out,
            "On this machine: the inbound ports of {} ({})",
            m.role.label(),
            m.role.title()
        )?;
        for i in &m.inbound {
            let state = match i.listening {
                Some(true) => "listening",
                Some(false) => "not listening",
                None => "unknown",
            };
            writeln!(
                out,
                " {:>5}  {state:<13}  {}",
                i.port,
                printable(&i.detail, 100)
            )?;
        }
    }

    let (title, problems) = report.problems();
    if !problems.is_empty() {
        writeln!(out)?;
        writeln!(out, "{title}")?;
        for r in &problems {
            problem(r, color, out)?;
        }
        // The first problem's verdict as the example: a word the reader has just seen. The
        // summary stays the last line (scripts read it).
        if let Some(first) = problems.first() {
            // An ok row that warns: its finding is the word to look up.
            let word = match first.judgement.findings.iter().find(|f| f.warns) {
                Some(f) if first.judgement.verdict == Verdict::Ok => f.kind.label(),
                _ => first.judgement.verdict.label(),
            };
            writeln!(
                out,
                " What a verdict or [finding] means and how to fix it: mssp-check explain WORD (e.g. mssp-check explain {word})"
            )?;
        }
    }
    writeln!(out)?;
    let counts: Vec<String> = report
        .verdict_counts()
        .iter()
        .map(|(v, n)| format!("{n} {}", v.label()))
        .collect();
    let warned = if report.summary.warned > 0 {
        format!("; {} with warnings", report.summary.warned)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{} paths: {}{warned}  (exit {}, {})",
        report.summary.total,
        counts.join(", "),
        report.exit().code(),
        duration(std::time::Duration::from_millis(m.duration_ms))
    )
}

fn problem(r: &Row, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let (mark, paint) = match r.judgement.severity {
        Severity::Fail => ("✗", "\x1b[31m"),
        _ => ("!", "\x1b[33m"),
    };
    let (on, off) = if color { (paint, "\x1b[0m") } else { ("", "") };
    let p = &r.obs.path;
    let host = r.obs.host_label();
    writeln!(
        out,
        " {on}{mark}{off} {} → {}:{}  {on}{}{off}{}",
        p.source.label(),
        printable(&host, 60),
        r.obs.port,
        r.judgement.verdict.label(),
        if p.required { "" } else { " (optional path)" }
    )?;
    writeln!(out, "   {}", printable(&r.judgement.reason, 200))?;
    for f in r.judgement.findings.iter().filter(|f| f.warns) {
        writeln!(out, "   [{}] {}", f.kind.label(), printable(&f.detail, 300))?;
    }
    if let Some(leaf) = r.obs.tls.as_ref().and_then(|t| t.chain.first()) {
        if r.judgement.verdict != crate::verdict::Verdict::Ok || !r.judgement.findings.is_empty() {
            writeln!(
                out,
                "   certificate {}, issuer {}  sha1 {}  sha256 {}",
                printable(&leaf.subject, 100),
                printable(&leaf.issuer, 100),
                leaf.sha1,
                leaf.sha256
            )?;
        }
    }
    if let Some(h) = &r.judgement.hint {
        writeln!(out, "   Next: {}", printable(h, 300))?;
    }
    Ok(())
}
