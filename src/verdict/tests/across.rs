//! A run as a whole: the proxy's certificate against the direct one, unused pins, and which
//! observations ask for the canary.

use super::build::{ctx, on, public_trusted, self_signed};
use crate::observation::{Observation, TlsFailure};
use crate::verdict::{judge_run, needs_canary, FindingKind, Severity, Verdict};

const PROXY: &str = "http://proxy.lab:3128";

fn licensing_direct() -> Observation {
    on("multi-443-mgmt-mailstore")
        .tls(public_trusted())
        .http(super::build::head(200, "OK", &[]))
        .obs
}

fn licensing_proxied(issuer: &str) -> Observation {
    let mut facts = public_trusted();
    facts.chain[0] = super::build::cert("CN=target.lab", issuer, 'z');
    on("multi-443-mgmt-mailstore")
        .tls(facts)
        .http(super::build::head(200, "OK", &[]))
        .via(PROXY)
        .obs
}

#[test]
fn another_certificate_through_the_proxy_is_interception() {
    let judged = judge_run(
        vec![licensing_proxied("CN=Proxy CA"), licensing_direct()],
        &ctx(),
    );
    let proxied = &judged.rows[0].judgement;
    assert_eq!(
        (proxied.verdict, proxied.severity),
        (Verdict::Intercepted, Severity::Fail)
    );
    let kinds: Vec<_> = proxied.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FindingKind::CertDiffers]);
    assert!(proxied.findings[0]
        .detail
        .contains("issued by CN=Proxy CA (sha256 zzzz"));
    assert!(proxied.hint.as_deref().is_some_and(|h| h.contains(
        "exclude target.lab from SSL/TLS inspection on the proxy http://proxy.lab:3128"
    )));
    assert_eq!(judged.rows[1].judgement.verdict, Verdict::Ok);
    assert!(judged.notes.is_empty());
}

#[test]
fn the_same_issuer_through_the_proxy_is_not_interception() {
    let judged = judge_run(
        vec![
            licensing_proxied("CN=R11, O=Let's Encrypt"),
            licensing_direct(),
        ],
        &ctx(),
    );
    assert_eq!(judged.rows[0].judgement.verdict, Verdict::Ok);
    assert!(judged.rows[0].judgement.findings.is_empty());
}

#[test]
fn a_pin_that_matched_no_endpoint_is_a_note() {
    let mut c = ctx();
    for pin in ["target.lab:8471", "other.lab:8471"] {
        c.pins.push(
            crate::config::pin::Pin::parse(&format!("{pin}={}", "a".repeat(40))).expect("pin"),
        );
    }
    let obs = on("multi-8471-ih-mgmt").tls(self_signed()).obs;
    let judged = judge_run(vec![obs], &c);
    assert_eq!(
        judged.notes,
        ["--pin other.lab:8471 matched no probed endpoint: check the host and the port (as probed, with any --port-offset or :port)"]
    );
    let kinds: Vec<_> = judged.rows[0]
        .judgement
        .findings
        .iter()
        .map(|f| f.kind)
        .collect();
    assert_eq!(kinds, [FindingKind::PinMatch]);
}

#[test]
fn the_canary_is_asked_for_silent_paths_or_always_with_the_flag() {
    let silent = on("multi-8471-ih-mgmt")
        .tls_failed(TlsFailure::TimedOut)
        .obs;
    let fine = on("multi-8471-ih-mgmt").tls(self_signed()).obs;
    let mut no_address = silent.clone();
    no_address.address = None;
    let mut second_address = fine.clone();
    second_address.other_attempts.push((
        second_address.address.expect("address"),
        crate::observation::ConnectFailure::Refused,
    ));
    let c = ctx();
    assert!(needs_canary(&silent, &c, false));
    assert!(!needs_canary(&fine, &c, false));
    assert!(needs_canary(&fine, &c, true));
    assert!(!needs_canary(&second_address, &c, true));
    assert!(!needs_canary(&no_address, &c, false));
    // Accepted, then dropped without a byte: a tls-failed path, but the canary tells a
    // middlebox from the service.
    let dropped = on("multi-8471-ih-mgmt")
        .tls_failed(TlsFailure::Reset { silent: true })
        .obs;
    let spoke = on("multi-8471-ih-mgmt")
        .tls_failed(TlsFailure::Closed { silent: false })
        .obs;
    assert!(needs_canary(&dropped, &c, false));
    assert!(!needs_canary(&spoke, &c, false));
}
