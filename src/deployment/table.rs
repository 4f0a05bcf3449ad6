//! The deployment's view for a terminal: a header, the matrix (targets by source hosts), what
//! only the merge found, the problems with evidence, and a summary line.
//!
//! Many sources: the column heads are short (first DNS labels) and a cell is one verdict
//! word, so a column takes about 14 characters. When the matrix is still wider than the
//! terminal, it is wrapped: printed in blocks of as many source columns as fit, each block
//! repeating the target column. Transposing would not help — a deployment has more
//! targets than sources, so the transposed matrix is wider still — and comfy-table's own
//! squeezing would break verdict words over lines.

use std::fmt::Write as _;
use std::io::{self, Write};

use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, Table};

use super::evidence::{Evidence, Told};
use super::finding::thumbprint;
use super::view::{Row, View};
use crate::sanitize::printable;
use crate::verdict::{Severity, Verdict};

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

/// A cell's text: the verdict, `!` when it passed with a warning, and how many addresses
/// agree when not all do.
fn cell_text(c: &super::view::Cell) -> String {
    let mut s = c.verdict.label().to_string();
    if c.severity == Severity::Warn && c.verdict == Verdict::Ok {
        s.push_str(" !");
    }
    if let Some(spread) = c.spread() {
        s.push('\n');
        s.push_str(&spread);
    }
    s
}

fn target_text(row: &Row) -> String {
    let mut s = printable(&row.endpoint(), 60);
    if let Some(p) = &row.via_proxy {
        s.push_str(" via ");
        s.push_str(&printable(p, 40));
    }
    s
}

/// Blocks of source columns that fit `width` next to the target columns.
#[must_use]
pub fn blocks(
    fixed: usize,
    columns: &[usize],
    width: Option<usize>,
) -> Vec<std::ops::Range<usize>> {
    let Some(width) = width else {
        return std::iter::once(0..columns.len()).collect();
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = fixed;
    for (i, w) in columns.iter().enumerate() {
        if i > start && used + w > width {
            out.push(start..i);
            start = i;
            used = fixed;
        }
        used += w;
    }
    out.push(start..columns.len());
    out
}

fn matrix(view: &View, color: bool, width: Option<u16>, out: &mut dyn Write) -> io::Result<()> {
    let heads: Vec<String> = view
        .sources
        .iter()
        .map(|s| printable(&s.short, 30))
        .collect();
    // Padding of the NOTHING preset: one space each side.
    let col_w: Vec<usize> = heads
        .iter()
        .enumerate()
        .map(|(si, h)| {
            let widest = view
                .rows
                .iter()
                .filter_map(|r| r.cells[si].as_ref())
                .flat_map(|c| {
                    cell_text(c)
                        .lines()
                        .map(|l| l.chars().count())
                        .collect::<Vec<_>>()
                })
                .max()
                .unwrap_or(1);
            widest.max(h.chars().count()) + 2
        })
        .collect();
    let target_w = view
        .rows
        .iter()
        .map(|r| target_text(r).chars().count())
        .max()
        .unwrap_or(6)
        .max(6)
        + 2;
    let probe_w = 15;
    let all = blocks(target_w + probe_w, &col_w, width.map(usize::from));
    for block in &all {
        if all.len() > 1 {
            writeln!(
                out,
                "Sources {}–{} of {}",
                block.start + 1,
                block.end,
                view.sources.len()
            )?;
        }
        let mut table = Table::new();
        table.load_preset(presets::NOTHING);
        if color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        let mut header = vec![Cell::new("TARGET"), Cell::new("PROBE")];
        header.extend(heads[block.clone()].iter().map(Cell::new));
        table.set_header(header);
        for row in &view.rows {
            let mut cells = vec![Cell::new(target_text(row)), Cell::new(row.probe.label())];
            for c in &row.cells[block.clone()] {
                let Some(c) = c else {
                    cells.push(Cell::new("—").set_alignment(CellAlignment::Left));
                    continue;
                };
                let mut cell = Cell::new(cell_text(c));
                if color {
                    cell = cell.fg(verdict_color(c.verdict));
                    if c.severity == Severity::Fail {
                        cell = cell.add_attribute(Attribute::Bold);
                    }
                }
                cells.push(cell);
            }
            table.add_row(cells);
        }
        writeln!(out, "{table}")?;
    }
    Ok(())
}

fn from(t: &Told) -> String {
    match &t.from {
        Some(s) => format!("{}: ", printable(&s.join(", "), 120)),
        None => String::new(),
    }
}

fn marks(severity: Severity, color: bool) -> (&'static str, &'static str, &'static str) {
    let (mark, paint) = match severity {
        Severity::Fail => ("✗", "\x1b[31m"),
        _ => ("!", "\x1b[33m"),
    };
    if color {
        (mark, paint, "\x1b[0m")
    } else {
        (mark, "", "")
    }
}

fn problems(view: &View, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let fails = view
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Fail)
        .count();
    let warns = view.problems.len() - fails;
    let title = match (fails, warns) {
        (f, 0) => format!("Problems ({f})"),
        (0, w) => format!("Warnings ({w})"),
        (f, w) => format!("Problems ({f}) and warnings ({w})"),
    };
    writeln!(out, "\n{title}")?;
    for p in &view.problems {
        let e = Evidence::of(p, view);
        let (mark, on, off) = marks(p.severity, color);
        writeln!(
            out,
            " {on}{mark}{off} {} → {} {}  {on}{}{off}{}",
            printable(&e.sources.join(", "), 200),
            printable(&e.target, 120),
            e.probe,
            p.verdict.label(),
            if e.required { "" } else { " (optional path)" }
        )?;
        for r in &e.reasons {
            writeln!(out, "   {}{}", from(r), printable(&r.text, 200))?;
        }
        for (kind, f) in &e.findings {
            writeln!(
                out,
                "   [{}] {}{}",
                printable(kind, 40),
                from(f),
                printable(&f.text, 300)
            )?;
        }
        for (who, leaf) in &e.certificates {
            let who = who
                .as_ref()
                .map(|w| format!("{}: ", printable(&w.join(", "), 120)))
                .unwrap_or_default();
            writeln!(
                out,
                "   {who}certificate {}, issuer {}  thumbprint {}  sha256 {}",
                printable(&leaf.subject, 100),
                printable(&leaf.issuer, 100),
                printable(&thumbprint(&leaf.sha1), 64),
                printable(&leaf.sha256, 80)
            )?;
        }
        for h in &e.hints {
            writeln!(out, "   Next: {}{}", from(h), printable(&h.text, 300))?;
        }
    }
    Ok(())
}

fn merge_findings(view: &View, color: bool, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\nFound by the merge ({})", view.findings.len())?;
    for f in &view.findings {
        let (mark, on, off) = marks(f.severity, color);
        writeln!(
            out,
            " {on}{mark}{off} [{}] {}",
            f.kind.label(),
            printable(&f.detail, 400)
        )?;
        for line in &f.evidence {
            writeln!(out, "   {}", printable(line, 400))?;
        }
        if let Some(h) = &f.hint {
            writeln!(out, "   Next: {}", printable(h, 300))?;
        }
    }
    Ok(())
}

/// The summary line: hosts, results by verdict, the merge's findings, the exit code.
#[must_use]
pub fn summary_line(view: &View) -> String {
    let s = view.summary();
    let counts: Vec<String> = s
        .by_verdict
        .iter()
        .map(|(v, n)| format!("{n} {}", v.label()))
        .collect();
    let mut line = format!(
        "{} host{} reported",
        s.hosts,
        if s.hosts == 1 { "" } else { "s" }
    );
    if view.site.is_some() {
        let _ = write!(line, ", {} never reported", s.not_reported);
    }
    let _ = write!(line, "; {} results: {}", s.results, counts.join(", "));
    if s.warned > 0 {
        let _ = write!(line, " ({} with warnings)", s.warned);
    }
    let found = s.findings_failed + s.findings_warned;
    if found > 0 {
        let _ = write!(line, "; {found} found by the merge");
    }
    let _ = write!(line, "; exit {}", view.exit().code());
    line
}

/// Writes the view for a terminal.
///
/// # Errors
/// Write errors.
pub fn render(view: &View, color: bool, width: Option<u16>, out: &mut dyn Write) -> io::Result<()> {
    let (first, last) = view.span();
    let hosts: Vec<String> = view
        .sources
        .iter()
        .map(|s| printable(&s.host, 60))
        .collect();
    write!(
        out,
        "mssp-check {} · deployment view · {} · runs {} – {}",
        env!("CARGO_PKG_VERSION"),
        hosts.join(", "),
        printable(&first, 30),
        printable(&last, 30)
    )?;
    match &view.site {
        Some(site) => writeln!(out, " · site {}", printable(site, 100))?,
        None => writeln!(out)?,
    }
    for note in &view.notes {
        writeln!(out, "note: {}", printable(note, 300))?;
    }
    for s in &view.sources {
        for note in &s.notes {
            writeln!(
                out,
                "note ({}): {}",
                printable(&s.short, 30),
                printable(note, 300)
            )?;
        }
    }
    writeln!(out)?;
    matrix(view, color, width, out)?;
    let skipped: Vec<String> = view
        .skipped_groups()
        .iter()
        .map(|(srcs, paths)| {
            let names: Vec<&str> = srcs
                .iter()
                .map(|&s| view.sources[s].short.as_str())
                .collect();
            format!(
                "{}: {}",
                printable(&names.join(", "), 200),
                printable(&paths.join(", "), 400)
            )
        })
        .collect();
    if !skipped.is_empty() {
        writeln!(out, "\nSkipped (no target given): {}", skipped.join("; "))?;
    }
    if !view.findings.is_empty() {
        merge_findings(view, color, out)?;
    }
    if !view.problems.is_empty() {
        problems(view, color, out)?;
    }
    writeln!(out)?;
    writeln!(out, "{}", summary_line(view))
}

#[cfg(test)]
mod tests {
    use super::blocks;
    use crate::config::profile::Role;
    use crate::deployment::testkit::{result, run, view};
    use crate::verdict::Verdict;

    #[test]
    fn a_wide_matrix_is_printed_in_blocks_of_sources() {
        let runs = (1..=6)
            .map(|i| {
                run(
                    &format!("ih{i:02}.example.net"),
                    Role::Ih,
                    vec![result(Role::Ih, "mgmt", "mgmt01", 8471, Verdict::Ok)],
                )
            })
            .collect();
        let v = view(runs);
        let mut out = Vec::new();
        super::render(&v, false, Some(60), &mut out).expect("renders");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("Sources 1–"), "{text}");
        assert!(text.contains(" of 6"), "{text}");
        assert!(
            text.lines()
                .all(|l| l.chars().count() <= 60 || !l.contains("mgmt01:8471")),
            "{text}"
        );
        assert!(
            text.trim_end()
                .ends_with("6 hosts reported; 6 results: 6 ok; exit 0"),
            "{text}"
        );
        let mut out = Vec::new();
        super::render(&v, false, None, &mut out).expect("renders");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            !text.contains("Sources 1–"),
            "one table when the width is unknown"
        );
        assert!(
            text.contains("ih01  ") && text.contains("ih06"),
            "short heads: {text}"
        );
    }

    #[test]
    fn the_matrix_wraps_into_blocks_that_fit() {
        assert_eq!(blocks(30, &[14; 9], None).len(), 1);
        assert_eq!(blocks(30, &[14; 9], Some(100)), vec![0..5, 5..9]);
        // A column wider than the terminal still gets a block of its own.
        assert_eq!(blocks(30, &[200, 14], Some(80)), vec![0..1, 1..2]);
    }
}
