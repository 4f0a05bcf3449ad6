//! The sorted report of a run, its summary, and rendering in the chosen format.

pub mod json;
pub mod junit;
pub mod markdown;
pub mod nagios;
pub mod profiles;
pub mod prometheus;
pub mod table;

use std::io::{self, Write};

use crate::config::profile::{Mode, Role};
use crate::verdict::{Severity, Verdict};

pub use crate::verdict::Row;

/// Counts for the summary line and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub total: usize,
    pub ok: usize,
    pub failed: usize,
    pub warned: usize,
    pub skipped: usize,
    /// Not finished: the run was stopped first.
    pub cancelled: usize,
}

/// Facts about the run itself.
#[derive(Debug, Clone)]
pub struct Meta {
    pub version: &'static str,
    pub role: Role,
    /// Every role the run checked (a machine found in the site file may hold several).
    pub roles: Vec<Role>,
    /// The OS's own name for this machine (`hostname` is the site file's, when found there).
    pub os_hostname: String,
    /// This machine's own addresses that its site name resolved to.
    pub addresses: Vec<std::net::IpAddr>,
    pub modes: Vec<Mode>,
    pub hostname: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub strict: bool,
    /// The run was stopped before every path finished, and by what.
    pub stopped: Option<crate::stop::Why>,
    /// Things the user should know that are not about one path.
    pub notes: Vec<String>,
    /// The role's inbound ports on this machine.
    pub inbound: Vec<crate::probe::listening::Inbound>,
}

/// A whole run, sorted.
#[derive(Debug, Clone)]
pub struct Report {
    pub meta: Meta,
    pub rows: Vec<Row>,
    pub summary: Summary,
}

impl Report {
    /// The rows that fail or warn, and the heading over them: "Problems (2)", "Warnings (3)"
    /// or "Problems (2) and warnings (1)".
    #[must_use]
    pub fn problems(&self) -> (String, Vec<&Row>) {
        let rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| matches!(r.judgement.severity, Severity::Fail | Severity::Warn))
            .collect();
        let fails = rows
            .iter()
            .filter(|r| r.judgement.severity == Severity::Fail)
            .count();
        let warns = rows.len() - fails;
        let title = match (fails, warns) {
            (f, 0) => format!("Problems ({f})"),
            (0, w) => format!("Warnings ({w})"),
            (f, w) => format!("Problems ({f}) and warnings ({w})"),
        };
        (title, rows)
    }

    /// Sorts the judged rows of a run (see [`crate::verdict::judge_run`]) and counts them.
    #[must_use]
    pub fn build(meta: Meta, mut rows: Vec<Row>) -> Self {
        rows.sort_by_key(sort_key);
        let mut s = Summary {
            total: rows.len(),
            ..Summary::default()
        };
        for r in &rows {
            match r.judgement.severity {
                Severity::Pass => s.ok += 1,
                Severity::Warn => s.warned += 1,
                Severity::Fail => s.failed += 1,
                Severity::Skip => s.skipped += 1,
                Severity::Cancelled => s.cancelled += 1,
            }
        }
        Self {
            meta,
            rows,
            summary: s,
        }
    }

    /// The exit code this report asks for.
    #[must_use]
    pub fn exit(&self) -> crate::exit::Exit {
        if let Some(why) = self.meta.stopped {
            return why.exit();
        }
        if self
            .rows
            .iter()
            .any(|r| r.judgement.verdict == Verdict::InternalError)
        {
            return crate::exit::Exit::Internal;
        }
        if self.summary.failed > 0 || (self.meta.strict && self.summary.warned > 0) {
            crate::exit::Exit::Failed
        } else {
            crate::exit::Exit::Ok
        }
    }

    /// The exit code in this format: the plugin state for `--format nagios`, else
    /// [`Report::exit`].
    #[must_use]
    pub fn exit_in(&self, style: Style) -> crate::exit::Exit {
        match style {
            Style::Nagios => crate::exit::Exit::Plugin(nagios::state(self)),
            _ => self.exit(),
        }
    }

    /// How many rows have each verdict, in the order of DESIGN §4.
    #[must_use]
    pub fn verdict_counts(&self) -> Vec<(Verdict, usize)> {
        Verdict::ALL
            .iter()
            .map(|v| {
                (
                    *v,
                    self.rows
                        .iter()
                        .filter(|r| r.judgement.verdict == *v)
                        .count(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

fn sort_key(r: &Row) -> (Mode, u16, crate::config::profile::Target, String, String) {
    let p = &r.obs.path;
    (
        p.mode,
        p.port,
        p.target,
        r.obs
            .host
            .as_ref()
            .map(crate::config::HostSpec::display_host)
            .unwrap_or_default(),
        r.obs.address.map(|a| a.to_string()).unwrap_or_default(),
    )
}

/// The report formats of a check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Table {
        color: bool,
        width: Option<u16>,
        view: TableView,
    },
    Json,
    Junit,
    Markdown,
    Prometheus,
    Nagios,
}

/// What the table shows besides its usual rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableView {
    /// `-q`: only the paths that fail or warn (and the summary).
    pub quiet: bool,
    /// `-v`: a column with the phase timings of each row.
    pub phases: bool,
}

/// Writes the report; a closed pipe (`| head`) is not an error.
///
/// # Errors
/// Any other write error.
pub fn render(report: &Report, style: Style, out: &mut dyn Write) -> io::Result<()> {
    let r = match style {
        Style::Table { color, width, view } => table::render(report, color, width, view, out),
        Style::Json => json::render(report, out),
        Style::Junit => junit::render(report, out),
        Style::Markdown => markdown::render(report, out),
        Style::Prometheus => prometheus::render(report, out),
        Style::Nagios => nagios::render(report, out),
    };
    match r {
        Err(e) if reader_gone(&e) => Ok(()),
        other => other,
    }
}

/// The reader of our output went away (`| head`): not an error. Windows reports a closed
/// pipe as `ERROR_NO_DATA` (232) or `ERROR_PIPE_NOT_CONNECTED` (233), which std does not map
/// to `BrokenPipe`.
#[must_use]
pub fn reader_gone(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::BrokenPipe
        || (cfg!(windows) && matches!(e.raw_os_error(), Some(232 | 233)))
    {
        return true;
    }
    // A writer that wraps the io error (serde_json, `io::Error::other`) hides the kind one
    // level down.
    let inner = e.get_ref();
    if let Some(io) = inner.and_then(|i| i.downcast_ref::<io::Error>()) {
        return reader_gone(io);
    }
    inner
        .and_then(|i| i.downcast_ref::<serde_json::Error>())
        .and_then(serde_json::Error::io_error_kind)
        == Some(io::ErrorKind::BrokenPipe)
}

/// A writer that turns a gone reader into silence: once a write fails with
/// [`reader_gone`], it and every later write succeed without writing, and [`Self::gone`] says
/// so. For output written in several steps (the demo), where stopping early is the caller's
/// choice.
pub struct UntilGone<'a> {
    out: &'a mut dyn Write,
    gone: bool,
}

impl<'a> UntilGone<'a> {
    pub fn new(out: &'a mut dyn Write) -> Self {
        Self { out, gone: false }
    }

    /// The reader went away; nothing more will be written.
    #[must_use]
    pub fn gone(&self) -> bool {
        self.gone
    }

    fn quiet<T>(&mut self, r: io::Result<T>, none: T) -> io::Result<T> {
        match r {
            Err(e) if reader_gone(&e) => {
                self.gone = true;
                Ok(none)
            }
            other => other,
        }
    }
}

impl Write for UntilGone<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.gone {
            return Ok(buf.len());
        }
        let r = self.out.write(buf);
        self.quiet(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.gone {
            return Ok(());
        }
        let r = self.out.flush();
        self.quiet(r, ())
    }
}

#[cfg(test)]
mod gone_tests {
    use super::*;

    /// A pipe whose reader has gone, as the OS reports it.
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn wrapped_broken_pipes_are_a_gone_reader() {
        let plain: io::Error = io::ErrorKind::BrokenPipe.into();
        assert!(reader_gone(&plain));
        assert!(reader_gone(&io::Error::other(io::Error::from(
            io::ErrorKind::BrokenPipe
        ))));
        let ser = serde_json::to_writer(Closed, &[1, 2, 3]).expect_err("closed");
        assert!(reader_gone(&io::Error::other(ser)));
        assert!(!reader_gone(&io::Error::other("disk full")));
        assert!(!reader_gone(&io::ErrorKind::StorageFull.into()));
    }

    #[test]
    fn until_gone_swallows_the_closed_pipe_and_says_so() {
        let mut closed = Closed;
        let mut w = UntilGone::new(&mut closed);
        assert!(!w.gone());
        writeln!(w, "first").expect("quiet");
        assert!(w.gone());
        writeln!(w, "second").expect("quiet");
        w.flush().expect("quiet");
    }
}
