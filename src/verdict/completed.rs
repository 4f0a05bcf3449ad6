//! A probe that ran to its end: end-to-end proof first, then interception evidence, the
//! certificate, and what the protocol said.

use super::certificate::completed_tls;
use super::{intercept, protocol, Context, Finding, FindingKind, Hop, Triple, Verdict};
use crate::observation::Observation;

/// A probe that ran to its end: the certificate first, then the protocol.
pub(super) fn completed(
    obs: &Observation,
    ctx: &Context,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Triple {
    if let Some(t) = intercept::e2e(obs, ctx, hop, findings) {
        // The proof decides; the other evidence (a pin, a known CA) still shows.
        let _ = completed_unproven(obs, ctx, hop, findings);
        return t;
    }
    let (v, reason, hint) = completed_unproven(obs, ctx, hop, findings);
    if v == Verdict::Ok && findings.iter().any(|f| f.kind == FindingKind::E2eVerified) {
        return (v, format!("{reason}, end-to-end verified"), hint);
    }
    (v, reason, hint)
}

pub(super) fn completed_unproven(
    obs: &Observation,
    ctx: &Context,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Triple {
    if let Some(facts) = &obs.tls {
        if let Some(t) = intercept::chain(obs, facts, ctx, hop, findings) {
            return t;
        }
    }
    let tls = obs
        .tls
        .as_ref()
        .map(|facts| completed_tls(obs, facts, hop, findings));
    if let Some(t) = &tls {
        if t.0 != Verdict::Ok {
            return t.clone();
        }
    }
    if let Some(t) = intercept::protocol(obs, ctx, hop, findings) {
        return t;
    }
    if let Some(t) = protocol::judge(obs, hop, findings) {
        return t;
    }
    let said = protocol::summary(obs);
    match (tls, said) {
        (Some((v, reason, hint)), Some(said)) => {
            let reason = if obs.path.probe.is_starttls() {
                format!("{said} → {reason}")
            } else {
                format!("{reason}, {said}")
            };
            (v, reason, hint)
        }
        (Some(t), None) => t,
        (None, Some(said)) => (Verdict::Ok, said, None),
        (None, None) => (Verdict::Ok, "TCP connection accepted".to_string(), None),
    }
}
