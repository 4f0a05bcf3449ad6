//! Name resolution with hickory-resolver: the system's configuration and hosts file (or one
//! server given with `--dns-server`), A and AAAA, each name once per run.
//!
//! With the system's configuration, a name that DNS does not resolve is asked of the
//! operating system's resolver too (`getaddrinfo`: hosts file, LLMNR, NetBIOS, mDNS, search
//! lists), because that is what MailStore itself uses; the run then says so in a note.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::Query;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};
use hickory_resolver::{Hosts, TokioResolver};

use crate::observation::DnsFailure;

/// The operating system's resolver: the name and a time limit in, its addresses out.
type OsLookup =
    for<'a> fn(&'a str, Duration) -> Pin<Box<dyn Future<Output = Option<Vec<IpAddr>>> + Send + 'a>>;

/// The resolver of a run.
pub struct Dns {
    resolver: Result<TokioResolver, String>,
    timeout: Duration,
    os_fallback: bool,
    os: OsLookup,
    /// The hosts file, consulted first with the system configuration: a name found there is
    /// answered from it alone, as the OS resolver does (hickory would also ask DNS for the
    /// family the file lacks, and wait out a dead server).
    hosts: Option<Hosts>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Dns {
    /// The system's resolvers and hosts file, or `server` alone.
    #[must_use]
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Self {
        let builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                Ok(TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                ))
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}")),
        };
        let resolver = builder.and_then(|mut b| {
            let o = b.options_mut();
            o.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
            // One lost UDP query must not make a `dns` verdict: three tries, each a third of
            // the timeout, which still bounds the lookup as a whole (see `resolve`).
            o.timeout = (timeout / 3).max(std::time::Duration::from_millis(200));
            o.attempts = 3;
            // Each name is looked up once per run; a cache would only hide changes between runs.
            o.cache_size = 0;
            // The hosts file is read once, by `Dns` itself, before DNS (and only with the
            // system's configuration: `--dns-server` asks that server, as `dig @server` does).
            o.use_hosts_file = ResolveHosts::Never;
            b.build()
                .map_err(|e| format!("cannot start the DNS resolver: {e}"))
        });
        Self {
            resolver,
            timeout,
            os_fallback: server.is_none(),
            os: |name, limit| Box::pin(getaddrinfo(name, limit)),
            hosts: if server.is_none() {
                Hosts::from_system().ok()
            } else {
                None
            },
        }
    }

    /// The addresses of `name` in the hosts file, IPv4 first; `None` when it is not there.
    fn in_hosts_file(&self, name: &str) -> Option<Vec<IpAddr>> {
        let hosts = self.hosts.as_ref()?;
        let name = Name::from_utf8(name).ok()?;
        let found = ipv4_first(
            [RecordType::A, RecordType::AAAA]
                .into_iter()
                .flat_map(|rtype| {
                    hosts
                        .lookup_static_host(&Query::query(name.clone(), rtype))
                        .into_iter()
                        .flat_map(|l| {
                            l.answers()
                                .iter()
                                .filter_map(|r| r.data.ip_addr())
                                .collect::<Vec<_>>()
                        })
                }),
        );
        (!found.is_empty()).then_some(found)
    }

    /// Whether a name DNS does not resolve is asked of the operating system (on by default
    /// with the system's configuration, off with `--dns-server`).
    #[must_use]
    pub fn with_os_fallback(mut self, on: bool) -> Self {
        self.os_fallback = on;
        self
    }

    /// DNS first; if it fails and the fallback is on, the operating system's resolver. The
    /// note, when there is one, says that the OS resolved what DNS did not.
    pub async fn resolve_like_os(
        &self,
        name: &str,
    ) -> (Result<Vec<IpAddr>, DnsFailure>, Option<String>) {
        // The whole lookup, fallback included, gets one timeout.
        let started = tokio::time::Instant::now();
        let dns = self.resolve(name).await;
        let Err(failure) = &dns else {
            return (dns, None);
        };
        // A timeout would only repeat itself: the OS asks the same servers.
        if !self.os_fallback || *failure == DnsFailure::Timeout {
            return (dns, None);
        }
        let left = self.timeout.saturating_sub(started.elapsed());
        match (self.os)(name, left).await {
            Some(addrs) => {
                let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                let note = format!(
                    "{name}: not in DNS ({}), but this machine's resolver (hosts file, LLMNR, NetBIOS or mDNS) gives {}; probed there, as MailStore would — other machines may not resolve it so",
                    failure.short(),
                    list.join(", ")
                );
                (Ok(addrs), Some(note))
            }
            None => (dns, None),
        }
    }

    /// Resolves `name` to its addresses (A first, then AAAA, as the server ordered them).
    ///
    /// # Errors
    /// Why the name did not resolve: NXDOMAIN, no address, a server failure, or a timeout.
    pub async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        if let Some(found) = self.in_hosts_file(name) {
            return Ok(found);
        }
        let resolver = self
            .resolver
            .as_ref()
            .map_err(|e| DnsFailure::Other(e.clone()))?;
        // A and AAAA go out together (hickory's `Ipv4AndIpv6`); the lookup as a whole gets
        // one timeout, whatever the resolver would retry (other servers, TCP after UDP).
        match tokio::time::timeout(self.timeout, resolver.lookup_ip(name)).await {
            Err(_) => Err(DnsFailure::Timeout),
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(lookup)) => {
                let found = ipv4_first(lookup.iter());
                if found.is_empty() {
                    Err(DnsFailure::NoAddress)
                } else {
                    Ok(found)
                }
            }
        }
    }
}

/// `getaddrinfo` (on a blocking thread, inside tokio), bounded by `limit`; IPv4 first.
async fn getaddrinfo(name: &str, limit: Duration) -> Option<Vec<IpAddr>> {
    let lookup = tokio::net::lookup_host((name, 0));
    let found = tokio::time::timeout(limit, lookup).await.ok()?.ok()?;
    let found = ipv4_first(found.map(|sa| sa.ip()));
    (!found.is_empty()).then_some(found)
}

/// The addresses without repeats, IPv4 first, each family in the order given.
fn ipv4_first(ips: impl IntoIterator<Item = IpAddr>) -> Vec<IpAddr> {
    let (mut v4, mut v6): (Vec<IpAddr>, Vec<IpAddr>) = (Vec::new(), Vec::new());
    for ip in ips {
        let list = if ip.is_ipv4() { &mut v4 } else { &mut v6 };
        if !list.contains(&ip) {
            list.push(ip);
        }
    }
    v4.extend(v6);
    v4
}

fn classify(e: &NetError) -> DnsFailure {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => match nr.response_code {
            ResponseCode::NXDomain => DnsFailure::NxDomain,
            ResponseCode::NoError => DnsFailure::NoAddress,
            code => DnsFailure::ServerFailure {
                code: mnemonic(code),
            },
        },
        NetError::Dns(DnsError::ResponseCode(code)) => DnsFailure::ServerFailure {
            code: mnemonic(*code),
        },
        NetError::Timeout => DnsFailure::Timeout,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => DnsFailure::Timeout,
        other => DnsFailure::Other(other.to_string()),
    }
}

/// The RCODE as admins read it in dig's output.
fn mnemonic(code: ResponseCode) -> String {
    match code {
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        other => format!("RCODE {}", u16::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;

    use super::*;

    /// A DNS server on loopback that answers every question with NXDOMAIN.
    fn nxdomain_server() -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = socket.local_addr().expect("addr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                if n < 12 {
                    continue;
                }
                let mut reply = buf[..n].to_vec();
                reply[2] = 0x81 | (buf[2] & 0x78); // QR, opcode kept, RD
                reply[3] = 0x83; // RA, RCODE 3 = NXDOMAIN
                reply[6..12].fill(0); // no answer, authority or additional records
                let _ = socket.send_to(&reply, peer);
            }
        });
        addr
    }

    #[tokio::test]
    async fn the_os_resolver_answers_localhost() {
        let addrs = getaddrinfo("localhost", Duration::from_secs(2)).await;
        let addrs = addrs.expect("localhost resolves");
        assert!(addrs.iter().all(IpAddr::is_loopback), "{addrs:?}");
    }

    #[tokio::test]
    async fn what_dns_does_not_know_the_os_may_and_the_run_says_so() {
        let server = nxdomain_server();
        let timeout = Duration::from_secs(2);
        // The OS stand-in knows `mgmt01` (as LLMNR or a hosts file would); DNS does not.
        let os: OsLookup = |name, _| {
            let known = name == "mgmt01";
            Box::pin(async move { known.then(|| vec![IpAddr::from([127, 0, 0, 7])]) })
        };
        let dns = Dns {
            os,
            ..Dns::new(Some(server), timeout)
        };
        let (r, note) = dns.resolve_like_os("mgmt01").await;
        assert_eq!(
            r,
            Err(DnsFailure::NxDomain),
            "--dns-server alone: no fallback"
        );
        assert_eq!(note, None);

        let dns = dns.with_os_fallback(true);
        let (r, note) = dns.resolve_like_os("mgmt01").await;
        assert_eq!(r, Ok(vec![IpAddr::from([127, 0, 0, 7])]));
        let note = note.expect("a note");
        assert!(
            note.starts_with("mgmt01: not in DNS (NXDOMAIN), but this machine's resolver"),
            "{note}"
        );
        // Unknown to both: DNS's own failure stands.
        let (r, note) = dns.resolve_like_os("nowhere").await;
        assert_eq!((r, note), (Err(DnsFailure::NxDomain), None));
    }

    #[tokio::test]
    async fn a_name_in_the_hosts_file_is_answered_from_it_alone() {
        // DNS would add an IPv4 address; the hosts file has only IPv6 for the name. The OS
        // resolver stops at the hosts file, and so does this one.
        let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = server.local_addr().expect("addr");
        drop(server); // nothing answers there: DNS would only time out
        let mut hosts = Hosts::default();
        hosts
            .read_hosts_conf("::1 mgmt01 mgmt01.example.test\n".as_bytes())
            .expect("hosts");
        let dns = Dns {
            hosts: Some(hosts),
            ..Dns::new(Some(addr), Duration::from_secs(2))
        };
        for name in ["mgmt01", "mgmt01.example.test"] {
            assert_eq!(
                dns.resolve(name).await,
                Ok(vec![IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])]),
                "{name}"
            );
        }
        assert!(dns.in_hosts_file("other").is_none());
    }
}
