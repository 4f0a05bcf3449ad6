//! `mssp-check explain VERDICT|FINDING`: what a verdict or a finding means, what causes it,
//! and how to fix it. Every text of the command lives here; the one-line meaning of a
//! finding is [`FindingKind::summary`], shared with the rest of the tool.

use std::io::{self, Write};

use crate::verdict::{FindingKind, Verdict};

/// One word explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The label as the reports print it.
    pub word: &'static str,
    /// "verdict" or "finding".
    pub class: &'static str,
    pub means: &'static str,
    pub causes: &'static str,
    pub fix: &'static str,
}

/// The texts of a verdict (DESIGN §4).
#[must_use]
pub fn verdict(v: Verdict) -> Entry {
    let (means, causes, fix) = match v {
        Verdict::Ok => (
            "the path is reachable, and the protocol and TLS answered as expected",
            "nothing is wrong; a warning on an ok row (a finding) still asks for a look",
            "nothing to do; read the row's findings if it warns",
        ),
        Verdict::Refused => (
            "the target answered the connection with a TCP reset",
            "no service listens on the port (MailStore not installed, stopped, or on another port), or a firewall on the way rejects the connection",
            "check on the target that the service runs and listens (netstat -ano, Get-NetTCPConnection -State Listen, ss -ltn); if it does, open the port from this machine on the firewalls in between",
        ),
        Verdict::Filtered => (
            "the connection got no answer at all before the timeout",
            "a firewall drops the packets (Windows Firewall's default, a network firewall, a security group), or the host is down",
            "allow the port from this machine's address on every firewall between the two (the target's own firewall included); `mssp-check firewall --role ROLE` prints the inbound rules",
        ),
        Verdict::Unreachable => (
            "the network said there is no way to the target (ICMP host/network unreachable or administratively prohibited)",
            "a missing route, a wrong gateway, or a firewall that rejects with ICMP",
            "check the routes between the two machines (tracert / traceroute) and the firewall that sends the rejection",
        ),
        Verdict::Dns => (
            "the target's name did not resolve (the reason says which: no such name, no address, server failure, timeout)",
            "a typo, a record missing in the DNS zone this machine asks, split-horizon DNS, or an unreachable DNS server",
            "check the name with nslookup or Resolve-DnsName on this machine, add the record, or give the address instead",
        ),
        Verdict::Intercepted => (
            "something between this machine and the target terminates or rewrites the session; the findings name the evidence",
            "an antivirus or UTM gateway with TLS or mail inspection, a web proxy, or a re-signing security product; MailStore's channels must not be intercepted",
            "exclude the target's host and port from SSL/TLS and mail inspection on the product the findings name, then check again",
        ),
        Verdict::TlsFailed => (
            "the TLS handshake failed for a reason other than interception",
            "an expired or not-yet-valid certificate, a name that the certificate does not cover, an old TLS version or cipher, a missing intermediate certificate, or a server that needs a client certificate",
            "follow the reason: renew or reissue the certificate for the name MailStore uses, enable TLS 1.2 or 1.3, or install the intermediate certificate on the server",
        ),
        Verdict::NoService => (
            "the TCP connection was accepted, but nothing speaking the expected protocol answered",
            "a middlebox that accepts every connection (SYN proxy, transparent proxy) and stays silent or drops it without a byte, a service that hangs, or another service on the port",
            "check what listens on the target's port; if the canary port answered too (canary-open), find the middlebox that accepts everything",
        ),
        Verdict::ProtocolError => (
            "an answer came, but not in the expected protocol",
            "another service on the port, a proxy's block or login page, or a server that speaks TLS where plain text is expected (or the other way round)",
            "check which service listens on the port and that MailStore is configured for it (the reason quotes what answered)",
        ),
        Verdict::Skipped => (
            "the path was not checked",
            "no target was given for it (the detail names the flag, e.g. --imap HOST)",
            "add the flag the detail names, or a site file with every host (--site FILE)",
        ),
        Verdict::Cancelled => (
            "the run was stopped before this path finished; the path was not judged",
            "Ctrl-C, SIGTERM (a CI job's or systemd's timeout, `timeout`), or the Windows console closing; the run exits 130 or 143",
            "run again and let it finish; in CI, give the job more time than the check's --timeout times three",
        ),
        Verdict::InternalError => (
            "mssp-check itself failed on this path (a bug), so the path was not judged",
            "a fault in mssp-check, not in the network; the reason has its message; the run exits 3",
            "report it with the reason line and the command line; the other paths of the run are judged as usual",
        ),
    };
    Entry {
        word: v.label(),
        class: "verdict",
        means,
        causes,
        fix,
    }
}

/// The texts of a finding.
#[must_use]
pub fn finding(k: FindingKind) -> Entry {
    let (causes, fix) = match k {
        FindingKind::LocalTarget => (
            "the target's name resolves to an address of this machine (a single-server deployment, or a test)",
            "nothing, if that is intended; to test the firewall, run the check from another machine",
        ),
        FindingKind::ClientCertRequired => (
            "the service asks its peers for a client certificate, as some of MailStore's internal services do",
            "nothing if it is MailStore's own service; otherwise find out which service asks for client certificates",
        ),
        FindingKind::UntrustedChain => (
            "a self-signed certificate, or one from a private CA this machine does not trust",
            "give the server a certificate from a CA this machine trusts, or tell MailStore to accept this one",
        ),
        FindingKind::LocalRoot => (
            "an antivirus or UTM product installed its own root and re-signs the server's certificate",
            "exclude the host from SSL/TLS inspection in that product",
        ),
        FindingKind::LegacyTls => (
            "the server offers only RSA key exchange or CBC suites under TLS 1.2",
            "enable ECDHE with AES-GCM (TLS 1.2) or TLS 1.3 on the server",
        ),
        FindingKind::PinMatch => (
            "the certificate is the one given with --pin",
            "nothing to do",
        ),
        FindingKind::PinMismatch => (
            "a proxy presents its own certificate, or the server's certificate was renewed",
            "if the certificate was renewed, pin the new thumbprint (in SPE too); otherwise exclude the path from TLS inspection",
        ),
        FindingKind::InterceptionCa => (
            "a TLS-inspecting firewall, proxy or antivirus re-signs the connection",
            "exclude the host and port from SSL/TLS inspection in the product the issuer names",
        ),
        FindingKind::Resigned => (
            "a re-signing proxy, or the deployment's own CA issued the internal certificate",
            "if your CA issued it, pin its thumbprint (--pin HOST:PORT=SHA1); otherwise exclude the path from TLS inspection",
        ),
        FindingKind::BannerSignature => (
            "an antivirus or gateway mail proxy answers in place of the mail server",
            "exclude the mail server's ports from the product's mail scanning",
        ),
        FindingKind::ProxyHeader => (
            "an HTTP proxy or a web filter handles the connection",
            "make sure the proxy neither inspects nor blocks MailStore's traffic, or bypass it for this host",
        ),
        FindingKind::StarttlsMissing => (
            "the server does not offer STARTTLS, or a middlebox removed it from the capabilities",
            "enable STARTTLS on the server (or find what removes it), or use the implicit-TLS port",
        ),
        FindingKind::StarttlsMasked => (
            "a firewall's mail inspection overwrites the STARTTLS command (classically with XXXXXXXX) to keep reading the session",
            "turn off the STARTTLS stripping / mail inspection for this server on the firewall",
        ),
        FindingKind::StarttlsHidden => (
            "a middlebox edited the capability list, or the server hides STARTTLS on purpose",
            "ask the server's admin; if it is not on purpose, find the middlebox by checking from another network",
        ),
        FindingKind::StarttlsInjection => (
            "a server bug or a middlebox sends data after the go-ahead, before TLS (the CVE-2011-0411 class)",
            "update the server, or remove the middlebox",
        ),
        FindingKind::CanaryOpen => (
            "a firewall SYN proxy, a transparent proxy or an antivirus accepts every port",
            "find the middlebox and exempt MailStore's ports from it",
        ),
        FindingKind::E2eVerified => (
            "the peer is `mssp-check listen`, and its signed statement matches what arrived",
            "nothing to do: the path is proven end to end",
        ),
        FindingKind::E2eMismatch => (
            "a proxy terminates TLS or rewrites the session between this machine and the responder",
            "exclude the path from TLS and mail inspection; the detail names what differs",
        ),
        FindingKind::E2eUnproven => (
            "the --token differs from the responder's, or someone in between forged the statement",
            "give both sides the same --token (or MSSP_CHECK_TOKEN)",
        ),
        FindingKind::E2eUnreadable => (
            "a middlebox altered the responder's answer, or the versions of the two sides differ",
            "run the same mssp-check version on both sides; if it persists, look for a middlebox",
        ),
        FindingKind::BannerRewritten => (
            "a mail proxy on the way answers in place of the responder",
            "exclude the path from mail scanning",
        ),
        FindingKind::Nat => (
            "a NAT, a load balancer or a proxy between the two machines",
            "a NAT is fine; a proxy is not: find out which one it is",
        ),
        FindingKind::CertDiffers => (
            "the HTTP proxy inspects TLS and re-signs my.mailstore.com",
            "exclude my.mailstore.com from the proxy's TLS inspection",
        ),
        FindingKind::CertExpiring => (
            "the certificate's validity ends soon (--expiry-warning DAYS, 30 by default); SPE pins certificate thumbprints, so the renewal breaks pinned connections unless it is planned",
            "renew the certificate before the date, then update the thumbprint wherever SPE pins it",
        ),
        FindingKind::CertExpired => (
            "the certificate was not renewed in time (or this machine's clock is wrong)",
            "renew the certificate, update the thumbprint wherever SPE pins it, and check the clocks of both machines",
        ),
    };
    Entry {
        word: k.label(),
        class: "finding",
        means: k.summary(),
        causes,
        fix,
    }
}

/// Every word `explain` knows: the verdicts, then the findings.
#[must_use]
pub fn all() -> Vec<Entry> {
    Verdict::ALL
        .iter()
        .map(|v| verdict(*v))
        .chain(FindingKind::ALL.iter().map(|k| finding(*k)))
        .collect()
}

/// The entry of a word, as the reports print it (case ignored).
#[must_use]
pub fn lookup(word: &str) -> Option<Entry> {
    all()
        .into_iter()
        .find(|e| e.word.eq_ignore_ascii_case(word.trim()))
}

/// The known words, for the error message of an unknown one.
#[must_use]
pub fn known() -> String {
    let words = |class: &str| {
        all()
            .iter()
            .filter(|e| e.class == class)
            .map(|e| e.word)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "verdicts: {}; findings: {}",
        words("verdict"),
        words("finding")
    )
}

/// Writes one entry.
///
/// # Errors
/// Write errors.
pub fn render(e: &Entry, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{} ({})", e.word, e.class)?;
    writeln!(out, "  What it means: {}.", e.means)?;
    writeln!(out, "  Causes:        {}.", e.causes)?;
    writeln!(out, "  How to fix:    {}.", e.fix)
}

#[cfg(test)]
mod tests {
    use super::{all, finding, lookup, verdict};
    use crate::verdict::{FindingKind, Verdict};

    #[test]
    fn every_verdict_and_finding_has_an_entry_with_every_text() {
        for v in Verdict::ALL {
            let e = verdict(v);
            assert_eq!(lookup(v.label()), Some(e));
            assert_eq!(e.class, "verdict");
        }
        for k in FindingKind::ALL {
            let e = finding(k);
            assert_eq!(lookup(k.label()), Some(e));
            assert_eq!(e.means, k.summary());
        }
        let entries = all();
        assert_eq!(entries.len(), Verdict::ALL.len() + FindingKind::ALL.len());
        for e in entries {
            for text in [e.means, e.causes, e.fix] {
                assert!(text.len() > 10, "{}: {text:?}", e.word);
                assert!(!text.ends_with('.'), "{}: ends with a period", e.word);
            }
        }
    }

    #[test]
    fn lookup_ignores_case_and_knows_no_other_words() {
        assert_eq!(lookup("TLS-Failed").map(|e| e.word), Some("tls-failed"));
        assert_eq!(lookup("nope"), None);
    }
}
