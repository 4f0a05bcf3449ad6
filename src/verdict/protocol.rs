//! Judging what the protocol said: the dialogue machines' failures, STARTTLS policy, the
//! HTTP answer.

use std::fmt::Write as _;

use super::{Finding, FindingKind, Hop, Triple, Verdict};
use crate::config::profile::{Expect, ProbeKind, StartTlsPolicy};
use crate::observation::{Observation, ProtocolEnd};
use crate::probe::http::HttpHead;
use crate::probe::starttls::{DialogueStep, Failure, Transcript};
use crate::sanitize::printable;

/// The protocol's verdict when something went wrong, or `None` when the dialogue is fine.
/// Findings that do not change the verdict are pushed.
pub(super) fn judge(obs: &Observation, hop: &Hop, findings: &mut Vec<Finding>) -> Option<Triple> {
    if let Some(end) = &obs.protocol_end {
        if let Some(t) = ended(end, obs, hop, findings) {
            return Some(t);
        }
    }
    if let Some(f) = &obs.dialogue_failure {
        if let Some(t) = failed(f, obs, hop, findings) {
            return Some(t);
        }
    }
    if let Some(t) = obs
        .dialogue
        .as_ref()
        .and_then(|d| starttls(d, obs, hop, findings))
    {
        return Some(t);
    }
    match &obs.http {
        Some(Err(f)) => failed(f, obs, hop, findings),
        Some(Ok(head)) => http(head, obs, hop),
        None => None,
    }
}

/// The words for an ok row: what the protocol showed.
pub(super) fn summary(obs: &Observation) -> Option<String> {
    if let Some(Ok(head)) = &obs.http {
        let schemes = head.auth_schemes();
        let mut s = format!("HTTP {}", head.status);
        if !schemes.is_empty() {
            let _ = write!(s, " {}", schemes.join(", "));
        }
        if let Some(server) = head.server() {
            let _ = write!(s, " ({})", printable(server, 40));
        }
        return Some(s);
    }
    let d = obs.dialogue.as_ref()?;
    let greeting = d.greeting.as_deref().map(|g| {
        // A responder's statement is evidence, not news: show the words after it.
        let shown = match g
            .find(crate::e2e::MAGIC)
            .and_then(|i| g[i..].find(']').map(|j| i + j))
        {
            Some(end) => format!("* OK {}", g[end + 1..].trim_start()),
            None => g.to_string(),
        };
        format!("\"{}\"", printable(&shown, 50))
    });
    match obs.path.probe {
        ProbeKind::ImapStarttls | ProbeKind::Pop3Stls | ProbeKind::LdapStarttls if d.upgraded => {
            Some("STARTTLS".to_string())
        }
        ProbeKind::LdapStarttls => Some("LDAP answered, without StartTLS".to_string()),
        ProbeKind::Ldaps => Some(format!(
            "LDAP root DSE{}",
            d.capabilities
                .iter()
                .find(|c| c.to_ascii_lowercase().starts_with("vendorname="))
                .map(|v| format!(" ({})", printable(v, 40)))
                .unwrap_or_default()
        )),
        _ => greeting,
    }
}

fn ended(
    end: &ProtocolEnd,
    obs: &Observation,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    let hp = format!("{}:{}", hop.host, hop.port);
    Some(match end {
        // The work was done; a server that does not answer LOGOUT / QUIT in time is not a
        // broken path.
        ProtocolEnd::TimedOut {
            step: DialogueStep::Logout | DialogueStep::Quit,
            overall: false,
        }
        | ProtocolEnd::Io {
            step: DialogueStep::Logout | DialogueStep::Quit,
            ..
        } => return None,
        ProtocolEnd::TimedOut { step, .. } if first_step(obs, *step) => (
            Verdict::NoService,
            format!("TCP accepted, but nothing answered {}{}", proto_name(obs), hop.timeout_text),
            Some(format!(
                "something accepts connections on {hp} but does not speak {}: a middlebox that accepts every port, or a hung service",
                proto_name(obs)
            )),
        ),
        // It greeted: something speaks the protocol, and then stops.
        ProtocolEnd::TimedOut { step, .. }
            if obs.dialogue.as_ref().is_some_and(|d| d.greeting.is_some()) =>
        {
            (
                Verdict::ProtocolError,
                format!(
                    "the {} server greeted, then stalled at {step}{}",
                    proto_name(obs),
                    hop.timeout_text
                ),
                Some(format!("the service on {hp}, or a proxy in between, stops answering mid-dialogue: check its log")),
            )
        }
        ProtocolEnd::TimedOut { step, .. } => (
            Verdict::NoService,
            format!("the {} dialogue stalled at {step}{}", proto_name(obs), hop.timeout_text),
            Some(format!("the service on {hp}, or a proxy in between, stops answering mid-dialogue")),
        ),
        ProtocolEnd::Io { step, detail } => (
            Verdict::ProtocolError,
            format!("the connection failed during {step}: {}", printable(detail, 80)),
            Some(format!("a firewall, IPS or proxy in between, or the service on {hp}, cut the {} dialogue", proto_name(obs))),
        ),
        ProtocolEnd::Tls(f) => {
            let (v, reason, hint) = super::tls::tls_failure(f, hop);
            let starttls = obs.path.probe.is_starttls();
            if v == Verdict::Ok {
                // A client certificate asked for on an internal port: open, with a warning.
                findings.push(Finding::warning(FindingKind::ClientCertRequired, reason));
                return None;
            }
            let hint = match f {
                crate::observation::TlsFailure::NotTls { .. } if starttls => Some(format!(
                    "the server agreed to STARTTLS, then answered in plain text: its TLS setup is broken (see its answer), or a middlebox in between interferes — check {hp}'s TLS configuration and log"
                )),
                _ => hint,
            };
            let when = if starttls { "after STARTTLS" } else { "after the TLS handshake" };
            (v, format!("{when}: {reason}"), hint)
        }
    })
}

/// Whether `step` is the first answer the probe waits for: silence there means nothing
/// speaks the protocol at all.
fn first_step(obs: &Observation, step: DialogueStep) -> bool {
    let first = match obs.path.probe {
        ProbeKind::LdapStarttls => DialogueStep::StartTls,
        ProbeKind::Ldaps => DialogueStep::RootDse,
        ProbeKind::Https => DialogueStep::HttpHead,
        ProbeKind::Tcp | ProbeKind::Tls => return false,
        ProbeKind::Imaps | ProbeKind::ImapStarttls | ProbeKind::Pop3s | ProbeKind::Pop3Stls => {
            DialogueStep::Greeting
        }
    };
    step == first
}

fn proto_name(obs: &Observation) -> &'static str {
    match obs.path.probe {
        ProbeKind::Imaps | ProbeKind::ImapStarttls => "IMAP",
        ProbeKind::Pop3s | ProbeKind::Pop3Stls => "POP3",
        ProbeKind::Ldaps | ProbeKind::LdapStarttls => "LDAP",
        ProbeKind::Https => "HTTP",
        ProbeKind::Tls => "TLS",
        ProbeKind::Tcp => "TCP",
    }
}

fn failed(
    f: &Failure,
    obs: &Observation,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    let hp = format!("{}:{}", hop.host, hop.port);
    let other_service = Some(format!(
        "another service, or a proxy, answers on {hp} instead of {} {}",
        hop.target_title,
        proto_name(obs)
    ));
    Some(match f {
        Failure::Closed { during } if first_step(obs, *during) => (
            Verdict::NoService,
            format!("TCP accepted, then closed or reset with no {} answer", proto_name(obs)),
            Some(format!("something on {hp} accepts and closes at once: a middlebox, a connection limit, or an access rule of the service")),
        ),
        Failure::Closed { during } => (
            Verdict::ProtocolError,
            format!("the peer closed the connection during {during}"),
            Some(format!("the service on {hp}, or a proxy in between, ends the {} dialogue early", proto_name(obs))),
        ),
        Failure::NotProtocol { expected, seen, looks_like } => (
            Verdict::ProtocolError,
            format!(
                "expected {expected}, got \"{}\"{}",
                printable(seen, 60),
                looks_like.map(|l| format!(" (looks like {l})")).unwrap_or_default()
            ),
            other_service,
        ),
        Failure::LineTooLong { limit } => (
            Verdict::ProtocolError,
            format!("the peer sent a line longer than {limit} bytes"),
            other_service,
        ),
        Failure::TooMuchData { limit } => (
            Verdict::ProtocolError,
            format!("the peer sent more than {limit} bytes"),
            other_service,
        ),
        Failure::StartTlsRefused { response } => {
            if let Some(t) = obs.dialogue.as_ref().and_then(|d| masked(d, obs, hop, findings)) {
                return Some(t);
            }
            let what = if obs.path.probe == ProbeKind::LdapStarttls {
                // LDAP does not list StartTLS before it is asked: a refusal is "not supported".
                format!("the server does not support StartTLS: \"{}\"", printable(response, 80))
            } else {
                format!("STARTTLS was offered, then refused: \"{}\"", printable(response, 80))
            };
            return starttls_missing(obs, hop, findings, &what);
        }
        Failure::Rejected { response } if super::tls::busy(response.as_bytes()).is_some() => {
            super::tls::busy_responder(response.as_bytes(), hop)
        }
        Failure::Rejected { response } => (
            Verdict::ProtocolError,
            format!("the server rejected the session: \"{}\"", printable(response, 80)),
            Some(format!("the service on {hp} refuses this client: check its access rules and connection limits")),
        ),
        Failure::Malformed { detail } => (
            Verdict::ProtocolError,
            format!("malformed {} answer: {}", proto_name(obs), printable(detail, 80)),
            other_service,
        ),
        _ => return None,
    })
}

fn starttls(
    d: &Transcript,
    obs: &Observation,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    if d.injected_after_upgrade > 0 {
        findings.push(Finding::warning(
            FindingKind::StarttlsInjection,
            format!(
                "{} bytes followed the STARTTLS go-ahead before TLS began (\"{}\"): a buggy server or a middlebox",
                d.injected_after_upgrade,
                printable(d.injected_preview.as_deref().unwrap_or(""), 40)
            ),
        ));
    }
    // Said already, by the refusal itself.
    if !obs.path.probe.is_starttls()
        || findings
            .iter()
            .any(|f| f.kind == FindingKind::StarttlsMissing)
    {
        return None;
    }
    if let Some(t) = masked(d, obs, hop, findings) {
        return Some(t);
    }
    if d.upgraded {
        return hidden(d, obs, hop, findings);
    }
    let caps = if d.capabilities.is_empty() {
        "no capabilities listed".to_string()
    } else {
        format!(
            "capabilities: {}",
            printable(&d.capabilities.join(" "), 120)
        )
    };
    let what = match obs.path.probe {
        ProbeKind::Pop3Stls if d.starttls_offered.is_none() => {
            format!("the server lists no capabilities (CAPA refused), so STLS is unknown; {caps}")
        }
        ProbeKind::LdapStarttls => "StartTLS was not completed".to_string(),
        _ => format!("STARTTLS is not offered ({caps})"),
    };
    // Sent anyway: the server's own answer says whether it has no TLS at all.
    let what = match d.starttls_response.as_deref() {
        Some(r) if obs.path.probe != ProbeKind::LdapStarttls => {
            format!(
                "{what}; sent anyway, it was answered \"{}\"",
                printable(r, 60)
            )
        }
        _ => what,
    };
    starttls_missing(obs, hop, findings, &what)
}

/// The upgrade command of a STARTTLS probe, and how a middlebox masks it (one `X` a letter,
/// as the SMTP inspection of some firewalls masks `STARTTLS` in EHLO answers).
fn upgrade_command(probe: ProbeKind) -> Option<&'static str> {
    match probe {
        ProbeKind::ImapStarttls => Some("STARTTLS"),
        ProbeKind::Pop3Stls => Some("STLS"),
        _ => None,
    }
}

/// The server quotes our upgrade command as `XXXXXXXX`, or its capability list carries that
/// word where STARTTLS would be: something on the way overwrites it. Certain, on any path.
fn masked(
    d: &Transcript,
    obs: &Observation,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    let command = upgrade_command(obs.path.probe)?;
    let is_mask = |w: &str| w.len() == command.len() && w.bytes().all(|b| b == b'X' || b == b'x');
    let in_answer = d
        .starttls_response
        .as_deref()
        .filter(|r| r.split(|c: char| !c.is_ascii_alphanumeric()).any(is_mask))
        .map(|r| {
            format!(
                "the server answered our {command} with \"{}\"",
                printable(r, 80)
            )
        });
    let in_list = || {
        d.capabilities
            .iter()
            .find(|c| c.split(' ').next().is_some_and(is_mask))
            .map(|c| {
                format!(
                    "the capability list names \"{}\" where {command} would be",
                    printable(c, 20)
                )
            })
    };
    let what = in_answer.or_else(in_list)?;
    findings.push(Finding::warning(
        FindingKind::StarttlsMasked,
        format!("{what}: a middlebox overwrites {command} on the way"),
    ));
    let hp = format!("{}:{}", hop.host, hop.port);
    Some((
        Verdict::Intercepted,
        format!("{command} masked on the way: {what}"),
        Some(format!(
            "a firewall's or antivirus' mail inspection between this machine and {hp} rewrites the session: turn that inspection off for {hp}"
        )),
    ))
}

/// The upgrade worked although the capability list did not name it: the list was edited on
/// the way (a required path: MailStore's own IMAP always lists it), or the server hides it.
fn hidden(
    d: &Transcript,
    obs: &Observation,
    hop: &Hop,
    findings: &mut Vec<Finding>,
) -> Option<Triple> {
    if d.starttls_offered != Some(false) {
        return None;
    }
    let command = upgrade_command(obs.path.probe).unwrap_or("STARTTLS");
    let what = format!(
        "{command} works, but the capability list before it does not name it ({})",
        printable(&d.capabilities.join(" "), 120)
    );
    let hp = format!("{}:{}", hop.host, hop.port);
    if obs.path.starttls == Some(StartTlsPolicy::Required) {
        findings.push(Finding::warning(FindingKind::StarttlsHidden, what.clone()));
        return Some((
            Verdict::Intercepted,
            format!("{what}; something on the way edits the IMAP session"),
            Some(format!(
                "MailStore's IMAP on {hp} always lists STARTTLS: a mail proxy or antivirus mail shield in between edits the session — exclude {hp} from mail scanning"
            )),
        ));
    }
    findings.push(Finding::warning(
        FindingKind::StarttlsHidden,
        format!("{what}: the server hides it, or a middlebox edits the list"),
    ));
    None
}

/// STARTTLS missing or refused: a middlebox strips it where the path requires it; where it is
/// optional, archiving would run unencrypted.
fn starttls_missing(
    obs: &Observation,
    hop: &Hop,
    findings: &mut Vec<Finding>,
    what: &str,
) -> Option<Triple> {
    let hp = format!("{}:{}", hop.host, hop.port);
    match obs.path.starttls {
        Some(StartTlsPolicy::Required) => {
            findings.push(Finding::warning(
                FindingKind::StarttlsMissing,
                what.to_string(),
            ));
            Some((
                Verdict::Intercepted,
                format!("{what}; this path requires STARTTLS"),
                Some(format!(
                    "MailStore's IMAP on {hp} always offers STARTTLS: a mail proxy or antivirus mail shield in between removes it — exclude {hp} from mail scanning"
                )),
            ))
        }
        Some(StartTlsPolicy::Optional) | None => {
            let login_disabled = obs.dialogue.as_ref().is_some_and(|d| {
                d.capabilities
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case("LOGINDISABLED"))
            });
            let detail = if login_disabled {
                // RFC 3501: LOGINDISABLED means "log in only after STARTTLS" — yet there is none.
                format!("{what}, yet the server forbids logins without TLS (LOGINDISABLED): archiving from {hp} cannot log in on this port; a middlebox in between most likely removed STARTTLS")
            } else {
                format!("{what}: archiving from {hp} would run unencrypted")
            };
            findings.push(Finding::warning(FindingKind::StarttlsMissing, detail));
            None
        }
    }
}

fn http(head: &HttpHead, obs: &Observation, hop: &Hop) -> Option<Triple> {
    let hp = format!("{}:{}", hop.host, hop.port);
    match obs.path.expect {
        Some(Expect::AuthChallenge) => {
            let schemes = head.auth_schemes();
            if head.status == 401 && !schemes.is_empty() {
                return None;
            }
            let got = describe(head);
            let mut hint = format!(
                "check that {hp} is the Exchange server (EWS at {}) and that no proxy or login portal answers in its place",
                obs.path.http_path.as_deref().unwrap_or("/")
            );
            if hop.by_address && matches!(head.status, 400 | 403 | 421) {
                let _ = write!(
                    hint,
                    "; a server that needs a host name (SNI) answers {} to an address: give its DNS name",
                    head.status
                );
            }
            Some((
                Verdict::ProtocolError,
                format!("expected 401 with WWW-Authenticate from Exchange Web Services, got {got}"),
                Some(hint),
            ))
        }
        Some(Expect::AnyHttp) | None => None,
    }
}

/// `200 (text/html, Server: nginx)`, `302 → https://portal/…`, `401 without WWW-Authenticate`.
fn describe(head: &HttpHead) -> String {
    let mut s = format!("{} {}", head.status, printable(&head.reason, 30));
    if head.status == 401 && head.auth_schemes().is_empty() {
        s.push_str(" without a WWW-Authenticate header");
    }
    if let Some(loc) = head.header("location") {
        let _ = write!(s, " → {}", printable(loc, 60));
    }
    let mut extra = Vec::new();
    if let Some(ct) = head.header("content-type") {
        extra.push(printable(ct, 30));
    }
    if let Some(server) = head.server() {
        extra.push(format!("Server: {}", printable(server, 30)));
    }
    if !extra.is_empty() {
        let _ = write!(s, " ({})", extra.join(", "));
    }
    s
}
