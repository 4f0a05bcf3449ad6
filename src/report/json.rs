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
    roles: Vec<&'static str>,
    modes: Vec<&'static str>,
    host: &'a str,
    os_hostname: &'a str,
    addresses: &'a [std::net::IpAddr],
    started_at: &'a str,
    duration_ms: u64,
    results: Vec<JsonResult<'a>>,
    summary: Summary,
    exit_code: u8,
    notes: &'a [String],
    inbound: &'a [crate::probe::listening::Inbound],
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
    capabilities_tls: Vec<&'a str>,
    starttls: Option<JsonStartTls<'a>>,
    http: Option<JsonHttp<'a>>,
    other_addresses: Vec<JsonAttempt>,
    via_proxy: Option<&'a str>,
    local_address: Option<String>,
    e2e: Option<JsonE2e>,
}

#[derive(Serialize)]
struct JsonE2e {
    statement: Option<String>,
    error: Option<String>,
    nonce_sent: Option<String>,
}

#[derive(Serialize)]
struct JsonStartTls<'a> {
    offered: Option<bool>,
    response: Option<&'a str>,
    upgraded: bool,
    injected_bytes: usize,
}

#[derive(Serialize)]
struct JsonHttp<'a> {
    status: u16,
    reason: &'a str,
    server: Option<&'a str>,
    auth_schemes: Vec<String>,
    location: Option<&'a str>,
    via: Vec<&'a str>,
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
    version: String,
    cipher: &'a str,
    trusted_public: bool,
    trusted_os: bool,
    public_reason: Option<&'a str>,
    os_reason: Option<&'a str>,
    client_cert_requested: bool,
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
        Trust::Untrusted { reason, .. } => Some(reason),
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
            version: t.version_label(),
            cipher: &t.cipher,
            trusted_public: t.public.is_trusted(),
            trusted_os: t.os.is_trusted(),
            public_reason: reason_of(&t.public),
            os_reason: reason_of(&t.os),
            client_cert_requested: t.client_cert_requested,
            chain: &t.chain,
        }),
        greeting: o.dialogue.as_ref().and_then(|d| d.greeting.as_deref()),
        capabilities: o
            .dialogue
            .as_ref()
            .map(|d| d.capabilities.iter().map(String::as_str).collect())
            .unwrap_or_default(),
        capabilities_tls: o
            .dialogue
            .as_ref()
            .map(|d| d.capabilities_tls.iter().map(String::as_str).collect())
            .unwrap_or_default(),
        starttls: o
            .dialogue
            .as_ref()
            .filter(|_| o.path.probe.is_starttls())
            .map(|d| JsonStartTls {
                offered: d.starttls_offered,
                response: d.starttls_response.as_deref(),
                upgraded: d.upgraded,
                injected_bytes: d.injected_after_upgrade,
            }),
        http: o
            .http
            .as_ref()
            .and_then(|h| h.as_ref().ok())
            .map(|h| JsonHttp {
                status: h.status,
                reason: &h.reason,
                server: h.server(),
                auth_schemes: h.auth_schemes(),
                location: h.header("location"),
                via: h.headers_all("via"),
            }),
        other_addresses: o
            .other_attempts
            .iter()
            .map(|(a, f)| JsonAttempt {
                address: a.to_string(),
                failure: f.describe(),
            })
            .collect(),
        via_proxy: o.via_proxy.as_deref(),
        local_address: o.local_addr.map(|a| a.to_string()),
        e2e: o.e2e.as_ref().map(|e| JsonE2e {
            statement: e
                .statement
                .as_ref()
                .ok()
                .map(crate::e2e::Statement::to_line),
            error: e.statement.as_ref().err().cloned(),
            nonce_sent: e.nonce.clone(),
        }),
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
        roles: m.roles.iter().map(|r| r.label()).collect(),
        modes: m.modes.iter().map(|m| m.label()).collect(),
        host: &m.hostname,
        os_hostname: &m.os_hostname,
        addresses: &m.addresses,
        started_at: &m.started_at,
        duration_ms: m.duration_ms,
        results: report.rows.iter().map(result).collect(),
        summary: report.summary,
        exit_code: report.exit().code(),
        notes: &m.notes,
        inbound: &m.inbound,
    };
    // `io::Error::from` hands back serde_json's inner io error, so a closed pipe stays
    // `BrokenPipe` (`io::Error::other` would hide it behind `Other`).
    crate::sanitize::write_json_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    writeln!(out)
}
