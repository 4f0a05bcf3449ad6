//! Judging a whole run: each observation once, then the findings that need more than one
//! row — the same endpoint presenting another certificate through the proxy than directly
//! (DESIGN §5.7, within one run), and pins that no probe could check.

use super::{classify, Context, Finding, FindingKind, Judgement, Severity, Verdict};
use crate::config::profile::CertPolicy;
use crate::config::HostSpec;
use crate::observation::Observation;
use crate::sanitize::printable;

/// One path's result: what was seen and what it means.
#[derive(Debug, Clone)]
pub struct Row {
    pub obs: Observation,
    pub judgement: Judgement,
}

/// A judged run: one row an observation, in the order given, and the notes about the run
/// as a whole (pins that matched nothing).
#[derive(Debug, Clone)]
pub struct Judged {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

/// Judges every observation of a run once, then adds what only the rows together show.
#[must_use]
pub fn judge_run(observations: Vec<Observation>, ctx: &Context) -> Judged {
    let mut rows: Vec<Row> = observations
        .into_iter()
        .map(|obs| {
            let judgement = classify(&obs, ctx);
            Row { obs, judgement }
        })
        .collect();
    proxy_certificates(&mut rows);
    let notes = unused_pins(&rows, &ctx.pins);
    Judged { rows, notes }
}

/// A row through a proxy whose certificate differs from every direct row of the same path
/// (another leaf *and* another issuer) is TLS inspection by the proxy, whatever the trust
/// stores say: the direct rows show what the endpoint really presents.
fn proxy_certificates(rows: &mut [Row]) {
    // In the order a report lists them (host, then address), so that the detail names the
    // same direct row whatever order the probes finished in.
    let mut direct: Vec<(String, String, String, (String, String))> = rows
        .iter()
        .filter(|r| r.obs.via_proxy.is_none())
        .filter_map(|r| {
            let leaf = r.obs.tls.as_ref()?.chain.first()?;
            Some((
                r.obs.path.id.clone(),
                leaf.sha256.clone(),
                leaf.issuer.clone(),
                listed_at(&r.obs),
            ))
        })
        .collect();
    direct.sort_by(|a, b| a.3.cmp(&b.3));
    for row in rows.iter_mut().filter(|r| r.obs.via_proxy.is_some()) {
        if row.obs.path.cert != CertPolicy::Public || row.judgement.verdict == Verdict::Intercepted
        {
            continue;
        }
        let Some(leaf) = row.obs.tls.as_ref().and_then(|t| t.chain.first()) else {
            continue;
        };
        let same_path: Vec<_> = direct.iter().filter(|d| d.0 == row.obs.path.id).collect();
        let differs = !same_path.is_empty()
            && same_path
                .iter()
                .all(|d| d.1 != leaf.sha256 && d.2 != leaf.issuer);
        if !differs {
            continue;
        }
        let proxy = row.obs.via_proxy.clone().unwrap_or_default();
        let host = row
            .obs
            .host
            .as_ref()
            .map_or_else(String::new, HostSpec::display_host);
        let detail = format!(
            "through {proxy}, {host} presents a certificate issued by {} (sha256 {}); directly, one issued by {}",
            printable(&leaf.issuer, 80),
            leaf.sha256,
            printable(&same_path[0].2, 80)
        );
        let j = &mut row.judgement;
        j.findings
            .push(Finding::warning(FindingKind::CertDiffers, detail));
        j.verdict = Verdict::Intercepted;
        j.reason = format!(
            "the proxy presents another certificate for {host} than {host} itself: it inspects TLS"
        );
        j.hint = Some(format!(
            "exclude {host} from SSL/TLS inspection on the proxy {proxy} (MailStore's licensing must reach it unmodified)"
        ));
        j.severity = if row.obs.path.required {
            Severity::Fail
        } else {
            Severity::Warn
        };
    }
}

/// Where a report lists a row among the rows of its path: by host, then address.
fn listed_at(obs: &Observation) -> (String, String) {
    (
        obs.host
            .as_ref()
            .map(HostSpec::display_host)
            .unwrap_or_default(),
        obs.address.map(|a| a.to_string()).unwrap_or_default(),
    )
}

/// `--pin` entries that applied to no probed endpoint: a typo, or the wrong port.
fn unused_pins(rows: &[Row], pins: &[crate::config::pin::Pin]) -> Vec<String> {
    pins.iter()
        .filter(|pin| {
            !rows.iter().any(|r| {
                r.obs.host.as_ref().is_some_and(|h| {
                    pin.applies_to(&h.host, r.obs.address.map(|a| a.ip()), r.obs.port)
                })
            })
        })
        .map(|pin| {
            let host = HostSpec::new(pin.host.clone(), Some(pin.port));
            format!(
                "--pin {host} matched no probed endpoint: check the host and the port (as probed, with any --port-offset or :port)"
            )
        })
        .collect()
}
