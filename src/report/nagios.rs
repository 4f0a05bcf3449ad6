//! `--format nagios`: the monitoring-plugin conventions (Nagios, Icinga, Checkmk, PRTG): one
//! status line, a line per problem, performance data, and the state as the exit code.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Report, Row};
use crate::exit::PluginState;
use crate::sanitize::printable;
use crate::verdict::Severity;

/// How many problems the status line names before "…": monitoring UIs show one line.
const NAMED: usize = 3;

/// The plugin state of a report: a failed required path is CRITICAL (a warning too with
/// `--strict`), a warning WARNING, nothing checked at all UNKNOWN.
#[must_use]
pub fn state(report: &Report) -> PluginState {
    let s = &report.summary;
    if s.total == s.skipped {
        PluginState::Unknown
    } else if s.failed > 0 || (report.meta.strict && s.warned > 0) {
        PluginState::Critical
    } else if s.warned > 0 {
        PluginState::Warning
    } else {
        PluginState::Ok
    }
}

/// Plugin output text: one line, and no `|`, which starts the performance data.
fn text(s: &str, max: usize) -> String {
    printable(s, max).replace('|', "/")
}

/// `ih -> mgmt01:8471 refused`.
fn short(r: &Row) -> String {
    format!(
        "{} -> {}:{} {}",
        r.obs.path.source.label(),
        text(&r.obs.host_label(), 60),
        r.obs.port,
        r.judgement.verdict.label()
    )
}

/// The line for a run whose input was bad: the plugin state UNKNOWN, on stdout where the
/// monitoring system looks.
#[must_use]
pub fn unknown_line(message: &str) -> String {
    format!("MSSP-CHECK UNKNOWN - {}", text(message, 400))
}

/// A performance-data label: any character but `'` and `=` (the guidelines), unique.
fn perf_label(r: &Row, seen: &mut HashSet<String>) -> String {
    let clean = |s: &str| s.replace(['\'', '='], "_");
    let mut label = clean(&format!("{} {}", r.obs.path.id, r.obs.host_label()));
    if !seen.insert(label.clone()) {
        if let Some(a) = r.obs.address {
            label = clean(&format!("{label} {}", a.ip()));
        }
        seen.insert(label.clone());
    }
    label
}

/// Writes the status line with the performance data, then one line per problem.
///
/// # Errors
/// Write errors.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let s = &report.summary;
    let st = state(report);
    let checked = s.total - s.skipped;
    let (_, mut problems) = report.problems();
    // Failures first: the long output is read top down.
    problems.sort_by_key(|r| r.judgement.severity != Severity::Fail);
    let fails: Vec<&Row> = problems
        .iter()
        .copied()
        .filter(|r| r.judgement.severity == Severity::Fail)
        .collect();
    let named = |rows: &[&Row]| {
        let mut list: Vec<String> = rows.iter().take(NAMED).map(|r| short(r)).collect();
        if rows.len() > NAMED {
            list.push("…".into());
        }
        list.join(", ")
    };
    let status = match st {
        PluginState::Unknown => format!(
            "no path was checked ({} skipped: name the peers and targets of the role)",
            s.skipped
        ),
        PluginState::Critical if fails.is_empty() => format!(
            "{} of {checked} paths with warnings (--strict): {}",
            s.warned,
            named(&problems)
        ),
        PluginState::Critical => {
            format!("{} of {checked} paths failed: {}", s.failed, named(&fails))
        }
        PluginState::Warning => format!(
            "{} of {checked} paths with warnings: {}",
            s.warned,
            named(&problems)
        ),
        PluginState::Ok => format!("{} of {checked} paths ok", s.ok),
    };
    let skipped = if s.skipped > 0 && st != PluginState::Unknown {
        format!(" ({} skipped)", s.skipped)
    } else {
        String::new()
    };
    let mut seen = HashSet::new();
    let perf: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.judgement.severity != Severity::Skip)
        .map(|r| {
            format!(
                "'{}'={:.3}s;;;",
                perf_label(r, &mut seen),
                r.obs.timings.total.as_secs_f64()
            )
        })
        .collect();
    write!(out, "MSSP-CHECK {} - {status}{skipped}", st.label())?;
    if perf.is_empty() {
        writeln!(out)?;
    } else {
        writeln!(out, " | {}", perf.join(" "))?;
    }
    for r in problems {
        let sev = if r.judgement.severity == Severity::Fail {
            "CRITICAL"
        } else {
            "WARNING"
        };
        let mut line = format!("{sev}: {} - {}", short(r), text(&r.judgement.reason, 200));
        let warnings: Vec<_> = r.judgement.findings.iter().filter(|f| f.warns).collect();
        if let Some(f) = warnings.first() {
            let kinds: Vec<&str> = warnings.iter().map(|f| f.kind.label()).collect();
            let _ = write!(line, " [{}] {}", kinds.join(", "), text(&f.detail, 200));
        }
        if let Some(h) = &r.judgement.hint {
            let _ = write!(line, ". Next: {}", text(h, 200));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{text, unknown_line};

    #[test]
    fn no_pipe_reaches_the_plugin_text() {
        assert_eq!(text("a | b", 50), "a / b");
        assert_eq!(
            unknown_line("--mgmt: bad | host"),
            "MSSP-CHECK UNKNOWN - --mgmt: bad / host"
        );
    }
}
