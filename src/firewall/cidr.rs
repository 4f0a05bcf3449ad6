//! IPv4 and IPv6 networks for firewall rule sources: [`Cidr`] parses, normalises, prints
//! and compares them; [`CidrError`] says why a string is not one.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address and a prefix length.
///
/// Always normalised: bits beyond the prefix are cleared, so `192.0.2.7/24` is stored (and
/// printed) as `192.0.2.0/24`. Parsing accepts such input rather than rejecting it, because
/// an admin who types a host's address with its network's prefix means that network.
/// A bare address is a single host (`/32` or `/128`) and prints without the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a string is not a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not an address or network: {reason}; expected e.g. 192.0.2.0/24 or 2001:db8::/32"
)]
#[non_exhaustive]
pub struct CidrError {
    pub input: String,
    pub reason: String,
}

impl Cidr {
    /// The network of `addr` with `prefix` bits, host bits cleared.
    ///
    /// # Errors
    /// A prefix longer than the address (32 bits for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let max = max_prefix(addr);
        if prefix > max {
            return Err(CidrError {
                input: format!("{addr}/{prefix}"),
                reason: format!(
                    "the prefix /{prefix} is longer than the {max} bits of the address"
                ),
            });
        }
        Ok(Self {
            addr: network(addr, prefix),
            prefix,
        })
    }

    /// One host.
    #[must_use]
    pub fn host(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: max_prefix(addr),
        }
    }

    #[must_use]
    pub fn addr(self) -> IpAddr {
        self.addr
    }

    #[must_use]
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    #[must_use]
    pub fn is_ipv4(self) -> bool {
        self.addr.is_ipv4()
    }

    /// Whether every address of `other` is in `self`.
    #[must_use]
    pub fn contains(self, other: Cidr) -> bool {
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && self.prefix <= other.prefix
            && network(other.addr, self.prefix) == self.addr
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn network(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| CidrError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| fail("the part before the / is not an IPv4 or IPv6 address"))?;
        let Some(prefix) = prefix else {
            return Ok(Self::host(addr));
        };
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("the prefix after the / must be a number of bits"));
        }
        // At most three digits, so the u16 parse cannot fail; `new` checks the length.
        let bits: u16 = prefix.parse().unwrap_or(u16::MAX);
        let prefix = u8::try_from(bits).unwrap_or(u8::MAX);
        Self::new(addr, prefix).map_err(|e| fail(&e.reason))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == max_prefix(self.addr) {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_normalise() {
        let cases = [
            ("192.0.2.0/24", "192.0.2.0/24"),
            ("192.0.2.77/24", "192.0.2.0/24"),
            ("198.18.0.11", "198.18.0.11"),
            ("198.18.0.11/32", "198.18.0.11"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("10.1.2.3/0", "0.0.0.0/0"),
            ("2001:db8::1/32", "2001:db8::/32"),
            ("fd00::12", "fd00::12"),
            ("fd00::12/128", "fd00::12"),
            ("::/0", "::/0"),
        ];
        for (input, want) in cases {
            let got: Cidr = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got.to_string(), want, "{input}");
        }
    }

    #[test]
    fn bad_cidrs_say_what_is_wrong() {
        let cases = [
            ("192.0.2.0/33", "longer than the 32 bits"),
            ("fd00::/129", "longer than the 128 bits"),
            ("192.0.2.0/", "number of bits"),
            ("192.0.2.0/+8", "number of bits"),
            ("192.0.2.0/2000", "number of bits"),
            ("192.0.2.0/256", "longer than the 32 bits"),
            ("mgmt.example/24", "not an IPv4 or IPv6 address"),
            ("", "not an IPv4 or IPv6 address"),
        ];
        for (input, want) in cases {
            let e = input.parse::<Cidr>().expect_err(input).to_string();
            assert!(
                e.contains(want) && e.contains("192.0.2.0/24"),
                "{input}: {e}"
            );
        }
    }

    #[test]
    fn containment() {
        let c = |s: &str| s.parse::<Cidr>().expect("cidr");
        let cases = [
            ("192.0.2.0/24", "192.0.2.9", true),
            ("192.0.2.0/24", "192.0.3.9", false),
            ("192.0.2.9", "192.0.2.0/24", false),
            ("0.0.0.0/0", "198.18.0.1", true),
            ("::/0", "198.18.0.1", false),
            ("fd00::/8", "fd00::12", true),
        ];
        for (outer, inner, want) in cases {
            assert_eq!(c(outer).contains(c(inner)), want, "{outer} ⊇ {inner}");
        }
    }
}
