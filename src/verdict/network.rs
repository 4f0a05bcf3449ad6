//! Before any byte of the protocol: DNS, the TCP connect, and the HTTP proxy's tunnel.

use super::{Hop, Triple, Verdict};
use crate::observation::{ConnectFailure, DnsFailure};
use crate::sanitize::printable;

pub(super) fn dns(f: &DnsFailure, hop: &Hop) -> Triple {
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
pub(super) fn proxy_dns(f: &DnsFailure, hop: &Hop) -> Triple {
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
pub(super) fn proxy_connect(f: &ConnectFailure, hop: &Hop) -> Triple {
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
        ConnectFailure::ResetAfterAccept => (
            Verdict::NoService,
            format!("the proxy {proxy} accepted the connection and reset it at once"),
            Some(format!("{setting}: is {proxy} an HTTP proxy, and does it let {} in?", hop.from)),
        ),
        ConnectFailure::Other { detail } => (
            Verdict::Unreachable,
            format!("the proxy {proxy}: {}", printable(detail, 120)),
            Some(setting.to_string()),
        ),
    }
}

pub(super) fn connect(f: &ConnectFailure, hop: &Hop) -> Triple {
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
            format!("no answer to TCP SYN{}", hop.silence_text),
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
        // Probes go on over a reset stream instead (`probe::run`); this is for the record.
        ConnectFailure::ResetAfterAccept => (
            Verdict::NoService,
            "TCP accepted, then reset at once".to_string(),
            Some(format!(
                "something accepts connections on {}:{p} and resets them: a firewall, IPS or the service itself",
                hop.host
            )),
        ),
        ConnectFailure::Other { detail } => (
            Verdict::Unreachable,
            printable(detail, 160),
            Some(format!("this machine could not open a connection to {hi}:{p}")),
        ),
    }
}
