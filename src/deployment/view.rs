//! The deployment's view: the runs of each host as one source, the matrix of targets by
//! sources, the problems grouped across sources, and the summary and exit code over all.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::finding::MergeFinding;
use super::input::{Inbound, PathResult, Run};
use crate::config::profile::{ProbeKind, Role};
use crate::exit::Exit;
use crate::verdict::{Severity, Verdict};

/// One source host: a column of the matrix.
#[derive(Debug, Clone)]
pub struct Source {
    /// As its report names it (the site file's name, after the site-file change).
    pub host: String,
    /// The column head: the first DNS label when that is unique among the sources.
    pub short: String,
    pub files: Vec<String>,
    pub roles: Vec<Role>,
    pub os_hostname: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub version: String,
    /// The earliest start of its runs.
    pub started_at: String,
    pub duration_ms: u64,
    pub results: Vec<PathResult>,
    pub notes: Vec<String>,
    pub inbound: Vec<Inbound>,
}

/// A matrix row: one target endpoint and probe (a row of its own through a proxy).
#[derive(Debug, Clone)]
pub struct Row {
    /// The JSON `target` of its results (a role, `any`, `my.mailstore.com`).
    pub target: String,
    /// The host as the first result names it.
    pub host: String,
    pub port: u16,
    pub probe: ProbeKind,
    pub via_proxy: Option<String>,
    /// The path ids of its results.
    pub paths: Vec<String>,
    /// One per source, in the order of [`View::sources`]; `None`: that source did not check it.
    pub cells: Vec<Option<Cell>>,
}

impl Row {
    /// `host:port`, with brackets around an IPv6 literal.
    #[must_use]
    pub fn endpoint(&self) -> String {
        endpoint(&self.host, self.port)
    }

    /// `host:port probe`, and ` via PROXY`.
    #[must_use]
    pub fn label(&self) -> String {
        match &self.via_proxy {
            Some(p) => format!("{} {} via {p}", self.endpoint(), self.probe.label()),
            None => format!("{} {}", self.endpoint(), self.probe.label()),
        }
    }
}

/// `host:port`, with brackets around an IPv6 literal.
#[must_use]
pub fn endpoint(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// What one source saw of one row: the worst of its results there.
#[derive(Debug, Clone)]
pub struct Cell {
    pub verdict: Verdict,
    pub severity: Severity,
    /// Indices into the source's results.
    pub results: Vec<usize>,
    /// Distinct addresses probed, and how many of them gave the verdict shown.
    pub addresses: usize,
    pub addresses_with_verdict: usize,
}

impl Cell {
    /// "2 of 3 addresses" when not every address agrees.
    #[must_use]
    pub fn spread(&self) -> Option<String> {
        (self.addresses > 1 && self.addresses_with_verdict < self.addresses).then(|| {
            format!(
                "{} of {} addresses",
                self.addresses_with_verdict, self.addresses
            )
        })
    }
}

/// One failing or warning result, seen from one or more sources.
#[derive(Debug, Clone)]
pub struct Problem {
    pub row: usize,
    pub verdict: Verdict,
    pub severity: Severity,
    /// (source, result) pairs, sources in column order.
    pub members: Vec<(usize, usize)>,
}

/// Texts that several members share, with the sources that gave each.
pub type Grouped = Vec<(String, Vec<usize>)>;

impl Problem {
    /// The sources of this problem, in column order, without repeats.
    #[must_use]
    pub fn sources(&self) -> Vec<usize> {
        let mut s: Vec<usize> = self.members.iter().map(|m| m.0).collect();
        s.dedup();
        s
    }

    /// The distinct values of `f` over the members, each with its sources.
    pub fn grouped(&self, view: &View, f: impl Fn(&PathResult) -> Vec<String>) -> Grouped {
        let mut out: Grouped = Vec::new();
        for &(s, r) in &self.members {
            for text in f(&view.sources[s].results[r]) {
                match out.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, srcs)) if !srcs.contains(&s) => srcs.push(s),
                    Some(_) => {}
                    None => out.push((text, vec![s])),
                }
            }
        }
        out
    }
}

/// The whole merged view.
#[derive(Debug, Clone)]
pub struct View {
    pub sources: Vec<Source>,
    pub rows: Vec<Row>,
    pub problems: Vec<Problem>,
    /// What only the merge sees, problems first.
    pub findings: Vec<MergeFinding>,
    pub notes: Vec<String>,
    /// The site file given with `--site`.
    pub site: Option<String>,
    pub strict: bool,
}

/// Counts over all results and findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub hosts: usize,
    pub not_reported: usize,
    pub results: usize,
    pub ok: usize,
    pub failed: usize,
    pub warned: usize,
    pub skipped: usize,
    pub by_verdict: Vec<(Verdict, usize)>,
    pub findings_failed: usize,
    pub findings_warned: usize,
}

impl View {
    #[must_use]
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            hosts: self.sources.len(),
            not_reported: self
                .findings
                .iter()
                .filter(|f| f.kind == super::finding::Kind::NotReported)
                .count(),
            ..Summary::default()
        };
        let mut counts: BTreeMap<Verdict, usize> = BTreeMap::new();
        for r in self.sources.iter().flat_map(|s| &s.results) {
            s.results += 1;
            *counts.entry(r.verdict).or_default() += 1;
            match r.severity {
                Severity::Pass => s.ok += 1,
                Severity::Warn => s.warned += 1,
                Severity::Fail | Severity::Cancelled => s.failed += 1,
                Severity::Skip => s.skipped += 1,
            }
        }
        s.by_verdict = Verdict::ALL
            .iter()
            .filter_map(|v| counts.get(v).map(|n| (*v, *n)))
            .collect();
        for f in &self.findings {
            match f.severity {
                Severity::Fail => s.findings_failed += 1,
                Severity::Warn => s.findings_warned += 1,
                Severity::Pass | Severity::Skip | Severity::Cancelled => {}
            }
        }
        s
    }

    /// DESIGN §4 over all reports, plus the merge's own problems.
    #[must_use]
    pub fn exit(&self) -> Exit {
        let s = self.summary();
        if s.failed > 0
            || s.findings_failed > 0
            || (self.strict && (s.warned > 0 || s.findings_warned > 0))
        {
            Exit::Failed
        } else {
            Exit::Ok
        }
    }

    /// The first and the last start of the runs.
    #[must_use]
    pub fn span(&self) -> (String, String) {
        let first = self.sources.iter().map(|s| &s.started_at).min();
        let last = self.sources.iter().map(|s| &s.started_at).max();
        (
            first.cloned().unwrap_or_default(),
            last.cloned().unwrap_or_default(),
        )
    }

    /// The skipped paths of a source, as `target:port` (no target given, or interrupted).
    #[must_use]
    pub fn skipped(&self, source: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.sources[source].results {
            if r.verdict == Verdict::Skipped {
                let item = match &r.host {
                    Some(h) => endpoint(h, r.port),
                    None => format!("{}:{}", r.target, r.port),
                };
                if !out.contains(&item) {
                    out.push(item);
                }
            }
        }
        out
    }
}

impl View {
    /// Sources with the same skipped paths together: `(sources, paths)`.
    #[must_use]
    pub fn skipped_groups(&self) -> Vec<(Vec<usize>, Vec<String>)> {
        let mut out: Vec<(Vec<usize>, Vec<String>)> = Vec::new();
        for si in 0..self.sources.len() {
            let paths = self.skipped(si);
            if paths.is_empty() {
                continue;
            }
            match out.iter_mut().find(|g| g.1 == paths) {
                Some(g) => g.0.push(si),
                None => out.push((vec![si], paths)),
            }
        }
        out
    }
}

/// Rank for "the worst of a cell": failures, then warnings, then passes; ties by verdict.
fn rank(r: &PathResult) -> (u8, u8) {
    let severity = match r.severity {
        Severity::Skip => 0,
        Severity::Pass => 1,
        Severity::Warn => 2,
        Severity::Cancelled => 3,
        Severity::Fail => 4,
    };
    let verdict = match r.verdict {
        Verdict::Skipped => 0,
        Verdict::Ok | Verdict::Cancelled => 1,
        Verdict::Dns => 2,
        Verdict::NoService => 3,
        Verdict::ProtocolError => 4,
        Verdict::TlsFailed => 5,
        Verdict::Unreachable => 6,
        Verdict::Refused => 7,
        Verdict::Filtered => 8,
        Verdict::Intercepted => 9,
        Verdict::InternalError => 10,
    };
    (severity, verdict)
}

/// The order of targets in the matrix: the deployment's roles first, as in the port tables.
fn target_order(target: &str) -> u8 {
    match target {
        "server" => 0,
        "mgmt" => 1,
        "ih" => 2,
        "cas" => 3,
        "any" => 4,
        _ => 5,
    }
}

/// The runs of each host become one source, sorted by role then name.
#[must_use]
pub fn sources(runs: Vec<Run>) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    for run in runs {
        if let Some(s) = out
            .iter_mut()
            .find(|s| s.host.eq_ignore_ascii_case(&run.host))
        {
            s.files.push(run.file);
            s.roles.extend(run.roles);
            s.roles.sort();
            s.roles.dedup();
            s.addresses.extend(run.addresses);
            if run.started_at < s.started_at {
                s.started_at = run.started_at;
            }
            s.duration_ms = s.duration_ms.max(run.duration_ms);
            s.results.extend(run.results);
            s.notes.extend(run.notes);
            s.inbound.extend(run.inbound);
            continue;
        }
        out.push(Source {
            short: String::new(),
            host: run.host,
            files: vec![run.file],
            roles: run.roles,
            os_hostname: run.os_hostname,
            addresses: run.addresses,
            version: run.version,
            started_at: run.started_at,
            duration_ms: run.duration_ms,
            results: run.results,
            notes: run.notes,
            inbound: run.inbound,
        });
    }
    out.sort_by(|a, b| {
        (a.roles.first(), a.host.to_ascii_lowercase())
            .cmp(&(b.roles.first(), b.host.to_ascii_lowercase()))
    });
    let shorts = short_names(&out.iter().map(|s| s.host.as_str()).collect::<Vec<_>>());
    for (s, short) in out.iter_mut().zip(shorts) {
        s.short = short;
    }
    out
}

/// Column heads: each host's first DNS label, unless two sources share it (then the whole
/// name). Addresses stay whole.
#[must_use]
pub fn short_names(hosts: &[&str]) -> Vec<String> {
    let first = |h: &str| -> String {
        if h.parse::<IpAddr>().is_ok() {
            h.to_string()
        } else {
            h.split('.').next().unwrap_or(h).to_string()
        }
    };
    hosts
        .iter()
        .map(|h| {
            let label = first(h);
            let clash = hosts
                .iter()
                .filter(|o| first(o).eq_ignore_ascii_case(&label))
                .count()
                > 1;
            if clash {
                (*h).to_string()
            } else {
                label
            }
        })
        .collect()
}

/// The matrix: one row per target endpoint, probe and proxy over all sources.
#[must_use]
pub fn matrix(sources: &[Source]) -> Vec<Row> {
    type Key = (u8, String, u16, ProbeKind, Option<String>);
    let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
    for (si, src) in sources.iter().enumerate() {
        for (ri, r) in src.results.iter().enumerate() {
            let Some(host) = &r.host else { continue };
            if r.verdict == Verdict::Skipped {
                continue;
            }
            let key = (
                target_order(&r.target),
                host.to_ascii_lowercase(),
                r.port,
                r.probe,
                r.via_proxy.clone(),
            );
            let row = rows.entry(key).or_insert_with(|| Row {
                target: r.target.clone(),
                host: host.clone(),
                port: r.port,
                probe: r.probe,
                via_proxy: r.via_proxy.clone(),
                paths: Vec::new(),
                cells: vec![None; sources.len()],
            });
            if !row.paths.contains(&r.path) {
                row.paths.push(r.path.clone());
            }
            row.cells[si]
                .get_or_insert_with(|| Cell {
                    verdict: r.verdict,
                    severity: r.severity,
                    results: Vec::new(),
                    addresses: 0,
                    addresses_with_verdict: 0,
                })
                .results
                .push(ri);
        }
    }
    let mut rows: Vec<Row> = rows.into_values().collect();
    for row in &mut rows {
        for (si, cell) in row.cells.iter_mut().enumerate() {
            if let Some(c) = cell {
                settle(c, &sources[si].results);
            }
        }
    }
    rows
}

/// The worst verdict of a cell, and how many of its addresses gave it.
fn settle(cell: &mut Cell, results: &[PathResult]) {
    let Some(worst) = cell
        .results
        .iter()
        .map(|&i| &results[i])
        .max_by_key(|r| rank(r))
    else {
        return;
    };
    cell.verdict = worst.verdict;
    cell.severity = worst.severity;
    let mut all: Vec<Option<&str>> = cell
        .results
        .iter()
        .map(|&i| results[i].address.as_deref())
        .collect();
    all.sort_unstable();
    all.dedup();
    let mut with: Vec<Option<&str>> = cell
        .results
        .iter()
        .filter(|&&i| results[i].verdict == cell.verdict)
        .map(|&i| results[i].address.as_deref())
        .collect();
    with.sort_unstable();
    with.dedup();
    cell.addresses = all.len();
    cell.addresses_with_verdict = with.len();
}

/// Failing and warning results, one problem per row and verdict, naming every source.
#[must_use]
pub fn problems(rows: &[Row], sources: &[Source]) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    for (ri, row) in rows.iter().enumerate() {
        let first = out.len();
        for (si, cell) in row.cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            for &i in &cell.results {
                let r = &sources[si].results[i];
                if !matches!(r.severity, Severity::Fail | Severity::Warn) {
                    continue;
                }
                match out[first..]
                    .iter_mut()
                    .find(|p| p.verdict == r.verdict && p.severity == r.severity)
                {
                    Some(p) => p.members.push((si, i)),
                    None => out.push(Problem {
                        row: ri,
                        verdict: r.verdict,
                        severity: r.severity,
                        members: vec![(si, i)],
                    }),
                }
            }
        }
    }
    // Failures before warnings; otherwise in matrix order.
    out.sort_by_key(|p| (p.severity != Severity::Fail, p.row));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::testkit::{result, run, view};

    #[test]
    fn one_row_per_endpoint_one_column_per_source_no_skipped_rows() {
        let v = view(vec![
            run(
                "ih01",
                Role::Ih,
                vec![
                    result(Role::Ih, "mgmt", "mgmt01", 8471, Verdict::Ok),
                    result(Role::Ih, "any", "", 143, Verdict::Skipped),
                ],
            ),
            run(
                "cas01",
                Role::Cas,
                vec![result(Role::Cas, "mgmt", "MGMT01", 8471, Verdict::Filtered)],
            ),
        ]);
        let heads: Vec<&str> = v.sources.iter().map(|s| s.short.as_str()).collect();
        assert_eq!(heads, ["ih01", "cas01"], "sorted by role: ih before cas");
        assert_eq!(v.rows.len(), 1, "host names compare case-insensitively");
        let cells: Vec<Option<Verdict>> = v.rows[0]
            .cells
            .iter()
            .map(|c| c.as_ref().map(|c| c.verdict))
            .collect();
        assert_eq!(cells, [Some(Verdict::Ok), Some(Verdict::Filtered)]);
        assert_eq!(v.skipped(0), ["any:143"]);
        assert_eq!(v.summary().results, 3);
    }

    #[test]
    fn a_cell_shows_the_worst_address_and_how_many_agree() {
        let mut second = result(Role::Mgmt, "ih", "ih01", 8472, Verdict::Refused);
        second.address = Some("10.0.0.99:8472".into());
        let v = view(vec![run(
            "mgmt01",
            Role::Mgmt,
            vec![result(Role::Mgmt, "ih", "ih01", 8472, Verdict::Ok), second],
        )]);
        let cell = v.rows[0].cells[0].as_ref().expect("cell");
        assert_eq!(cell.verdict, Verdict::Refused);
        assert_eq!(cell.spread().as_deref(), Some("1 of 2 addresses"));
    }

    #[test]
    fn one_problem_names_every_source_and_failures_come_first() {
        let mut optional = result(Role::Cas, "mgmt", "mgmt01", 8470, Verdict::Refused);
        optional.required = false;
        optional.severity = Severity::Warn;
        let v = view(vec![
            run(
                "ih01",
                Role::Ih,
                vec![result(Role::Ih, "mgmt", "mgmt01", 8471, Verdict::Filtered)],
            ),
            run(
                "cas01",
                Role::Cas,
                vec![
                    optional,
                    result(Role::Cas, "mgmt", "mgmt01", 8471, Verdict::Filtered),
                ],
            ),
        ]);
        assert_eq!(v.problems.len(), 2);
        assert_eq!(v.problems[0].severity, Severity::Fail);
        assert_eq!(v.problems[0].sources(), [0, 1]);
        assert_eq!(v.problems[1].severity, Severity::Warn);
    }

    #[test]
    fn runs_of_one_host_with_other_roles_are_one_source() {
        let v = view(vec![
            run("mgmt01", Role::Mgmt, vec![]),
            run("MGMT01", Role::Cas, vec![]),
        ]);
        assert_eq!(v.sources.len(), 1);
        assert_eq!(v.sources[0].roles, [Role::Mgmt, Role::Cas]);
        assert_eq!(v.sources[0].files.len(), 2);
    }

    #[test]
    fn the_exit_code_counts_failures_and_with_strict_warnings() {
        let mut warn = result(Role::Ih, "mgmt", "mgmt01", 8470, Verdict::Refused);
        warn.severity = Severity::Warn;
        let mut v = view(vec![run("ih01", Role::Ih, vec![warn])]);
        assert_eq!(v.exit(), Exit::Ok);
        v.strict = true;
        assert_eq!(v.exit(), Exit::Failed);
        let v = view(vec![run(
            "ih01",
            Role::Ih,
            vec![result(Role::Ih, "mgmt", "mgmt01", 8471, Verdict::Refused)],
        )]);
        assert_eq!(v.exit(), Exit::Failed);
    }

    #[test]
    fn short_heads_unless_they_clash() {
        assert_eq!(
            short_names(&["mgmt01.example.net", "ih01.example.net", "10.0.0.5"]),
            ["mgmt01", "ih01", "10.0.0.5"]
        );
        assert_eq!(
            short_names(&["ih01.a.example", "ih01.b.example", "cas01"]),
            ["ih01.a.example", "ih01.b.example", "cas01"]
        );
    }

    #[test]
    fn endpoints_bracket_ipv6() {
        assert_eq!(endpoint("::1", 8472), "[::1]:8472");
        assert_eq!(endpoint("ih01", 8472), "ih01:8472");
    }
}
