//! Interception evidence (DESIGN §5): pins, known interception CAs, re-signed internal
//! certificates, mail-proxy greetings, proxy headers, and the canary.

use super::{Context, Finding, FindingKind, Hop, Triple, Verdict};
use crate::config::profile::{CertPolicy, ProbeKind};
use crate::intercept::greeting::Clue;
use crate::intercept::signatures::{Field, Signature};
use crate::observation::{Canary, Observation, TlsFacts};
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
                FindingKind::PinMismatch,
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
            FindingKind::PinMatch,
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
                FindingKind::LocalRoot,
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
            FindingKind::Resigned,
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

/// Adds an `interception-ca` finding per issuer of the chain that matches a signature, on
/// the first certificate it issued (the CA's own, self-signed, names the same issuer: once
/// is enough); returns the first match with the issuer it matched.
fn push_issuer_signatures<'a>(
    facts: &TlsFacts,
    ctx: &'a Context,
    findings: &mut Vec<Finding>,
) -> Option<(&'a Signature, String)> {
    let mut first = None;
    let mut told: Vec<(&str, &str)> = Vec::new();
    for cert in &facts.chain {
        for sig in ctx.signatures.match_issuer(&cert.issuer) {
            if told.contains(&(sig.product.as_str(), cert.issuer.as_str())) {
                continue;
            }
            told.push((sig.product.as_str(), cert.issuer.as_str()));
            findings.push(Finding::warning(
                FindingKind::InterceptionCa,
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

/// A greeting that no signature knows but that names a product of the database
/// (`intercepted`) or calls itself a proxy or scanner (a finding) (issue 13).
fn greeting_clue(
    ctx: &Context,
    greeting: &str,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    let shown = printable(greeting, 80);
    match crate::intercept::greeting::clue(&ctx.signatures, greeting)? {
        Clue::Product(sig) => {
            findings.push(Finding::warning(
                FindingKind::BannerSignature,
                format!(
                    "greeting \"{shown}\" names {}, a product that intercepts mail",
                    sig.product
                ),
            ));
            Some((
                Verdict::Intercepted,
                format!(
                    "the greeting names {}: a mail proxy or scanner answers, not the mail server",
                    sig.product
                ),
                Some(sig.advice_for(&hop.host, hop.port)),
            ))
        }
        Clue::Word(word) => {
            findings.push(Finding::warning(
                FindingKind::BannerSignature,
                format!(
                    "greeting \"{shown}\" says \"{word}\": a mail proxy or scanner may answer instead of the mail server on {}:{}",
                    hop.host, hop.port
                ),
            ));
            None
        }
    }
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
            let known = ctx.signatures.match_greeting(field, greeting);
            if known.is_empty() {
                verdict = greeting_clue(ctx, greeting, hop, findings);
            }
            for sig in known {
                findings.push(Finding::warning(
                    FindingKind::BannerSignature,
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
                    FindingKind::ProxyHeader,
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
                FindingKind::ProxyHeader,
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
                crate::sanitize::printable_bytes(said, 40)
            )
        };
        findings.push(Finding::warning(
            FindingKind::CanaryOpen,
            format!(
                "port {port} of {}, where nothing should listen, accepted a connection too {words}: a firewall, SYN proxy or antivirus on the way answers every port",
                hop.host_ip()
            ),
        ));
    }
}

/// The end-to-end proof of an `mssp-check listen` responder: certain, not heuristic.
pub(super) fn e2e(
    obs: &Observation,
    ctx: &Context,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    let seen = obs.e2e.as_ref()?;
    let hp = format!("{}:{}", hop.host, hop.port);
    let st = match &seen.statement {
        Ok(st) => st,
        Err(e) => {
            findings.push(Finding::warning(
                FindingKind::E2eUnreadable,
                format!(
                    "a responder statement arrived but does not parse: {}",
                    printable(e, 80)
                ),
            ));
            return None;
        }
    };
    let mismatch = |findings: &mut Vec<Finding>, detail: String, reason: &str| {
        findings.push(Finding::warning(FindingKind::E2eMismatch, detail));
        Some((
            Verdict::Intercepted,
            reason.to_string(),
            Some(format!(
                "something between this machine and the responder on {hp} terminates the session: exclude {hp} from SSL/TLS inspection and mail scanning"
            )),
        ))
    };
    if let Some(leaf) = obs.tls.as_ref().and_then(|t| t.chain.first()) {
        if !leaf.sha256.eq_ignore_ascii_case(&st.cert_sha256) {
            return mismatch(
                findings,
                format!(
                    "the responder served the certificate sha256 {}, this machine received sha256 {} (issuer {})",
                    st.cert_sha256,
                    leaf.sha256,
                    printable(&leaf.issuer, 80)
                ),
                "end-to-end proof failed: another certificate arrived than the responder served",
            );
        }
    }
    // Same certificate, another TLS session: a middlebox with the server's own key.
    if let (Some(theirs), Some(ours)) = (&st.tls_ekm, obs.tls.as_ref().and_then(|t| t.ekm.as_ref()))
    {
        if !theirs.eq_ignore_ascii_case(ours) {
            return mismatch(
                findings,
                "the responder's TLS session is not this machine's (their exported keying material differs), though the certificate is the same: a middlebox with the server's certificate and private key ends TLS in between (SSL offload, a WAF, a load balancer)".into(),
                "end-to-end proof failed: the TLS session was re-terminated in between",
            );
        }
    }
    if let Some(token) = &ctx.token {
        if st.mac.is_none() {
            findings.push(Finding::warning(
                FindingKind::E2eUnproven,
                "this probe has --token, but the responder's statement is not signed: start `mssp-check listen` with the same --token for a proof that cannot be forged".into(),
            ));
            return None;
        }
        if !st.verify(token) {
            findings.push(Finding::warning(
                FindingKind::E2eUnproven,
                "the statement's HMAC does not verify with this --token: the responder has another token (check both sides), or something in between forged the statement".into(),
            ));
            return None;
        }
        if seen.nonce.is_some() && st.nonce != seen.nonce {
            return mismatch(
                findings,
                format!(
                    "the statement answers nonce {}, this probe sent {}: a replayed statement",
                    st.nonce.as_deref().unwrap_or("-"),
                    seen.nonce.as_deref().unwrap_or("-")
                ),
                "end-to-end proof failed: a replayed statement",
            );
        }
    }
    if let Some(tail) = &seen.tail {
        if !st.text_matches(tail) {
            findings.push(Finding::warning(
                FindingKind::BannerRewritten,
                format!(
                    "the greeting text arrived as \"{}\", not as the responder sent it",
                    printable(tail, 60)
                ),
            ));
            return Some((
                Verdict::Intercepted,
                "the greeting was rewritten on the way".into(),
                Some(format!("a mail proxy between this machine and {hp} rewrites the session: exclude {hp} from mail scanning")),
            ));
        }
    }
    if let Some(local) = obs.local_addr {
        let canon = |a: std::net::SocketAddr| (a.ip().to_canonical(), a.port());
        if canon(local) != canon(st.peer) {
            findings.push(Finding::warning(
                FindingKind::Nat,
                format!(
                    "the responder saw this connection come from {}, this machine sent it from {}: NAT or a proxy in the path",
                    st.peer, local
                ),
            ));
        }
    }
    findings.push(Finding::info(
        FindingKind::E2eVerified,
        if obs.tls.is_some() {
            format!(
                "the responder on {hp} served the certificate this machine received (sha256 {})",
                st.cert_sha256
            )
        } else {
            format!("the responder on {hp} answered (no TLS on this path to compare)")
        },
    ));
    None
}
