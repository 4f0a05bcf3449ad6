//! Name resolution with hickory-resolver: the system's configuration and hosts file (or one
//! server given with `--dns-server`), A and AAAA, each name once per run.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::TokioResolver;

use crate::observation::DnsFailure;

/// The resolver of a run.
pub struct Dns {
    resolver: Result<TokioResolver, String>,
    timeout: Duration,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Dns {
    /// The system's resolvers, or `server` alone.
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
            o.timeout = timeout;
            o.attempts = 1;
            // Each name is looked up once per run; a cache would only hide changes between runs.
            o.cache_size = 0;
            b.build()
                .map_err(|e| format!("cannot start the DNS resolver: {e}"))
        });
        Self { resolver, timeout }
    }

    /// Resolves `name` to its addresses (A first, then AAAA, as the server ordered them).
    ///
    /// # Errors
    /// Why the name did not resolve: NXDOMAIN, no address, a server failure, or a timeout.
    pub async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        let resolver = self
            .resolver
            .as_ref()
            .map_err(|e| DnsFailure::Other(e.clone()))?;
        // The resolver has its own timeout; this bound catches anything that hangs beyond it.
        let limit = self.timeout * 2 + Duration::from_secs(1);
        match tokio::time::timeout(limit, resolver.lookup_ip(name)).await {
            Err(_) => Err(DnsFailure::Timeout),
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(lookup)) => {
                let mut v4: Vec<IpAddr> = Vec::new();
                let mut v6: Vec<IpAddr> = Vec::new();
                for ip in lookup.iter() {
                    let list = if ip.is_ipv4() { &mut v4 } else { &mut v6 };
                    if !list.contains(&ip) {
                        list.push(ip);
                    }
                }
                v4.extend(v6);
                if v4.is_empty() {
                    Err(DnsFailure::NoAddress)
                } else {
                    Ok(v4)
                }
            }
        }
    }
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

/// Whether `ip` is an address of this machine (loopback, or one it can bind to).
#[must_use]
pub fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || (!ip.is_unspecified() && UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok())
}
