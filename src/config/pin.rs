//! Certificate pins: `--pin HOST:PORT=FINGERPRINT`, where the fingerprint is the SHA-1
//! thumbprint that SPE's configuration tool and Management Console show, or a SHA-256.

use std::fmt;

use super::host::{Host, HostSpec};

/// Which hash a pin holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinHash {
    Sha1,
    Sha256,
}

impl PinHash {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            PinHash::Sha1 => "SHA-1",
            PinHash::Sha256 => "SHA-256",
        }
    }
}

/// The expected leaf certificate of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub host: Host,
    pub port: u16,
    pub hash: PinHash,
    /// Lower-case hex without separators.
    pub fingerprint: String,
}

impl Pin {
    /// Parses `HOST:PORT=FINGERPRINT` (colons, spaces and case in the fingerprint ignored).
    ///
    /// # Errors
    /// A message that names the input and what was expected.
    pub fn parse(input: &str) -> Result<Self, String> {
        let shown = crate::sanitize::echo(input);
        let Some((endpoint, fp)) = input.rsplit_once('=') else {
            return Err(format!(
                "'{shown}': expected HOST:PORT=FINGERPRINT (a SHA-1 thumbprint of 40 hex digits or a SHA-256 of 64)"
            ));
        };
        let spec = HostSpec::parse(endpoint)?;
        let Some(port) = spec.port else {
            return Err(format!(
                "'{}' in '{shown}' has no port; expected HOST:PORT, e.g. mgmt01:8471",
                crate::sanitize::echo(endpoint)
            ));
        };
        let hex: String = fp
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!(
                "'{}' in '{shown}' is not a fingerprint: {bad:?} is not a hex digit",
                crate::sanitize::echo(fp)
            ));
        }
        let hash = match hex.len() {
            40 => PinHash::Sha1,
            64 => PinHash::Sha256,
            n => {
                return Err(format!(
                    "the fingerprint in '{shown}' has {n} hex digits; expected 40 (SHA-1 thumbprint) or 64 (SHA-256)"
                ))
            }
        };
        Ok(Self {
            host: spec.host,
            port,
            hash,
            fingerprint: hex,
        })
    }

    /// Whether this pin is for `host` (as given on the command line or its address) on `port`.
    #[must_use]
    pub fn applies_to(&self, host: &Host, ip: Option<std::net::IpAddr>, port: u16) -> bool {
        port == self.port
            && (&self.host == host || matches!(self.host, Host::Ip(p) if Some(p) == ip))
    }

    /// Whether a certificate with these fingerprints matches.
    #[must_use]
    pub fn matches(&self, sha1: &str, sha256: &str) -> bool {
        match self.hash {
            PinHash::Sha1 => self.fingerprint == sha1,
            PinHash::Sha256 => self.fingerprint == sha256,
        }
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = HostSpec::new(self.host.clone(), Some(self.port));
        write!(f, "{host}={}", self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_as_windows_shows_them() {
        let p =
            Pin::parse("mgmt01:8471=A6 15 3C 9F 00 11 22 33 44 55 66 77 88 99 AA BB CC DD BE 12")
                .expect("sha1 with spaces");
        assert_eq!(p.hash, PinHash::Sha1);
        assert_eq!(p.fingerprint, "a6153c9f00112233445566778899aabbccddbe12");
        let p = Pin::parse(&format!("[fd00::1]:8472={}", "AB:".repeat(31) + "AB")).expect("sha256");
        assert_eq!(p.hash, PinHash::Sha256);
        assert_eq!(p.port, 8472);
    }

    #[test]
    fn errors_name_the_input() {
        for (input, needle) in [
            ("mgmt01:8471", "expected HOST:PORT=FINGERPRINT"),
            ("mgmt01=abcd", "has no port"),
            ("mgmt01:8471=xyz", "not a hex digit"),
            ("mgmt01:8471=abcd", "has 4 hex digits"),
            ("mgmt01:0=abcd", "port 0"),
        ] {
            let e = Pin::parse(input).expect_err(input);
            assert!(e.contains(needle), "{input}: {e}");
        }
    }
}
