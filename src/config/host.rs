//! Host arguments: names (IDN converted to ASCII), IPv4 and IPv6 literals (with an optional
//! zone), each with an optional `:port` override.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use super::zone::{self, ZoneError};
use crate::sanitize::echo;

/// What a host argument names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// The ASCII form (an IDN is converted with UTS 46): what DNS, SNI and the Host header use.
    Name(String),
    Ip(IpAddr),
}

/// A host as given on the command line or in a site file: `mgmt01`, `10.0.0.5:18471`,
/// `[::1]:8472`, `fd00::5`, `[fe80::1%eth0]:8472`, `bücher.example`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostSpec {
    pub host: Host,
    pub port: Option<u16>,
    /// The zone of an IPv6 address (`eth0`, `12`), as typed; see [`HostSpec::socket_addr`].
    pub zone: Option<String>,
    /// The name as typed when it differs from its ASCII form (an IDN), shown in reports.
    pub typed: Option<String>,
}

impl HostSpec {
    /// A host without zone or typed form.
    #[must_use]
    pub fn new(host: Host, port: Option<u16>) -> Self {
        Self {
            host,
            port,
            zone: None,
            typed: None,
        }
    }

    /// Parses one host argument.
    ///
    /// # Errors
    /// A message that names the input (cut when long) and says what was expected.
    pub fn parse(input: &str) -> Result<Self, String> {
        let shown = echo(input);
        let s = input.trim();
        if s.is_empty() {
            return Err("an empty host; expected a name, an IPv4 or IPv6 address".into());
        }
        if let Some(rest) = s.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return Err(format!(
                    "'{shown}' opens '[' without ']'; expected [IPv6]:port"
                ));
            };
            let (ip, zone) = v6_with_zone(inside, &shown)?;
            let port = match after {
                "" => None,
                p => Some(parse_port(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("'{shown}': expected ':port' after ']'"))?,
                    &shown,
                )?),
            };
            return Ok(Self {
                zone,
                ..Self::new(Host::Ip(IpAddr::V6(ip)), port)
            });
        }
        // Two or more colons without brackets: a bare IPv6 literal, no port.
        if s.matches(':').count() >= 2 {
            let (ip, zone) = v6_with_zone(s, &shown).map_err(|e| {
                if s.contains('%') {
                    e
                } else {
                    format!("'{shown}' is not an IPv6 address; write [IPv6]:port to add a port")
                }
            })?;
            return Ok(Self {
                zone,
                ..Self::new(Host::Ip(IpAddr::V6(ip)), None)
            });
        }
        let (name, port) = match s.split_once(':') {
            Some((name, port)) => (name, Some(parse_port(port, &shown)?)),
            None => (s, None),
        };
        if let Some((_, z)) = name.split_once('%') {
            return Err(format!(
                "'{shown}': a zone ('%{}') belongs to an IPv6 address only",
                echo(z)
            ));
        }
        // A trailing dot only says "fully qualified": `10.0.0.5.` is the address, not a name
        // (as a name it showed as `10.0.0.5`, which reads back as an address).
        let bare = name.trim_end_matches('.');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::new(Host::Ip(ip), port));
        }
        if bare.is_ascii() {
            validate_name(name).map_err(|why| format!("'{shown}' is not a valid host: {why}"))?;
            return Ok(Self::new(Host::Name(bare.to_ascii_lowercase()), port));
        }
        // An internationalised name: its ASCII (punycode) form is what DNS and TLS know.
        let ascii = idna::domain_to_ascii_strict(bare).map_err(|_| {
            format!("'{shown}' is not a valid host: not a valid internationalised domain name")
        })?;
        validate_name(&ascii).map_err(|why| format!("'{shown}' is not a valid host: {why}"))?;
        Ok(Self {
            typed: Some(bare.to_string()),
            ..Self::new(Host::Name(ascii), port)
        })
    }

    /// Parses a comma-separated list (`--ih ih01,ih02`).
    ///
    /// # Errors
    /// The first malformed entry.
    pub fn parse_list(input: &str) -> Result<Vec<Self>, String> {
        input
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Self::parse)
            .collect::<Result<Vec<_>, _>>()
            .and_then(|v| {
                if v.is_empty() {
                    Err(format!("'{}' names no host", echo(input)))
                } else {
                    Ok(v)
                }
            })
    }

    /// The text shown in reports: the name as typed (an IDN in its Unicode form) or the
    /// address with its zone, without the port.
    #[must_use]
    pub fn display_host(&self) -> String {
        match (&self.host, &self.typed, &self.zone) {
            (_, Some(typed), _) => typed.clone(),
            (Host::Ip(ip), None, Some(z)) => format!("{ip}%{z}"),
            (h, None, _) => HostSpec::display(h),
        }
    }

    /// The scope id of the zone, if there is one.
    ///
    /// # Errors
    /// See [`zone::scope_id`].
    pub fn scope_id(&self) -> Result<Option<u32>, ZoneError> {
        self.zone.as_deref().map(zone::scope_id).transpose()
    }

    /// The address to connect to: `ip` (this host's literal, or one of its name's addresses)
    /// and `port`, carrying the zone's scope id when `ip` is IPv6. Without it, a link-local
    /// address (`fe80::/10`) cannot be reached: the OS would not know the interface.
    ///
    /// # Errors
    /// A zone that this machine cannot turn into an interface (see [`zone::scope_id`]).
    pub fn socket_addr(&self, ip: IpAddr, port: u16) -> Result<SocketAddr, ZoneError> {
        match (ip, self.scope_id()?) {
            (IpAddr::V6(v6), Some(scope)) => {
                Ok(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)))
            }
            (ip, _) => Ok(SocketAddr::new(ip, port)),
        }
    }

    /// The endpoint this host names on a path whose port is `default_port`: two specs
    /// naming the same endpoint (`h` and `h:8472` where 8472 is the default) are one probe.
    #[must_use]
    pub fn endpoint(&self, default_port: u16) -> (Host, Option<String>, u16) {
        (
            self.host.clone(),
            self.zone.clone(),
            self.port.unwrap_or(default_port),
        )
    }
}

/// An IPv6 literal with an optional `%zone`.
fn v6_with_zone(text: &str, shown: &str) -> Result<(Ipv6Addr, Option<String>), String> {
    let (addr, zone) = match text.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (text, None),
    };
    let ip: Ipv6Addr = addr
        .parse()
        .map_err(|_| format!("'{}' in '{shown}' is not an IPv6 address", echo(addr)))?;
    if let Some(z) = zone {
        zone::check_form(z).map_err(|e| format!("'{shown}': {e}"))?;
    }
    Ok((ip, zone.map(str::to_string)))
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.display_host();
        match (&self.host, self.port) {
            (Host::Ip(IpAddr::V6(_)), Some(p)) => write!(f, "[{shown}]:{p}"),
            (_, Some(p)) => write!(f, "{shown}:{p}"),
            (_, None) => f.write_str(&shown),
        }
    }
}

impl HostSpec {
    fn display(h: &Host) -> String {
        match h {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

/// `shown` is the whole input as [`echo`] cut it.
fn parse_port(text: &str, shown: &str) -> Result<u16, String> {
    match text.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(u16::try_from(p).unwrap_or(u16::MAX)),
        Ok(p) => Err(format!(
            "port {p} in '{shown}' is out of range; expected 1-65535"
        )),
        Err(_) => Err(format!(
            "'{}' in '{shown}' is not a port number; expected 1-65535",
            echo(text)
        )),
    }
}

/// RFC 1123 host names (underscores allowed: Windows networks have them).
fn validate_name(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() {
            return Err("an empty label (two dots, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "label '{}' is longer than 63 characters",
                echo(label)
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label '{}' starts or ends with '-'", echo(label)));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "character {c:?} is not allowed; expected letters, digits, '-' and '.'"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> HostSpec {
        HostSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn forms() {
        assert_eq!(ok("mgmt01").host, Host::Name("mgmt01".into()));
        assert_eq!(
            ok("MGMT01.Example.COM.").host,
            Host::Name("mgmt01.example.com".into())
        );
        assert_eq!(ok("mgmt01:18471").port, Some(18471));
        assert_eq!(
            ok("127.0.0.1:8472").host,
            Host::Ip("127.0.0.1".parse().expect("ip"))
        );
        let v6 = ok("[::1]:18471");
        assert_eq!(v6.host, Host::Ip("::1".parse().expect("ip")));
        assert_eq!(v6.port, Some(18471));
        assert_eq!(ok("fd00::5").port, None);
        assert_eq!(ok("[fd00::5]").port, None);
        assert_eq!(ok("[::1]:18471").to_string(), "[::1]:18471");
    }

    #[test]
    fn errors_name_the_input() {
        for (input, needle) in [
            ("mgmt01:0", "port 0 in 'mgmt01:0' is out of range"),
            ("mgmt01:65536", "port 65536"),
            ("mgmt01:http", "'http' in 'mgmt01:http' is not a port"),
            ("[::1", "without ']'"),
            ("[nope]:1", "not an IPv6 address"),
            ("a..b", "empty label"),
            ("bad host", "not allowed"),
            ("-x", "starts or ends"),
            ("", "empty host"),
            ("1::2::3", "not an IPv6 address"),
            ("fe80::1%", "empty"),
            ("[fe80::1%a/b]:1", "'/' is not allowed"),
            ("10.0.0.1%eth0", "IPv6 address only"),
            ("mgmt%eth0:8472", "IPv6 address only"),
            ("xn--bcher-kva\u{0}.example", "not allowed"),
            (
                "b\u{fc}cher\u{200b}-.example",
                "not a valid internationalised",
            ),
        ] {
            let e = HostSpec::parse(input).expect_err(input);
            assert!(e.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn zones_are_kept_and_become_scope_ids() {
        let h = ok("[fe80::1%12]:8472");
        assert_eq!(h.zone.as_deref(), Some("12"));
        assert_eq!(h.port, Some(8472));
        assert_eq!(h.to_string(), "[fe80::1%12]:8472");
        assert_eq!(h.display_host(), "fe80::1%12");
        let ip: IpAddr = "fe80::1".parse().expect("ip");
        assert_eq!(
            h.socket_addr(ip, 8472).expect("numeric zone"),
            SocketAddr::V6(SocketAddrV6::new(
                "fe80::1".parse().expect("ip"),
                8472,
                0,
                12
            ))
        );
        let bare = ok("fe80::1%eth0");
        assert_eq!(bare.zone.as_deref(), Some("eth0"));
        assert_eq!(bare.port, None);
        // No zone: the address as it is.
        let plain = ok("[fe80::1]:1");
        assert_eq!(
            plain.socket_addr(ip, 1).expect("plain"),
            SocketAddr::new(ip, 1)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn interface_names_are_looked_up_on_linux() {
        let h = ok("[fe80::1%lo]:8472");
        let ip: IpAddr = "fe80::1".parse().expect("ip");
        match h.socket_addr(ip, 8472).expect("lo exists") {
            SocketAddr::V6(v6) => assert!(v6.scope_id() > 0),
            SocketAddr::V4(v4) => panic!("{v4}"),
        }
        let e = ok("fe80::1%nosuchif9")
            .socket_addr(ip, 1)
            .expect_err("no such interface");
        assert!(
            e.to_string()
                .contains("no network interface named 'nosuchif9'"),
            "{e}"
        );
    }

    #[test]
    fn international_names_become_ascii_and_show_as_typed() {
        let h = ok("bücher.example:8472");
        assert_eq!(h.host, Host::Name("xn--bcher-kva.example".into()));
        assert_eq!(h.display_host(), "bücher.example");
        assert_eq!(h.to_string(), "bücher.example:8472");
        assert_eq!(ok("BÜCHER.Example.").host, h.host);
        // Already ASCII: no typed form to keep.
        assert_eq!(ok("xn--bcher-kva.example").typed, None);
    }

    #[test]
    fn a_huge_argument_is_cut_in_the_error() {
        let huge = format!("{}:1", "a".repeat(120 * 1024));
        for input in [huge.clone(), format!("[{huge}"), format!("{huge}%x")] {
            let e = HostSpec::parse(&input).expect_err("too long");
            assert!(e.len() < 400, "{} bytes: {}", e.len(), &e[..200]);
            assert!(e.contains("bytes)"), "{e}");
        }
    }

    #[test]
    fn lists() {
        let v = HostSpec::parse_list("ih01, ih02:9,[::1]:8472").expect("list");
        assert_eq!(v.len(), 3);
        assert!(HostSpec::parse_list(",").is_err());
    }

    #[test]
    fn an_address_with_a_trailing_dot_is_the_address() {
        // Found by fuzz/fuzz_targets/host_spec.rs: it was Name("0.0.0.200"), shown as
        // `0.0.0.200`, which parsed back as an address.
        let h = ok("0.0.0.200.");
        assert_eq!(h.host, Host::Ip("0.0.0.200".parse().expect("ip")));
        assert_eq!(ok(&h.to_string()), h);
        assert_eq!(ok("10.0.0.5.:8472").port, Some(8472));
    }
}
