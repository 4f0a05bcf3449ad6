//! Certificates of a completed handshake, judged by the path's policy (internal, external,
//! public): trusted, locally re-signed, or broken — and why, the most specific reason first.

use super::{Finding, FindingKind, Hop, Triple, Verdict};
use crate::config::profile::CertPolicy;
use crate::observation::{CertProblem, Observation, TlsFacts, Trust};
use crate::sanitize::printable;

pub(super) fn describe_leaf(facts: &TlsFacts) -> String {
    match facts.chain.first() {
        Some(leaf) if leaf.self_signed => format!("self-signed {}", short_name(&leaf.subject)),
        Some(leaf) => format!(
            "{} issued by {}",
            short_name(&leaf.subject),
            short_name(&leaf.issuer)
        ),
        None => "no certificate".to_string(),
    }
}

/// `CN=x, O=y` → `CN=x` (the table has one line).
pub(super) fn short_name(dn: &str) -> String {
    let cn = dn.split(", ").find(|p| p.starts_with("CN="));
    printable(cn.unwrap_or(dn), 60)
}

pub(super) fn completed_tls(
    obs: &Observation,
    facts: &TlsFacts,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Triple {
    let version = facts.version_label().replace("TLSv", "TLS ");
    let leaf = describe_leaf(facts);
    let top_issuer = facts
        .chain
        .last()
        .map(|c| short_name(&c.issuer))
        .unwrap_or_default();
    match obs.path.cert {
        CertPolicy::Internal => (Verdict::Ok, format!("{version}, {leaf}"), None),
        CertPolicy::Public | CertPolicy::External if facts.public.is_trusted() => (
            Verdict::Ok,
            format!("{version}, publicly trusted ({leaf})"),
            None,
        ),
        CertPolicy::Public if facts.os.is_trusted() || os_knows_the_issuer(facts) => {
            findings.push(Finding::warning(
                FindingKind::LocalRoot,
                format!(
                    "the chain ends at {top_issuer}, which this machine trusts but the public roots do not: a locally installed root, as TLS-inspecting antivirus and UTM products install"
                ),
            ));
            (
                Verdict::Intercepted,
                format!("certificate from a locally trusted root ({top_issuer}), not a public CA"),
                Some(format!(
                    "a proxy or antivirus on the way re-signs {}'s certificate: exclude {}:{} from SSL/TLS inspection",
                    hop.host, hop.host, hop.port
                )),
            )
        }
        CertPolicy::Public => {
            let why = untrusted_reason(facts);
            (
                Verdict::TlsFailed,
                format!("the certificate is not publicly trusted: {why}"),
                Some(format!(
                    "{} must present a publicly trusted certificate; if a proxy re-signs it, exclude {} from TLS inspection",
                    hop.host, hop.host
                )),
            )
        }
        CertPolicy::External if facts.os.is_trusted() => (
            Verdict::Ok,
            format!("{version}, trusted by this machine's store ({leaf})"),
            None,
        ),
        CertPolicy::External if broken_beyond_issuer(facts) => {
            let why = untrusted_reason(facts);
            (
                Verdict::TlsFailed,
                format!("{version}, {why}"),
                Some(cert_fix(facts, hop)),
            )
        }
        CertPolicy::External => {
            let self_signed = facts.chain.first().is_some_and(|c| c.self_signed);
            let (what, short) = if self_signed {
                (
                    format!("{leaf}, trusted neither by the public roots nor by this machine"),
                    format!("untrusted {leaf}"),
                )
            } else {
                let why = untrusted_reason(facts);
                (
                    format!("{leaf}: {why}"),
                    format!("untrusted certificate: {why}"),
                )
            };
            findings.push(Finding::warning(
                FindingKind::UntrustedChain,
                if obs.path.source == crate::config::Role::Client {
                    format!("{what}; users' mail clients and browsers will warn")
                } else {
                    format!("{what}; MailStore accepts it only if told to ignore certificate errors for this server")
                },
            ));
            (Verdict::Ok, format!("{version}, {short}"), None)
        }
    }
}

/// The next step for a certificate that does not fit: by what is wrong with it.
pub(super) fn cert_fix(facts: &TlsFacts, hop: &Hop) -> String {
    let problems = [&facts.public, &facts.os].map(|t| match t {
        Trust::Untrusted { problem, .. } => Some(*problem),
        Trust::Trusted => None,
    });
    let has = |p: CertProblem| problems.contains(&Some(p));
    let names = facts
        .chain
        .first()
        .map(|c| c.san.join(", "))
        .unwrap_or_default();
    if has(CertProblem::NameMismatch) && names.is_empty() {
        format!(
            "reissue the certificate of {} with a subjectAltName for the name MailStore uses",
            hop.host
        )
    } else if has(CertProblem::NameMismatch) {
        format!(
            "use the name the certificate of {} was issued for ({names}), or reissue it for {}",
            hop.host, hop.host
        )
    } else if has(CertProblem::Validity) {
        format!(
            "renew the certificate of {} (check its dates and this machine's clock)",
            hop.host
        )
    } else {
        format!("replace the certificate of {}", hop.host)
    }
}

/// The public roots do not know the issuer, but this machine's store got past it and failed
/// only on the name (the chain is built before the name is checked): a locally trusted root
/// whose certificate does not even fit the name, as an interceptor reached by address makes.
pub(super) fn os_knows_the_issuer(facts: &TlsFacts) -> bool {
    matches!(
        (&facts.public, &facts.os),
        (
            Trust::Untrusted {
                problem: CertProblem::UnknownIssuer,
                ..
            },
            Trust::Untrusted {
                problem: CertProblem::NameMismatch,
                ..
            }
        )
    )
}

/// A wrong name, an expired or revoked certificate: MailStore fails on these even where it
/// accepts an unknown issuer.
pub(super) fn broken_beyond_issuer(facts: &TlsFacts) -> bool {
    [&facts.public, &facts.os].iter().any(|t| {
        matches!(
            t,
            Trust::Untrusted {
                problem: CertProblem::NameMismatch | CertProblem::Validity | CertProblem::Revoked,
                ..
            }
        )
    })
}

/// Why the chain is untrusted, the most telling answer first: "unknown CA" only when neither
/// judge found something more specific (a name, a date).
pub(super) fn untrusted_reason(facts: &TlsFacts) -> String {
    let untrusted = |t: &Trust| match t {
        Trust::Untrusted { problem, reason } => Some((*problem, reason.clone())),
        Trust::Trusted => None,
    };
    // A name, a date, a revocation: what the admin must fix first. (`Other` is not: on
    // Windows the OS engine's errors come as bare codes.)
    let specific = |t: &Trust| {
        untrusted(t).filter(|(p, _)| {
            matches!(
                p,
                CertProblem::NameMismatch | CertProblem::Validity | CertProblem::Revoked
            )
        })
    };
    let has_specific = specific(&facts.public).is_some() || specific(&facts.os).is_some();
    let (problem, mut why) = specific(&facts.public)
        .or_else(|| specific(&facts.os))
        .or_else(|| untrusted(&facts.public))
        .or_else(|| untrusted(&facts.os))
        .map_or((None, "not trusted".to_string()), |(p, r)| (Some(p), r));
    // Unknown issuer, and the chain does not end at a root: the intermediate may be missing.
    if let Some(top) = facts.chain.last().filter(|c| !c.self_signed) {
        let unknown = !has_specific
            && !facts.os.is_trusted()
            && matches!(
                facts.public,
                Trust::Untrusted {
                    problem: CertProblem::UnknownIssuer,
                    ..
                }
            );
        if unknown {
            why = format!(
                "issued by {}, which is neither in the chain the server sent nor a trusted root: a missing intermediate certificate on the server, or a private CA",
                short_name(&top.issuer)
            );
        }
    }
    // A name check fails on a certificate that names its host only in the CN.
    if let Some(leaf) = facts.chain.first() {
        if leaf.san.is_empty() && problem == Some(CertProblem::NameMismatch) {
            why = format!(
                "{why} (it has no subjectAltName; its subject is {}, and TLS clients ignore the CN)",
                short_name(&leaf.subject)
            );
        }
    }
    why
}

/// The certificate of the chain that expires first, when it has expired or expires within
/// the warning window (DESIGN issue 11: SPE pins thumbprints, so a renewal is an event the
/// admin must see coming). Judged on every path that got a chain, whatever its policy: an
/// internal, self-signed certificate expires too.
pub(super) fn expiry(facts: &TlsFacts, expiry: super::Expiry) -> Option<Finding> {
    let (i, cert, at) = facts
        .chain
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.not_after_time().map(|t| (i, c, t)))
        .min_by_key(|(_, _, t)| *t)?;
    let which = if i == 0 {
        format!("the certificate {}", short_name(&cert.subject))
    } else {
        format!("the chain's CA certificate {}", short_name(&cert.subject))
    };
    let date = at.date();
    let left = at - expiry.now;
    if left.is_negative() {
        let ago = (-left).whole_days();
        let ago = match ago {
            0 => "today".to_string(),
            1 => "1 day ago".to_string(),
            n => format!("{n} days ago"),
        };
        return Some(Finding::warning(
            FindingKind::CertExpired,
            format!("{which} expired {ago} ({date}); sha1 {}", cert.sha1),
        ));
    }
    if left > time::Duration::days(i64::from(expiry.warn_days)) {
        return None;
    }
    let days = match left.whole_days() {
        0 => "today".to_string(),
        1 => "in 1 day".to_string(),
        n => format!("in {n} days"),
    };
    Some(Finding::warning(
        FindingKind::CertExpiring,
        format!(
            "{which} expires {days} ({date}); its renewal changes the thumbprint SPE pins (sha1 {})",
            cert.sha1
        ),
    ))
}
