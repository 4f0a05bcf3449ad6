//! Judges an [`Observation`]: one verdict per path, a one-line reason, a hint that names
//! the hop and the likely fix, and findings. Exhaustive matches only; no I/O.

mod across;
mod certificate;
mod completed;
mod finding;
mod hint;
mod hop;
mod intercept;
mod network;
mod protocol;
mod tls;

pub use across::{judge_run, Judged, Row};
pub use finding::{Finding, FindingKind};

use hop::{Hop, Triple};

use serde::Serialize;

use crate::observation::{Observation, Outcome};
use crate::sanitize::printable;

/// The verdicts of DESIGN §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    Refused,
    Filtered,
    Unreachable,
    Dns,
    Intercepted,
    TlsFailed,
    NoService,
    ProtocolError,
    Skipped,
    /// The run was stopped (Ctrl-C, SIGTERM) before this path finished.
    Cancelled,
    /// The tool itself failed on this path (exit 3).
    InternalError,
}

impl Verdict {
    pub const ALL: [Verdict; 12] = [
        Verdict::Ok,
        Verdict::Refused,
        Verdict::Filtered,
        Verdict::Unreachable,
        Verdict::Dns,
        Verdict::Intercepted,
        Verdict::TlsFailed,
        Verdict::NoService,
        Verdict::ProtocolError,
        Verdict::Skipped,
        Verdict::Cancelled,
        Verdict::InternalError,
    ];

    /// The fixed label that the table, JSON and JUnit share.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Refused => "refused",
            Verdict::Filtered => "filtered",
            Verdict::Unreachable => "unreachable",
            Verdict::Dns => "dns",
            Verdict::Intercepted => "intercepted",
            Verdict::TlsFailed => "tls-failed",
            Verdict::NoService => "no-service",
            Verdict::ProtocolError => "protocol-error",
            Verdict::Skipped => "skipped",
            Verdict::Cancelled => "cancelled",
            Verdict::InternalError => "internal-error",
        }
    }
}

/// How a result counts in the summary and the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Pass,
    Warn,
    Fail,
    Skip,
    /// Not finished: the run was stopped.
    Cancelled,
}

/// The judgement of one observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub severity: Severity,
    pub reason: String,
    pub hint: Option<String>,
    pub findings: Vec<Finding>,
}

/// What judging needs besides the observation: who probes (for hints), the pins, and the
/// interception signatures.
#[derive(Debug, Clone)]
pub struct Context {
    pub role_label: &'static str,
    pub hostname: String,
    /// The step timeout, quoted in reasons.
    pub timeout: std::time::Duration,
    pub pins: Vec<crate::config::pin::Pin>,
    pub signatures: crate::intercept::signatures::Signatures,
    /// `--token`, to check the responder's HMAC.
    pub token: Option<Vec<u8>>,
    /// When a certificate counts as about to expire.
    pub expiry: Expiry,
}

/// `--expiry-warning DAYS` and the moment the run judges at (fixed in tests, so that a
/// report of fixed observations does not change with the calendar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub warn_days: u32,
    pub now: time::OffsetDateTime,
}

impl Expiry {
    /// Warns `warn_days` ahead of now.
    #[must_use]
    pub fn from_now(warn_days: u32) -> Self {
        Self {
            warn_days,
            now: time::OffsetDateTime::now_utc(),
        }
    }
}

/// Judges one observation.
#[must_use]
pub fn classify(obs: &Observation, ctx: &Context) -> Judgement {
    let mut findings = Vec::new();
    if obs.local_target {
        if let Some(a) = obs.address {
            findings.push(Finding::info(
                FindingKind::LocalTarget,
                format!(
                    "{} is an address of this machine: the path is tested without crossing the network",
                    a.ip()
                ),
            ));
        }
    }
    let hop = Hop::new(obs, ctx);
    let (verdict, reason, hint) = match &obs.outcome {
        Outcome::Skipped { flag } => (
            Verdict::Skipped,
            format!("add {flag} HOST to test"),
            None,
        ),
        Outcome::Excluded { by } => (Verdict::Skipped, format!("excluded by {by}"), None),
        Outcome::Cancelled => (
            Verdict::Cancelled,
            "the run was stopped before this path finished".to_string(),
            None,
        ),
        Outcome::Internal { detail } => (
            Verdict::InternalError,
            format!("mssp-check failed on this path: {}", printable(detail, 200)),
            Some("a bug in mssp-check, not a network problem: please report it with this line".to_string()),
        ),
        Outcome::Dns(f) if hop.proxy.is_some() => network::proxy_dns(f, &hop),
        Outcome::Connect(f) if hop.proxy.is_some() => network::proxy_connect(f, &hop),
        Outcome::Dns(f) => network::dns(f, &hop),
        Outcome::Connect(f) => network::connect(f, &hop),
        // Refused our TLS, then showed its legacy version, suite and chain.
        Outcome::Tls(_) if obs.tls.is_some() => tls::legacy_tls(obs, ctx, &hop, &mut findings),
        Outcome::Tls(f) => {
            let t = tls::accepted_and_dropped(f, obs, &hop)
                .unwrap_or_else(|| tls::tls_failure(f, &hop));
            if t.0 == Verdict::Ok {
                findings.push(Finding::warning(FindingKind::ClientCertRequired, t.1.clone()));
            }
            t
        }
        Outcome::Deadline { phase } => (
            Verdict::NoService,
            format!(
                "the {} did not finish within the probe's overall deadline (the peer is too slow or trickles)",
                phase.label()
            ),
            Some(format!(
                "{} accepted the connection but answers too slowly; check the service on {} and any proxy in between",
                hop.target_title, hop.host
            )),
        ),
        Outcome::Completed => completed::completed(obs, ctx, &hop, &mut findings),
    };
    // A silence after connecting was confirmed on a fresh connection: say so.
    let reason = if obs.stalls > 1 && verdict != Verdict::Ok {
        format!("{reason} (twice, on two connections)")
    } else {
        reason
    };
    intercept::canary(obs, &hop, &mut findings);
    if let Some(facts) = &obs.tls {
        findings.extend(certificate::expiry(facts, ctx.expiry));
    }
    // The same evidence found twice (by two judges) is shown once.
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert((f.kind, f.detail.clone())));
    let severity = match verdict {
        Verdict::Skipped => Severity::Skip,
        Verdict::Cancelled => Severity::Cancelled,
        Verdict::InternalError => Severity::Fail,
        Verdict::Ok if findings.iter().any(|f| f.warns) => Severity::Warn,
        Verdict::Ok => Severity::Pass,
        _ if obs.path.required => Severity::Fail,
        _ => Severity::Warn,
    };
    // A path that works but warns still gets a next step, from its first warning.
    let hint = hint.or_else(|| {
        findings
            .iter()
            .find(|f| f.warns)
            .and_then(|f| hint::warning_hint(f.kind, obs, &hop))
    });
    Judgement {
        verdict,
        severity,
        reason,
        hint,
        findings,
    }
}

/// Whether the canary should be asked for `obs`: always with `--canary` (for a path that
/// connected on its first address), else when the path comes out `no-service`, or when a TLS
/// port accepted and dropped the handshake without a byte — does a port of the same host
/// where nothing should listen answer too?
#[must_use]
pub fn needs_canary(obs: &Observation, ctx: &Context, canary_always: bool) -> bool {
    obs.address.is_some()
        && (canary_always && obs.timings.connect.is_some() && obs.other_attempts.is_empty()
            || tls::silent_drop(obs)
            || classify(obs, ctx).verdict == Verdict::NoService)
}

#[cfg(test)]
mod tests;
