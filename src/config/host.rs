//! Host arguments: names, IPv4 and IPv6 literals, each with an optional `:port` override.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// What a host argument names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

/// A host as given on the command line or in a site file: `mgmt01`, `10.0.0.5:18471`,
/// `[::1]:8472`, `fd00::5`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostSpec {
    pub host: Host,
    pub port: Option<u16>,
}

impl HostSpec {
    /// Parses one host argument.
    ///
    /// # Errors
    /// A message that names the input and says what was expected.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("an empty host; expected a name, an IPv4 or IPv6 address".into());
        }
        if let Some(rest) = s.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return Err(format!(
                    "'{input}' opens '[' without ']'; expected [IPv6]:port"
                ));
            };
            let ip: Ipv6Addr = inside
                .parse()
                .map_err(|_| format!("'{inside}' in '{input}' is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(parse_port(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("'{input}': expected ':port' after ']'"))?,
                    input,
                )?),
            };
            return Ok(Self {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        // Two or more colons without brackets: a bare IPv6 literal, no port.
        if s.matches(':').count() >= 2 {
            let ip: Ipv6Addr = s.parse().map_err(|_| {
                format!("'{input}' is not an IPv6 address; write [IPv6]:port to add a port")
            })?;
            return Ok(Self {
                host: Host::Ip(IpAddr::V6(ip)),
                port: None,
            });
        }
        let (name, port) = match s.split_once(':') {
            Some((name, port)) => (name, Some(parse_port(port, input)?)),
            None => (s, None),
        };
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(Self {
                host: Host::Ip(ip),
                port,
            });
        }
        validate_name(name).map_err(|why| format!("'{input}' is not a valid host: {why}"))?;
        Ok(Self {
            host: Host::Name(name.trim_end_matches('.').to_ascii_lowercase()),
            port,
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
                    Err(format!("'{input}' names no host"))
                } else {
                    Ok(v)
                }
            })
    }

    /// The text shown in reports: the name or address as given, without the port.
    #[must_use]
    pub fn display_host(&self) -> String {
        match &self.host {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.port) {
            (Host::Ip(IpAddr::V6(ip)), Some(p)) => write!(f, "[{ip}]:{p}"),
            (h, Some(p)) => write!(f, "{}:{p}", HostSpec::display(h)),
            (h, None) => f.write_str(&HostSpec::display(h)),
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

fn parse_port(text: &str, input: &str) -> Result<u16, String> {
    match text.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(u16::try_from(p).unwrap_or(u16::MAX)),
        Ok(p) => Err(format!(
            "port {p} in '{input}' is out of range; expected 1-65535"
        )),
        Err(_) => Err(format!(
            "'{text}' in '{input}' is not a port number; expected 1-65535"
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
            return Err(format!("label '{label}' is longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label '{label}' starts or ends with '-'"));
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
        ] {
            let e = HostSpec::parse(input).expect_err(input);
            assert!(e.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn lists() {
        let v = HostSpec::parse_list("ih01, ih02:9,[::1]:8472").expect("list");
        assert_eq!(v.len(), 3);
        assert!(HostSpec::parse_list(",").is_err());
    }
}
