//! Judges an [`Observation`]: one verdict per path, a one-line reason, a hint that names
//! the hop and the likely fix, and findings. Exhaustive matches only; no I/O.

mod across;
mod finding;
mod intercept;
mod protocol;

pub use across::{judge_run, Judged, Row};
pub use finding::{Finding, FindingKind};

use rustls::AlertDescription;
use serde::Serialize;

use crate::config::profile::CertPolicy;
use crate::config::HostSpec;
use crate::observation::{
    CertProblem, ConnectFailure, DnsFailure, Observation, Outcome, TlsFacts, TlsFailure, Trust,
};
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
}

impl Verdict {
    pub const ALL: [Verdict; 10] = [
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
        Outcome::Cancelled => (
            Verdict::Skipped,
            "cancelled before it finished (Ctrl-C)".to_string(),
            None,
        ),
        Outcome::Dns(f) if hop.proxy.is_some() => proxy_dns(f, &hop),
        Outcome::Connect(f) if hop.proxy.is_some() => proxy_connect(f, &hop),
        Outcome::Dns(f) => dns(f, &hop),
        Outcome::Connect(f) => connect(f, &hop),
        // Refused our TLS, then showed its legacy version, suite and chain.
        Outcome::Tls(_) if obs.tls.is_some() => legacy_tls(obs, ctx, &hop, &mut findings),
        Outcome::Tls(f) => {
            let t = tls_failure(f, &hop);
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
        Outcome::Completed => completed(obs, ctx, &hop, &mut findings),
    };
    intercept::canary(obs, &hop, &mut findings);
    // The same evidence found twice (by two judges) is shown once.
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert((f.kind, f.detail.clone())));
    let severity = match verdict {
        Verdict::Skipped => Severity::Skip,
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
            .and_then(|f| warning_hint(f.kind, obs, &hop))
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
/// connected on its first address), else when the path comes out `no-service` — does a port
/// of the same host where nothing should listen answer too?
#[must_use]
pub fn needs_canary(obs: &Observation, ctx: &Context, canary_always: bool) -> bool {
    obs.address.is_some()
        && (canary_always && obs.timings.connect.is_some() && obs.other_attempts.is_empty()
            || classify(obs, ctx).verdict == Verdict::NoService)
}

/// The next step for a warning on a path that works.
fn warning_hint(kind: FindingKind, obs: &Observation, hop: &Hop) -> Option<String> {
    let source = obs.path.source;
    let hp = format!("{}:{}", hop.host, hop.port);
    let implicit = match obs.path.probe {
        crate::config::profile::ProbeKind::ImapStarttls => "993 (IMAPS)",
        crate::config::profile::ProbeKind::Pop3Stls => "995 (POP3S)",
        crate::config::profile::ProbeKind::LdapStarttls => "636 (LDAPS)",
        _ => "implicit-TLS port",
    };
    Some(match kind {
        FindingKind::UntrustedChain if source == crate::config::Role::Client => format!(
            "give {} a certificate from a CA that the users' machines trust (a public CA, or your domain's CA rolled out to them)",
            hop.host
        ),
        FindingKind::UntrustedChain => format!(
            "give {} a certificate from a CA this machine trusts, or set MailStore to accept this one",
            hop.host
        ),
        FindingKind::StarttlsMissing => format!(
            "enable STARTTLS on {hp} (or find what removes it on the way), or archive over {implicit} instead"
        ),
        FindingKind::LegacyTls => format!(
            "enable ECDHE with AES-GCM (TLS 1.2) or TLS 1.3 on {hp}: the suites it has now are deprecated"
        ),
        FindingKind::ClientCertRequired => format!(
            "nothing to do if {hp} is MailStore's own service (its peers present their certificates); otherwise check which service asks for client certificates there"
        ),
        FindingKind::StarttlsHidden => format!(
            "ask {}'s admin whether STARTTLS is hidden on purpose; if not, a middlebox edits the session: run the check from another network to find it",
            hop.host
        ),
        FindingKind::Resigned => format!(
            "if the deployment's own CA issued this certificate, pin its thumbprint (--pin {hp}=SHA1); otherwise exclude {hp} from TLS inspection"
        ),
        FindingKind::ProxyHeader => format!(
            "an HTTP proxy handles the connection to {hp}: make sure it does not inspect or block MailStore's traffic"
        ),
        FindingKind::StarttlsInjection => format!(
            "a server or middlebox on the way to {hp} sends data before TLS starts: update the server, or remove the middlebox"
        ),
        FindingKind::Nat => format!(
            "a NAT on the way to {hp} is fine; a proxy is not: check which one it is"
        ),
        FindingKind::CanaryOpen => format!(
            "a middlebox answers every port on the way to {}: find it (firewall SYN proxy, antivirus) and exempt MailStore's ports",
            hop.host
        ),
        // The verdict's own hint covers these, or there is nothing to do.
        FindingKind::LocalTarget
        | FindingKind::LocalRoot
        | FindingKind::PinMatch
        | FindingKind::PinMismatch
        | FindingKind::InterceptionCa
        | FindingKind::BannerSignature
        | FindingKind::StarttlsMasked
        | FindingKind::E2eVerified
        | FindingKind::E2eMismatch
        | FindingKind::E2eUnproven
        | FindingKind::E2eUnreadable
        | FindingKind::BannerRewritten
        | FindingKind::CertDiffers => return None,
    })
}

/// The hop, in words for hints.
pub(crate) struct Hop {
    from: String,
    host: String,
    ip: String,
    port: u16,
    target_title: &'static str,
    timeout_text: String,
    /// The target was given as an address, so no server name (SNI) was sent.
    by_address: bool,
    /// An internal port (847x), where MailStore's own peers talk to each other.
    internal: bool,
    /// The HTTP proxy this probe went through (`http://proxy:3128`).
    proxy: Option<String>,
}

impl Hop {
    fn new(obs: &Observation, origin: &Context) -> Self {
        Self {
            from: format!("{} ({})", origin.hostname, origin.role_label),
            host: obs
                .host
                .as_ref()
                .map_or_else(|| "—".to_string(), HostSpec::display_host),
            ip: obs.address.map(|a| a.ip().to_string()).unwrap_or_default(),
            port: obs.port,
            target_title: obs.path.target.title(),
            timeout_text: format!(" within {}", crate::sanitize::duration(origin.timeout)),
            by_address: obs
                .host
                .as_ref()
                .is_some_and(|h| matches!(h.host, crate::config::Host::Ip(_))),
            internal: obs.path.cert == CertPolicy::Internal,
            proxy: obs.via_proxy.clone(),
        }
    }
    fn host_ip(&self) -> String {
        if self.ip.is_empty() || self.ip == self.host {
            self.host.clone()
        } else {
            format!("{} ({})", self.host, self.ip)
        }
    }
}

pub(crate) type Triple = (Verdict, String, Option<String>);

fn dns(f: &DnsFailure, hop: &Hop) -> Triple {
    let h = &hop.host;
    let (reason, hint) = match f {
        DnsFailure::NxDomain => (
            format!("{h} does not exist in DNS (NXDOMAIN)"),
            format!("add an A/AAAA record for {h} to the DNS that {} uses, or give the FQDN or an address", hop.from),
        ),
        DnsFailure::NoAddress => (
            format!("{h} exists in DNS but has no A or AAAA record"),
            format!("add an A/AAAA record for {h}, or give an address"),
        ),
        DnsFailure::ServerFailure { code } => (
            format!("the DNS server answered {code} for {h}"),
            format!("the DNS server of {} could not resolve {h}: check its forwarders and the zone's servers (split DNS?)", hop.from),
        ),
        DnsFailure::Timeout => (
            format!("no DNS server answered for {h} in time"),
            format!("check that {} reaches its DNS servers on UDP and TCP 53", hop.from),
        ),
        DnsFailure::Other(why) => (
            format!("{h} could not be resolved: {}", printable(why, 160)),
            "check this machine's DNS configuration".to_string(),
        ),
    };
    (Verdict::Dns, reason, Some(hint))
}

/// The proxy's own name did not resolve.
fn proxy_dns(f: &DnsFailure, hop: &Hop) -> Triple {
    let proxy = hop.proxy.as_deref().unwrap_or("the proxy");
    (
        Verdict::Dns,
        format!("the proxy's name in {proxy} does not resolve ({})", f.short()),
        Some(format!(
            "check the proxy setting of {} (HTTPS_PROXY, `netsh winhttp show proxy`, Internet Options): is the name right, and known to this machine's DNS?",
            hop.from
        )),
    )
}

/// A probe through an HTTP proxy that did not get a tunnel: the proxy is the hop.
fn proxy_connect(f: &ConnectFailure, hop: &Hop) -> Triple {
    let proxy = hop.proxy.as_deref().unwrap_or("the proxy");
    let target = format!("{}:{}", hop.host, hop.port);
    let setting =
        "check the proxy setting (HTTPS_PROXY, `netsh winhttp show proxy`, Internet Options)";
    match f {
        ConnectFailure::Refused => (
            Verdict::Refused,
            format!("the proxy {proxy} refused the connection (TCP reset): nothing listens there"),
            Some(format!("{setting}: is {proxy} the right address and port, and is the proxy running?")),
        ),
        ConnectFailure::TimedOut => (
            Verdict::Filtered,
            format!("no answer from the proxy {proxy}{} (to TCP, or to CONNECT {target})", hop.timeout_text),
            Some(format!("check that {} reaches {proxy} and that the proxy answers CONNECT; {setting}", hop.from)),
        ),
        ConnectFailure::Unreachable { detail } => (
            Verdict::Unreachable,
            format!("the proxy {proxy}: {detail}"),
            Some(format!("a router or firewall between {} and the proxy {proxy} says unreachable", hop.from)),
        ),
        ConnectFailure::ProxyRefused {
            status: Some(407),
            line,
        } => (
            Verdict::Refused,
            format!("the proxy {proxy} requires authentication (\"{}\")", printable(line, 60)),
            Some(format!(
                "give MailStore the proxy's credentials, or let {} through {proxy} without them (mssp-check never sends credentials)",
                hop.from
            )),
        ),
        ConnectFailure::ProxyRefused { status: None, line } => (
            Verdict::ProtocolError,
            format!("{proxy} answered \"{}\" to CONNECT: not an HTTP proxy", printable(line, 60)),
            Some(format!("{setting}: something other than an HTTP proxy listens on {proxy}")),
        ),
        ConnectFailure::ProxyRefused {
            status: Some(_),
            line,
        } => (
            Verdict::Refused,
            format!("the proxy {proxy} answered \"{}\" to CONNECT {target}", printable(line, 60)),
            Some(format!(
                "the HTTP proxy does not let {} through to {target}: allow CONNECT to it on the proxy (and exclude it from TLS inspection)",
                hop.from
            )),
        ),
        ConnectFailure::Other { detail } => (
            Verdict::Unreachable,
            format!("the proxy {proxy}: {}", printable(detail, 120)),
            Some(setting.to_string()),
        ),
    }
}

fn connect(f: &ConnectFailure, hop: &Hop) -> Triple {
    let (p, hi) = (hop.port, hop.host_ip());
    match f {
        ConnectFailure::Refused => (
            Verdict::Refused,
            "TCP reset: nothing listens, or a firewall rejects".to_string(),
            Some(format!(
                "check that {} on {} listens on TCP {p}; if it does, allow TCP {p} from {} to {hi} on the firewalls between them (one answers with a reset)",
                hop.target_title, hop.host, hop.from
            )),
        ),
        ConnectFailure::TimedOut => (
            Verdict::Filtered,
            format!("no answer to TCP SYN{}", hop.timeout_text),
            Some(format!(
                "allow TCP {p} from {} to {hi} on every firewall between them, including the host firewall of {} (a silent drop is a DROP rule)",
                hop.from, hop.host
            )),
        ),
        ConnectFailure::Unreachable { detail } => (
            Verdict::Unreachable,
            detail.clone(),
            Some(format!(
                "a router or firewall between {} and {hi} says unreachable: check the route and REJECT rules for TCP {p}",
                hop.from
            )),
        ),
        ConnectFailure::ProxyRefused { line, .. } => (
            Verdict::Refused,
            format!("the proxy answered \"{}\" to CONNECT {}:{p}", printable(line, 60), hop.host),
            Some(format!(
                "the HTTP proxy does not let {} through to {}:{p}: allow CONNECT to it on the proxy (and exclude it from TLS inspection)",
                hop.from, hop.host
            )),
        ),
        ConnectFailure::Other { detail } => (
            Verdict::Unreachable,
            printable(detail, 160),
            Some(format!("this machine could not open a connection to {hi}:{p}")),
        ),
    }
}

pub(crate) fn tls_failure(f: &TlsFailure, hop: &Hop) -> Triple {
    let hp = format!("{}:{}", hop.host, hop.port);
    match f {
        TlsFailure::Alert {
            description,
            client_cert_requested,
        } => alert(*description, *client_cert_requested, hop),
        TlsFailure::NotTls { seen } => {
            let what = crate::sanitize::looks_like(seen)
                .map(|k| format!(" (looks like {k})"))
                .unwrap_or_default();
            (
                Verdict::ProtocolError,
                format!("answered without TLS: \"{}\"{what}", printable(&String::from_utf8_lossy(seen), 60)),
                Some(format!("another service, or a proxy, answers on {hp} instead of {}", hop.target_title)),
            )
        }
        TlsFailure::Closed => (
            Verdict::TlsFailed,
            "the peer closed the connection during the TLS handshake".to_string(),
            Some(format!("the service on {hp} or a TLS-inspecting firewall in between dropped the handshake: check its log and TLS settings")),
        ),
        TlsFailure::Reset => (
            Verdict::TlsFailed,
            "the connection was reset during the TLS handshake".to_string(),
            Some(format!("an IPS or TLS-inspecting firewall, or the service on {hp}, reset the handshake")),
        ),
        TlsFailure::TimedOut => (
            Verdict::NoService,
            "TCP accepted, but no TLS answer came in time".to_string(),
            Some(format!("something accepts connections on {hp} but does not speak TLS: a middlebox that accepts every port, or a hung service")),
        ),
        TlsFailure::Other { detail } => (
            Verdict::TlsFailed,
            printable(detail, 160),
            Some(format!("check the TLS configuration of {hp}")),
        ),
    }
}

/// A server that refused this tool's TLS and chose, on a second look, a version or suite
/// that rustls does not speak: named, its chain judged as usual.
fn legacy_tls(obs: &Observation, ctx: &Context, hop: &Hop, findings: &mut Vec<Finding>) -> Triple {
    let hp = format!("{}:{}", hop.host, hop.port);
    let Some(facts) = &obs.tls else {
        return (Verdict::TlsFailed, "TLS failed".into(), None);
    };
    if let Some(t) = intercept::chain(obs, facts, ctx, hop, findings) {
        return t;
    }
    let version = facts.version_label().replace("TLSv", "TLS ");
    let what = format!("the server speaks only {version} with {}", facts.cipher);
    if facts.version != rustls::ProtocolVersion::TLSv1_2 {
        return (
            Verdict::TlsFailed,
            format!("{what}: TLS 1.0 and 1.1 are deprecated (RFC 8996)"),
            Some(format!(
                "enable TLS 1.2 or 1.3 on {hp}; current Windows versions (Server 2025, Windows 11) turn TLS 1.0/1.1 off, and MailStore then fails too"
            )),
        );
    }
    findings.push(Finding::warning(
        FindingKind::LegacyTls,
        format!("{what} (no forward secrecy, or no AEAD): Windows still accepts it; this tool checked the certificate, not the service behind TLS"),
    ));
    let (v, reason, hint) = completed_tls(obs, facts, hop, findings);
    (
        v,
        format!("{reason} — legacy suite {} only", facts.cipher),
        hint,
    )
}

/// A TLS alert from the server, in an admin's words: what it most likely means and the fix.
fn alert(description: AlertDescription, client_cert_requested: bool, hop: &Hop) -> Triple {
    let hp = format!("{}:{}", hop.host, hop.port);
    let plain = format!("the server ended the TLS handshake with alert {description:?}");
    let rejects_client = matches!(
        description,
        AlertDescription::CertificateRequired
            | AlertDescription::HandshakeFailure
            | AlertDescription::BadCertificate
            | AlertDescription::AccessDenied
            | AlertDescription::UnknownCA
    );
    if client_cert_requested && rejects_client {
        let reason = format!(
            "the server requires a client certificate (it asked for one; this tool has none) — alert {description:?}"
        );
        // MailStore's own peers may present certificates to each other: the path is open.
        // The caller files this as the warning `client-cert-required`, whose hint is the next
        // step.
        if hop.internal {
            return (
                Verdict::Ok,
                format!("{reason}; the TLS handshake reached the service"),
                None,
            );
        }
        return (
            Verdict::TlsFailed,
            reason,
            Some(format!("{hp} accepts only clients with a certificate: MailStore does not present one, so allow it without (or check that this is the right server)")),
        );
    }
    let (reason, hint) = match description {
        AlertDescription::ProtocolVersion => (
            "the server supports neither TLS 1.2 nor TLS 1.3 (only TLS 1.0/1.1 or SSL, deprecated by RFC 8996)".to_string(),
            format!("enable TLS 1.2 or 1.3 on {hp}; current Windows versions turn TLS 1.0/1.1 off too"),
        ),
        AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => (
            format!("{plain}: no cipher suite in common — the server likely offers only RSA key exchange, DHE or CBC suites"),
            format!("enable ECDHE with AES-GCM (TLS 1.2) or TLS 1.3 on {hp}"),
        ),
        AlertDescription::UnrecognisedName if hop.by_address => (
            format!("{plain}: the server needs a host name (SNI), and an address sends none"),
            format!("give the server's DNS name instead of {}", hop.host),
        ),
        AlertDescription::UnrecognisedName => (
            format!("{plain}: the server has no certificate for the name {}", hop.host),
            format!("use the name {hp} is configured for, or add {} to its certificate and configuration", hop.host),
        ),
        _ => (
            plain,
            format!("check the TLS configuration of {hp} (versions, ciphers, client certificates)"),
        ),
    };
    (Verdict::TlsFailed, reason, Some(hint))
}

/// A probe that ran to its end: the certificate first, then the protocol.
fn completed(obs: &Observation, ctx: &Context, hop: &Hop, findings: &mut Vec<Finding>) -> Triple {
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

fn completed_unproven(
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

fn describe_leaf(facts: &TlsFacts) -> String {
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
fn short_name(dn: &str) -> String {
    let cn = dn.split(", ").find(|p| p.starts_with("CN="));
    printable(cn.unwrap_or(dn), 60)
}

fn completed_tls(
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
fn cert_fix(facts: &TlsFacts, hop: &Hop) -> String {
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
fn os_knows_the_issuer(facts: &TlsFacts) -> bool {
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
fn broken_beyond_issuer(facts: &TlsFacts) -> bool {
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
fn untrusted_reason(facts: &TlsFacts) -> String {
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
