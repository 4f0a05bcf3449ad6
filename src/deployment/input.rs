//! One report to merge: `mssp-check/report/1` parsed through serde types of our own
//! (tolerant of added fields), strings clipped, errors that say what the document is.

use std::net::IpAddr;

use serde::Deserialize;

use crate::config::profile::{ProbeKind, Role};
use crate::error::UsageError;
use crate::report::json::SCHEMA as REPORT_SCHEMA;
use crate::sanitize::printable;
use crate::verdict::{Severity, Verdict};

/// The most kept of one string of a report (a reason, a greeting, a host name): enough for
/// any real one, and a 10 MB string in a hostile file stays out of memory and output.
pub const MAX_TEXT: usize = 4096;

/// One machine's run, as read from its file.
#[derive(Debug, Clone)]
pub struct Run {
    /// The file it came from, as given (sanitised for display).
    pub file: String,
    pub host: String,
    pub os_hostname: Option<String>,
    /// Every role the run checked (`roles`, else `role`).
    pub roles: Vec<Role>,
    /// This machine's own addresses that a site name resolved to.
    pub addresses: Vec<IpAddr>,
    pub version: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub results: Vec<PathResult>,
    pub notes: Vec<String>,
    pub inbound: Vec<Inbound>,
}

/// One path's result in a run.
#[derive(Debug, Clone)]
pub struct PathResult {
    pub path: String,
    pub port: u16,
    pub source: Role,
    /// The JSON `target` (a role, `any` or `my.mailstore.com`).
    pub target: String,
    pub host: Option<String>,
    pub address: Option<String>,
    pub local_address: Option<String>,
    pub probe: ProbeKind,
    pub required: bool,
    pub verdict: Verdict,
    pub severity: Severity,
    pub reason: String,
    pub hint: Option<String>,
    pub findings: Vec<Finding>,
    /// The leaf certificate, when TLS got that far.
    pub leaf: Option<Leaf>,
    /// The chain verified against the public (Mozilla) roots.
    pub trusted_public: bool,
    pub via_proxy: Option<String>,
    /// The first line the server sent (IMAP, POP3), raw.
    pub greeting: Option<String>,
    pub total_ms: u64,
}

impl PathResult {
    /// The IP the probe reached, from `address` (`IP:PORT` or `[IPv6]:PORT`).
    #[must_use]
    pub fn address_ip(&self) -> Option<IpAddr> {
        ip_of(self.address.as_deref()?)
    }

    /// This machine's IP for the probe, from `local_address`.
    #[must_use]
    pub fn local_ip(&self) -> Option<IpAddr> {
        ip_of(self.local_address.as_deref()?)
    }
}

fn ip_of(text: &str) -> Option<IpAddr> {
    text.parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| text.parse::<IpAddr>())
        .ok()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Finding {
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Leaf {
    pub subject: String,
    pub issuer: String,
    pub sha1: String,
    pub sha256: String,
}

/// One inbound port of the run's roles on its own machine.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub port: u16,
    pub listening: Option<bool>,
    pub detail: String,
}

// The wire types: every field the merge does not need is ignored, every field the lead's
// site-file change adds (`roles`, `os_hostname`, `addresses`) is optional.

#[derive(Deserialize)]
struct Peek {
    schema: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawRun {
    host: String,
    role: Role,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    os_hostname: Option<String>,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    version: String,
    started_at: String,
    #[serde(default)]
    duration_ms: u64,
    results: Vec<RawResult>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    inbound: Vec<RawInbound>,
}

#[derive(Deserialize)]
struct RawResult {
    path: String,
    port: u16,
    source: Role,
    target: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    local_address: Option<String>,
    probe: ProbeKind,
    #[serde(default = "yes")]
    required: bool,
    verdict: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    hint: Option<String>,
    #[serde(default)]
    findings: Vec<RawFinding>,
    #[serde(default)]
    tls: Option<RawTls>,
    #[serde(default)]
    via_proxy: Option<String>,
    #[serde(default)]
    greeting: Option<String>,
    #[serde(default)]
    timings_ms: Option<RawTimings>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct RawFinding {
    kind: String,
    #[serde(default)]
    detail: String,
}

#[derive(Deserialize)]
struct RawTls {
    #[serde(default)]
    trusted_public: bool,
    #[serde(default)]
    chain: Vec<RawCert>,
}

#[derive(Deserialize)]
struct RawCert {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    sha1: String,
    #[serde(default)]
    sha256: String,
}

#[derive(Deserialize)]
struct RawTimings {
    #[serde(default)]
    total: u64,
}

#[derive(Deserialize)]
struct RawInbound {
    port: u16,
    #[serde(default)]
    listening: Option<bool>,
    #[serde(default)]
    detail: String,
}

/// `text` cut to [`MAX_TEXT`] characters.
fn clip(mut text: String) -> String {
    if let Some((i, _)) = text.char_indices().nth(MAX_TEXT) {
        text.truncate(i);
        text.push('…');
    }
    text
}

fn clip_opt(text: Option<String>) -> Option<String> {
    text.map(clip)
}

pub(super) fn usage(msg: String) -> UsageError {
    UsageError::new(msg)
}

/// What a document of another schema is, for the error message.
fn what_schema(schema: &str) -> String {
    match schema {
        "mssp-check/deployment/1" => {
            "a merged deployment view (mssp-check/deployment/1), not one host's report; merge the hosts' own reports".into()
        }
        "mssp-check/profiles/1" => {
            "the path list of `mssp-check profiles` (mssp-check/profiles/1), not a report".into()
        }
        s if s.starts_with("mssp-check/report/") => format!(
            "a report of schema {}, which this version does not read",
            printable(s, 60)
        ),
        s => format!("a document of schema '{}', not a report", printable(s, 60)),
    }
}

/// Parses one report; `name` (the file, as shown) is named in every error.
///
/// # Errors
/// Not JSON, another schema, or not the shape of a report; for the last, where in it.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Run, UsageError> {
    let expected = "expected a report of `mssp-check --format json` (mssp-check/report/1)";
    let not_json = |e: &serde_json::Error| {
        usage(format!(
            "{name}: not JSON ({}); {expected}",
            printable(&e.to_string(), 200)
        ))
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => usage(format!("{name}: JSON, but not an object; {expected}")),
                Err(e) => not_json(&e),
            },
        );
    }
    let peek: Peek = serde_json::from_slice(bytes).map_err(|e| not_json(&e))?;
    match peek.schema {
        Some(serde_json::Value::String(s)) if s == REPORT_SCHEMA => {}
        Some(serde_json::Value::String(s)) => {
            return Err(usage(format!("{name}: {}; {expected}", what_schema(&s))))
        }
        _ => {
            return Err(usage(format!(
                "{name}: JSON without a \"schema\" field, not a report of mssp-check; {expected}"
            )))
        }
    }
    let raw: RawRun = serde_json::from_slice(bytes).map_err(|e| {
        usage(format!(
            "{name}: not a valid mssp-check/report/1 document: {}",
            printable(&e.to_string(), 300)
        ))
    })?;
    convert(name.to_string(), raw)
}

fn parse_verdict(label: &str) -> Option<Verdict> {
    Verdict::ALL.iter().copied().find(|v| v.label() == label)
}

fn parse_severity(label: &str) -> Option<Severity> {
    match label {
        "pass" => Some(Severity::Pass),
        "warn" => Some(Severity::Warn),
        "fail" => Some(Severity::Fail),
        "skip" => Some(Severity::Skip),
        _ => None,
    }
}

/// The severity of a result whose report predates the `severity` field: DESIGN §4.
fn derived_severity(verdict: Verdict, required: bool) -> Severity {
    match verdict {
        Verdict::Ok => Severity::Pass,
        Verdict::Skipped => Severity::Skip,
        _ if required => Severity::Fail,
        _ => Severity::Warn,
    }
}

fn convert(file: String, raw: RawRun) -> Result<Run, UsageError> {
    let mut results = Vec::with_capacity(raw.results.len());
    for (i, r) in raw.results.into_iter().enumerate() {
        let bad = |what: &str, value: &str| {
            usage(format!(
                "{file}: result {} ({}): {what} '{}' is not one this version knows",
                i + 1,
                printable(&r.path, 60),
                printable(value, 40)
            ))
        };
        let verdict = parse_verdict(&r.verdict).ok_or_else(|| bad("verdict", &r.verdict))?;
        let severity = match &r.severity {
            Some(s) => parse_severity(s).ok_or_else(|| bad("severity", s))?,
            None => derived_severity(verdict, r.required),
        };
        let trusted_public = r.tls.as_ref().is_some_and(|t| t.trusted_public);
        let leaf = r
            .tls
            .and_then(|t| t.chain.into_iter().next())
            .map(|c| Leaf {
                subject: clip(c.subject),
                issuer: clip(c.issuer),
                sha1: clip(c.sha1),
                sha256: clip(c.sha256),
            });
        results.push(PathResult {
            path: clip(r.path),
            port: r.port,
            source: r.source,
            target: clip(r.target),
            host: clip_opt(r.host),
            address: clip_opt(r.address),
            local_address: clip_opt(r.local_address),
            probe: r.probe,
            required: r.required,
            verdict,
            severity,
            reason: clip(r.reason),
            hint: clip_opt(r.hint),
            findings: r
                .findings
                .into_iter()
                .map(|f| Finding {
                    kind: clip(f.kind),
                    detail: clip(f.detail),
                })
                .collect(),
            leaf,
            trusted_public,
            via_proxy: clip_opt(r.via_proxy),
            greeting: clip_opt(r.greeting),
            total_ms: r.timings_ms.map_or(0, |t| t.total),
        });
    }
    let mut roles = raw.roles;
    if roles.is_empty() {
        roles.push(raw.role);
    }
    roles.sort();
    roles.dedup();
    Ok(Run {
        file,
        host: clip(raw.host),
        os_hostname: clip_opt(raw.os_hostname),
        roles,
        addresses: raw.addresses.iter().filter_map(|a| ip_of(a)).collect(),
        version: clip(raw.version),
        started_at: clip(raw.started_at),
        duration_ms: raw.duration_ms,
        results,
        notes: raw.notes.into_iter().map(clip).collect(),
        inbound: raw
            .inbound
            .into_iter()
            .map(|i| Inbound {
                port: i.port,
                listening: i.listening,
                detail: clip(i.detail),
            })
            .collect(),
    })
}
