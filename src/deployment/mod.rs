//! `mssp-check report`: the JSON reports of many hosts merged into the deployment's view
//! (DESIGN §8) — a matrix of targets by source hosts, the problems seen from every source,
//! what only a merge can see, and one exit code over all of it.

pub mod coverage;
pub mod detect;
pub mod evidence;
pub mod files;
pub mod finding;
pub mod html;
pub mod input;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod table;
#[cfg(test)]
pub(crate) mod testkit;
pub mod view;

use std::io::{self, Write};
use std::path::Path;

use crate::cli::ReportArgs;
use crate::config::profile::Profiles;
use crate::config::site::Site;
use crate::error::{RunError, UsageError};
use crate::exit::Exit;
use crate::verdict::Severity;
pub use view::View;

/// The formats of `mssp-check report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Table { color: bool, width: Option<u16> },
    Markdown,
    Json,
    Junit,
    Html,
}

/// A site file given with `--site`, with the name to show for it.
pub struct SiteInput<'a> {
    pub shown: String,
    pub site: &'a Site,
}

/// Merges runs into the view.
///
/// # Errors
/// A malformed host in the site file.
pub fn build(
    runs: Vec<input::Run>,
    mut notes: Vec<String>,
    site: Option<&SiteInput<'_>>,
    profiles: &Profiles,
    strict: bool,
) -> Result<View, UsageError> {
    let mut versions: Vec<&str> = runs.iter().map(|r| r.version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    if versions.len() > 1 {
        notes.push(format!(
            "the reports come from different versions of mssp-check ({}): verdicts may differ by version",
            versions.join(", ")
        ));
    }
    let sources = view::sources(runs);
    let rows = view::matrix(&sources);
    let problems = view::problems(&rows, &sources);
    let mut found = detect::cert_differs(&rows, &sources);
    found.extend(detect::blocked_from_some(&rows, &sources));
    found.extend(detect::inbound_join(&rows, &sources));
    if let Some(s) = site {
        let hosts = coverage::site_hosts(s.site, &s.shown)?;
        found.extend(coverage::coverage(
            &hosts, s.site, &s.shown, profiles, &sources,
        ));
    }
    // Problems first; then by kind, in the order of `Kind`, keeping matrix order within.
    found.sort_by_key(|f| (f.severity != Severity::Fail, f.kind));
    Ok(View {
        sources,
        rows,
        problems,
        findings: found,
        notes,
        site: site.map(|s| s.shown.clone()),
        strict,
    })
}

/// Writes the view; a closed pipe (`| head`) is not an error.
///
/// # Errors
/// Any other write error.
pub fn render(view: &View, style: Style, out: &mut dyn Write) -> io::Result<()> {
    let r = match style {
        Style::Table { color, width } => table::render(view, color, width, out),
        Style::Markdown => markdown::render(view, out),
        Style::Json => json::render(view, out),
        Style::Junit => junit::render(view, out),
        Style::Html => html::render(view, out),
    };
    match r {
        Err(e) if crate::report::reader_gone(&e) => Ok(()),
        other => other,
    }
}

/// `mssp-check report FILE|DIR … [--site FILE]`: reads, merges, renders; returns the exit
/// code of the whole deployment.
///
/// # Errors
/// Bad input (exit 2) naming the file; write errors (exit 3).
pub fn run(args: &ReportArgs, style: Style, out: &mut dyn Write) -> Result<Exit, RunError> {
    let (runs, notes) = files::load(&args.inputs)?;
    let site = args
        .site
        .as_deref()
        .map(|p| {
            Site::load(p).map_err(|e| {
                UsageError::new(format!("--site {}", crate::sanitize::printable(&e, 400)))
            })
        })
        .transpose()?;
    let profiles = crate::config::load_profiles(None)?;
    let site_input = site.as_ref().map(|s| SiteInput {
        shown: files::shown(args.site.as_deref().unwrap_or(Path::new(""))),
        site: s,
    });
    let view = build(runs, notes, site_input.as_ref(), &profiles, args.strict)?;
    render(&view, style, out)
        .map_err(|e| RunError::Internal(format!("writing the deployment view: {e}")))?;
    Ok(view.exit())
}
