//! The JSON report, `mssp-check/report/1` (DESIGN §10). Own serde types: the shape is a
//! contract, so it never follows internal renames.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use super::{Report, Row, Summary};
use crate::observation::{CertInfo, Trust};
use crate::verdict::{Finding, Severity, Verdict};

pub const SCHEMA: &str = "mssp-check/report/1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    version: &'static str,
    role: &'static str,
    modes: Vec<&'static str>,
    host: &'a str,
    started_at: &'a str,
    duration_ms: u64,
    results: Vec<JsonResult<'a>>,
    summary: Summary,
    exit_code: u8,
    notes: &'a [String],
}

#[derive(Serialize)]
struct JsonResult<'a> {
    path: &'a str,
    mode: &'static str,
    port: u16,
    source: &'static str,
    target: &'static str,
    host: Option<String>,
    address: Option<String>,
    local_target: bool,
    probe: &'static str,
    required: bool,
    verdict: Verdict,
    severity: Severity,
    reason: &'a str,
    hint: Option<&'a str>,
    findings: &'a [Finding],
    timings_ms: JsonTimings,
    tls: Option<JsonTls<'a>>,
    greeting: Option<&'a str>,
    capabilities: Vec<&'a str>,
    other_addresses: Vec<JsonAttempt>,
}

#[derive(Serialize)]
struct JsonTimings {
    dns: Option<u64>,
    connect: Option<u64>,
    tls: Option<u64>,
    protocol: Option<u64>,
    total: u64,
}

#[derive(Serialize)]
struct JsonTls<'a> {
    version: &'a str,
    cipher: &'a str,
    trusted_public: bool,
    trusted_os: bool,
    public_reason: Option<&'a str>,
    os_reason: Option<&'a str>,
    chain: &'a [CertInfo],
}

#[derive(Serialize)]
struct JsonAttempt {
    address: String,
    failure: String,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn reason_of(t: &Trust) -> Option<&str> {
    match t {
        Trust::Trusted => None,
        Trust::Untrusted { reason } => Some(reason),
    }
}

fn result(row: &Row) -> JsonResult<'_> {
    let o = &row.obs;
    let j = &row.judgement;
    JsonResult {
        path: &o.path.id,
        mode: o.path.mode.label(),
        port: o.port,
        source: o.path.source.label(),
        target: o.path.target.json_name(),
        host: o.host.as_ref().map(crate::config::HostSpec::display_host),
        address: o.address.map(|a| a.to_string()),
        local_target: o.local_target,
        probe: o.path.probe.label(),
        required: o.path.required,
        verdict: j.verdict,
        severity: j.severity,
        reason: &j.reason,
        hint: j.hint.as_deref(),
        findings: &j.findings,
        timings_ms: JsonTimings {
            dns: o.timings.dns.map(ms),
            connect: o.timings.connect.map(ms),
            tls: o.timings.tls.map(ms),
            protocol: o.timings.protocol.map(ms),
            total: ms(o.timings.total),
        },
        tls: o.tls.as_ref().map(|t| JsonTls {
            version: &t.version,
            cipher: &t.cipher,
            trusted_public: t.public.is_trusted(),
            trusted_os: t.os.is_trusted(),
            public_reason: reason_of(&t.public),
            os_reason: reason_of(&t.os),
            chain: &t.chain,
        }),
        greeting: None,
        capabilities: Vec::new(),
        other_addresses: o
            .other_attempts
            .iter()
            .map(|(a, f)| JsonAttempt {
                address: a.to_string(),
                failure: f.describe(),
            })
            .collect(),
    }
}

/// Writes one JSON document, pretty-printed, with a trailing newline.
///
/// # Errors
/// Write errors.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let m = &report.meta;
    let doc = Doc {
        schema: SCHEMA,
        version: m.version,
        role: m.role.label(),
        modes: m.modes.iter().map(|m| m.label()).collect(),
        host: &m.hostname,
        started_at: &m.started_at,
        duration_ms: m.duration_ms,
        results: report.rows.iter().map(result).collect(),
        summary: report.summary,
        exit_code: report.exit().code(),
        notes: &m.notes,
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}
