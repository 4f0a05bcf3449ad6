//! The deployment's view as JSON, `mssp-check/deployment/1`
//! (`schemas/deployment-1.schema.json`). Own serde types: the shape is a contract.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::finding::MergeFinding;
use super::input::{Leaf, PathResult};
use super::view::{Source, View};
use crate::verdict::{Severity, Verdict};

pub const SCHEMA: &str = "mssp-check/deployment/1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    version: &'static str,
    site: Option<&'a str>,
    first_started_at: String,
    last_started_at: String,
    sources: Vec<JsonSource<'a>>,
    rows: Vec<JsonRow<'a>>,
    problems: Vec<JsonProblem<'a>>,
    findings: Vec<JsonFinding<'a>>,
    notes: &'a [String],
    summary: JsonSummary,
    exit_code: u8,
}

#[derive(Serialize)]
struct JsonSource<'a> {
    host: &'a str,
    short: &'a str,
    roles: Vec<&'static str>,
    os_hostname: Option<&'a str>,
    addresses: Vec<String>,
    files: &'a [String],
    version: &'a str,
    started_at: &'a str,
    duration_ms: u64,
    summary: Counts,
    skipped: Vec<String>,
    notes: &'a [String],
    inbound: Vec<JsonInbound<'a>>,
}

#[derive(Serialize, Default)]
struct Counts {
    total: usize,
    ok: usize,
    failed: usize,
    warned: usize,
    skipped: usize,
}

#[derive(Serialize)]
struct JsonInbound<'a> {
    port: u16,
    listening: Option<bool>,
    detail: &'a str,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    target: &'a str,
    host: &'a str,
    port: u16,
    probe: &'static str,
    via_proxy: Option<&'a str>,
    paths: &'a [String],
    cells: Vec<JsonCell<'a>>,
}

#[derive(Serialize)]
struct JsonCell<'a> {
    source: &'a str,
    verdict: Verdict,
    severity: Severity,
    addresses: usize,
    addresses_with_verdict: usize,
    results: Vec<JsonResult<'a>>,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    path: &'a str,
    source_role: &'static str,
    address: Option<&'a str>,
    local_address: Option<&'a str>,
    required: bool,
    verdict: Verdict,
    severity: Severity,
    reason: &'a str,
    hint: Option<&'a str>,
    findings: Vec<JsonKindDetail<'a>>,
    certificate: Option<JsonCert<'a>>,
    greeting: Option<&'a str>,
    time_ms: u64,
}

#[derive(Serialize)]
struct JsonKindDetail<'a> {
    kind: &'a str,
    detail: &'a str,
}

#[derive(Serialize)]
struct JsonCert<'a> {
    subject: &'a str,
    issuer: &'a str,
    sha1: &'a str,
    sha256: &'a str,
}

#[derive(Serialize)]
struct JsonProblem<'a> {
    row: usize,
    target: String,
    probe: &'static str,
    via_proxy: Option<&'a str>,
    verdict: Verdict,
    severity: Severity,
    sources: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    kind: &'static str,
    severity: Severity,
    row: Option<usize>,
    target: Option<&'a str>,
    sources: &'a [String],
    detail: &'a str,
    evidence: &'a [String],
    hint: Option<&'a str>,
    certificates: Vec<JsonSeen<'a>>,
}

#[derive(Serialize)]
struct JsonSeen<'a> {
    sources: &'a [String],
    subject: &'a str,
    issuer: &'a str,
    sha1: &'a str,
    sha256: &'a str,
}

#[derive(Serialize)]
struct JsonSummary {
    hosts: usize,
    not_reported: usize,
    results: usize,
    ok: usize,
    failed: usize,
    warned: usize,
    skipped: usize,
    verdicts: BTreeMap<&'static str, usize>,
    findings_failed: usize,
    findings_warned: usize,
}

fn cert(l: &Leaf) -> JsonCert<'_> {
    JsonCert {
        subject: &l.subject,
        issuer: &l.issuer,
        sha1: &l.sha1,
        sha256: &l.sha256,
    }
}

fn result(r: &PathResult) -> JsonResult<'_> {
    JsonResult {
        path: &r.path,
        source_role: r.source.label(),
        address: r.address.as_deref(),
        local_address: r.local_address.as_deref(),
        required: r.required,
        verdict: r.verdict,
        severity: r.severity,
        reason: &r.reason,
        hint: r.hint.as_deref(),
        findings: r
            .findings
            .iter()
            .map(|f| JsonKindDetail {
                kind: &f.kind,
                detail: &f.detail,
            })
            .collect(),
        certificate: r.leaf.as_ref().map(cert),
        greeting: r.greeting.as_deref(),
        time_ms: r.total_ms,
    }
}

fn source<'a>(view: &'a View, si: usize, s: &'a Source) -> JsonSource<'a> {
    let mut c = Counts::default();
    for r in &s.results {
        c.total += 1;
        match r.severity {
            Severity::Pass => c.ok += 1,
            Severity::Warn => c.warned += 1,
            // A path its run never finished is not a pass.
            Severity::Fail | Severity::Cancelled => c.failed += 1,
            Severity::Skip => c.skipped += 1,
        }
    }
    JsonSource {
        host: &s.host,
        short: &s.short,
        roles: s.roles.iter().map(|r| r.label()).collect(),
        os_hostname: s.os_hostname.as_deref(),
        addresses: s.addresses.iter().map(ToString::to_string).collect(),
        files: &s.files,
        version: &s.version,
        started_at: &s.started_at,
        duration_ms: s.duration_ms,
        summary: c,
        skipped: view.skipped(si),
        notes: &s.notes,
        inbound: s
            .inbound
            .iter()
            .map(|i| JsonInbound {
                port: i.port,
                listening: i.listening,
                detail: &i.detail,
            })
            .collect(),
    }
}

fn finding(f: &MergeFinding) -> JsonFinding<'_> {
    JsonFinding {
        kind: f.kind.label(),
        severity: f.severity,
        row: f.row,
        target: f.target.as_deref(),
        sources: &f.sources,
        detail: &f.detail,
        evidence: &f.evidence,
        hint: f.hint.as_deref(),
        certificates: f
            .certificates
            .iter()
            .map(|c| JsonSeen {
                sources: &c.sources,
                subject: &c.leaf.subject,
                issuer: &c.leaf.issuer,
                sha1: &c.leaf.sha1,
                sha256: &c.leaf.sha256,
            })
            .collect(),
    }
}

/// Writes one JSON document, pretty-printed, with a trailing newline.
///
/// # Errors
/// Write errors.
pub fn render(view: &View, out: &mut dyn Write) -> io::Result<()> {
    let s = view.summary();
    let (first, last) = view.span();
    let doc = Doc {
        schema: SCHEMA,
        version: env!("CARGO_PKG_VERSION"),
        site: view.site.as_deref(),
        first_started_at: first,
        last_started_at: last,
        sources: view
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| source(view, i, s))
            .collect(),
        rows: view
            .rows
            .iter()
            .map(|row| JsonRow {
                target: &row.target,
                host: &row.host,
                port: row.port,
                probe: row.probe.label(),
                via_proxy: row.via_proxy.as_deref(),
                paths: &row.paths,
                cells: row
                    .cells
                    .iter()
                    .enumerate()
                    .filter_map(|(si, c)| {
                        let c = c.as_ref()?;
                        let src = &view.sources[si];
                        Some(JsonCell {
                            source: &src.host,
                            verdict: c.verdict,
                            severity: c.severity,
                            addresses: c.addresses,
                            addresses_with_verdict: c.addresses_with_verdict,
                            results: c.results.iter().map(|&i| result(&src.results[i])).collect(),
                        })
                    })
                    .collect(),
            })
            .collect(),
        problems: view
            .problems
            .iter()
            .map(|p| {
                let row = &view.rows[p.row];
                JsonProblem {
                    row: p.row,
                    target: row.endpoint(),
                    probe: row.probe.label(),
                    via_proxy: row.via_proxy.as_deref(),
                    verdict: p.verdict,
                    severity: p.severity,
                    sources: p
                        .sources()
                        .iter()
                        .map(|&i| view.sources[i].host.as_str())
                        .collect(),
                }
            })
            .collect(),
        findings: view.findings.iter().map(finding).collect(),
        notes: &view.notes,
        summary: JsonSummary {
            hosts: s.hosts,
            not_reported: s.not_reported,
            results: s.results,
            ok: s.ok,
            failed: s.failed,
            warned: s.warned,
            skipped: s.skipped,
            verdicts: s.by_verdict.iter().map(|(v, n)| (v.label(), *n)).collect(),
            findings_failed: s.findings_failed,
            findings_warned: s.findings_warned,
        },
        exit_code: view.exit().code(),
    };
    crate::sanitize::write_json_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use crate::config::profile::Role;
    use crate::deployment::testkit::{result, run, view, with_leaf};
    use crate::verdict::Verdict;

    #[test]
    fn cells_carry_their_results_and_the_summary_counts_verdicts() {
        let v = view(vec![run(
            "ih01",
            Role::Ih,
            vec![
                with_leaf(
                    result(Role::Ih, "mgmt", "mgmt01", 8471, Verdict::Ok),
                    "a",
                    "CN=x",
                ),
                result(Role::Ih, "any", "", 143, Verdict::Skipped),
            ],
        )]);
        let mut out = Vec::new();
        super::render(&v, &mut out).expect("renders");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(doc["schema"], super::SCHEMA);
        assert_eq!(doc["rows"][0]["cells"][0]["source"], "ih01");
        let cert = &doc["rows"][0]["cells"][0]["results"][0]["certificate"];
        assert_eq!(cert["sha1"], format!("{:0>40}", "a"));
        assert_eq!(doc["summary"]["verdicts"]["skipped"], 1);
        assert_eq!(doc["sources"][0]["skipped"][0], "any:143");
        assert_eq!(doc["exit_code"], 0);
    }
}
