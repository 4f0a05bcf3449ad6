//! Interception evidence (DESIGN §5): pins, known interception CAs, re-signed internal
//! certificates, mail-proxy greetings, proxy headers, and the canary.

use super::{Context, Finding, Hop, Triple, Verdict};
use crate::config::profile::{CertPolicy, ProbeKind};
use crate::intercept::signatures::{Field, Signature};
use crate::observation::{Observation, TlsFacts};
use crate::probe::canary::Canary;
use crate::sanitize::printable;

/// Evidence from the certificate chain. Returns a verdict when it is conclusive.
pub(super) fn chain(
    obs: &Observation,
    facts: &TlsFacts,
    ctx: &Context,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    let leaf = facts.chain.first()?;
    let host = obs.host.as_ref()?;
    let ip = obs.address.map(|a| a.ip());
    let pins: Vec<_> = ctx
        .pins
        .iter()
        .filter(|p| p.applies_to(&host.host, ip, obs.port))
        .collect();
    let pinned_ok = pins.iter().any(|p| p.matches(&leaf.sha1, &leaf.sha256));
    if let Some(pin) = pins.iter().find(|p| !p.matches(&leaf.sha1, &leaf.sha256)) {
        if !pinned_ok {
            let seen = match pin.hash {
                crate::config::pin::PinHash::Sha1 => &leaf.sha1,
                crate::config::pin::PinHash::Sha256 => &leaf.sha256,
            };
            findings.push(Finding::warning(
                "pin-mismatch",
                format!(
                    "expected {} {}, the server presented {} (subject {}, issuer {})",
                    pin.hash.label(),
                    pin.fingerprint,
                    seen,
                    printable(&leaf.subject, 80),
                    printable(&leaf.issuer, 80)
                ),
            ));
            push_issuer_signatures(facts, ctx, findings);
            return Some((
                Verdict::Intercepted,
                format!(
                    "the certificate is not the pinned one ({} {}…, expected {}…)",
                    pin.hash.label(),
                    &seen[..seen.len().min(16)],
                    &pin.fingerprint[..pin.fingerprint.len().min(16)]
                ),
                Some(format!(
                    "something between this machine and {} presents its own certificate: exclude {}:{} from SSL/TLS inspection, or update the pin if the certificate was replaced on purpose",
                    hop.host, hop.host, hop.port
                )),
            ));
        }
    }
    if pinned_ok {
        findings.push(Finding::info(
            "pin-match",
            format!(
                "the certificate matches the pinned thumbprint ({})",
                leaf.sha1
            ),
        ));
    }

    if let Some(sig) = push_issuer_signatures(facts, ctx, findings) {
        if facts.os.is_trusted() && !facts.public.is_trusted() {
            let top = facts
                .chain
                .last()
                .map(|c| short_cn(&c.issuer))
                .unwrap_or_default();
            findings.push(Finding::warning(
                "local-root",
                format!(
                    "the chain ends at \"{}\", which this machine trusts but the public roots do not: the product's root is installed locally",
                    printable(&top, 80)
                ),
            ));
        }
        return Some((
            Verdict::Intercepted,
            format!(
                "issued by \"{}\" ({}), a known TLS-inspection CA",
                printable(&short_cn(&sig.1), 60),
                sig.0.product
            ),
            Some(sig.0.advice_for(&hop.host, hop.port)),
        ));
    }

    // SPE's own certificates are self-signed; an interceptor in front re-signs them with
    // its own CA and keeps subject and validity.
    if obs.path.cert == CertPolicy::Internal
        && !leaf.self_signed
        && !pinned_ok
        && !facts.os.is_trusted()
    {
        findings.push(Finding::warning(
            "resigned",
            format!(
                "the certificate for {} is issued by {}, not self-signed as MailStore's own certificates are, and nothing here trusts that issuer: a re-signing proxy, unless the deployment uses such a CA (pin the thumbprint with --pin {}:{}=… to settle it)",
                printable(&leaf.subject, 80),
                printable(&leaf.issuer, 80),
                hop.host,
                hop.port
            ),
        ));
    }
    None
}

/// Adds an `interception-ca` finding per chain certificate whose issuer matches a
/// signature; returns the first match with the issuer it matched.
fn push_issuer_signatures<'a>(
    facts: &TlsFacts,
    ctx: &'a Context,
    findings: &mut Vec<Finding>,
) -> Option<(&'a Signature, String)> {
    let mut first = None;
    for cert in &facts.chain {
        for sig in ctx.signatures.match_issuer(&cert.issuer) {
            findings.push(Finding::warning(
                "interception-ca",
                format!(
                    "issuer \"{}\" matches {} ({}); sha1 {} sha256 {} — source: {}",
                    printable(&cert.issuer, 100),
                    sig.product,
                    kind_words(sig),
                    cert.sha1,
                    cert.sha256,
                    sig.source
                ),
            ));
            if first.is_none() {
                first = Some((sig, cert.issuer.clone()));
            }
        }
    }
    first
}

fn kind_words(sig: &Signature) -> &'static str {
    use crate::intercept::signatures::Kind;
    match sig.kind {
        Kind::Utm => "a UTM/firewall TLS inspection CA",
        Kind::Antivirus => "an antivirus web/mail shield CA",
        Kind::Proxy => "a web proxy",
        Kind::Debugging => "a debugging proxy",
    }
}

fn short_cn(dn: &str) -> String {
    dn.split(", ")
        .find_map(|p| p.strip_prefix("CN="))
        .unwrap_or(dn)
        .to_string()
}

/// Evidence from what the protocol said: mail-proxy greetings, proxy headers.
pub(super) fn protocol(
    obs: &Observation,
    ctx: &Context,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    let mut verdict = None;
    if let Some(d) = &obs.dialogue {
        let field = match obs.path.probe {
            ProbeKind::Imaps | ProbeKind::ImapStarttls => Some(Field::ImapGreeting),
            ProbeKind::Pop3s | ProbeKind::Pop3Stls => Some(Field::Pop3Greeting),
            _ => None,
        };
        if let (Some(field), Some(greeting)) = (field, d.greeting.as_deref()) {
            for sig in ctx.signatures.match_greeting(field, greeting) {
                findings.push(Finding::warning(
                    "banner-signature",
                    format!(
                        "greeting \"{}\" is {}'s ({})",
                        printable(greeting, 80),
                        sig.product,
                        sig.source
                    ),
                ));
                verdict.get_or_insert_with(|| {
                    (
                        Verdict::Intercepted,
                        format!(
                            "the greeting comes from {}, not from the mail server",
                            sig.product
                        ),
                        Some(sig.advice_for(&hop.host, hop.port)),
                    )
                });
            }
        }
    }
    if let Some(Ok(head)) = &obs.http {
        for (name, value) in &head.headers {
            for sig in ctx.signatures.match_header(name, value) {
                findings.push(Finding::warning(
                    "proxy-header",
                    format!(
                        "{}: {} — {} ({})",
                        printable(name, 40),
                        printable(value, 80),
                        sig.product,
                        sig.source
                    ),
                ));
                if sig.pattern.is_some() {
                    verdict.get_or_insert_with(|| {
                        (
                            Verdict::Intercepted,
                            format!(
                                "the HTTP answer carries {}'s header {}",
                                sig.product,
                                printable(name, 40)
                            ),
                            Some(sig.advice_for(&hop.host, hop.port)),
                        )
                    });
                }
            }
        }
        for sig in ctx.signatures.match_body(&head.body_prefix) {
            findings.push(Finding::warning(
                "proxy-header",
                format!(
                    "the page is {}'s block page or portal ({})",
                    sig.product, sig.source
                ),
            ));
            verdict.get_or_insert_with(|| {
                (
                    Verdict::Intercepted,
                    format!(
                        "{} answered instead of the server (block page or portal)",
                        sig.product
                    ),
                    Some(sig.advice_for(&hop.host, hop.port)),
                )
            });
        }
    }
    verdict
}

/// The canary's finding, if it was asked.
pub(super) fn canary(obs: &Observation, hop: &Hop, findings: &mut Vec<Finding>) {
    if let Some(Canary::Accepted { port, said }) = &obs.canary {
        let words = if said.is_empty() {
            "and stayed silent".to_string()
        } else {
            format!(
                "and said \"{}\"",
                printable(&String::from_utf8_lossy(said), 40)
            )
        };
        findings.push(Finding::warning(
            "canary-open",
            format!(
                "port {port} of {}, where nothing should listen, accepted a connection too {words}: a firewall, SYN proxy or antivirus on the way answers every port",
                hop.host_ip()
            ),
        ));
    }
}
