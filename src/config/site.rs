//! The site file (`--site site.toml`): every host of every role, the archiving targets,
//! pins, the admin networks and options, so that `--site site.toml --role ih` needs nothing
//! else. Flags given on the command line win over it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::CheckArgs;

/// One host or a list of them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    #[must_use]
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `[hosts]`: the machines of the deployment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hosts {
    pub server: Option<String>,
    pub mgmt: Option<String>,
    pub ih: Option<OneOrMany>,
    pub cas: Option<OneOrMany>,
}

/// `[targets]`: the customers' servers to archive from, and the licensing host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    pub imap: Option<OneOrMany>,
    pub pop3: Option<OneOrMany>,
    pub ews: Option<OneOrMany>,
    pub ldap: Option<OneOrMany>,
    pub mailstore: Option<String>,
}

/// `[options]`: the same as the flags of the same names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    pub timeout: Option<String>,
    pub concurrency: Option<usize>,
    pub dns_server: Option<String>,
    pub public_ca: Option<Vec<PathBuf>>,
    pub signatures: Option<Vec<PathBuf>>,
    pub proxy: Option<String>,
    pub port_offset: Option<u16>,
    pub all_addresses: Option<bool>,
    pub strict: Option<bool>,
    pub expiry_warning: Option<u32>,
}

/// A whole site file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    #[serde(default)]
    pub hosts: Hosts,
    #[serde(default)]
    pub targets: Targets,
    /// `HOST:PORT=FINGERPRINT`, as `--pin`.
    #[serde(default)]
    pub pins: Vec<String>,
    /// CIDRs of the administrators' networks (for `firewall`).
    #[serde(default)]
    pub admin_nets: Vec<String>,
    #[serde(default)]
    pub options: Options,
    /// The directory of the file: relative paths in it are relative to it.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Site {
    /// The command line with its gaps filled from this site file: flags win.
    #[must_use]
    pub fn fill(&self, cli: &CheckArgs) -> CheckArgs {
        let site = self;
        let mut a = cli.clone();
        let list = |v: &mut Vec<String>, s: &Option<OneOrMany>| {
            if v.is_empty() {
                if let Some(s) = s {
                    *v = s.clone().into_vec();
                }
            }
        };
        if a.server.is_none() {
            a.server.clone_from(&site.hosts.server);
        }
        if a.mgmt.is_none() {
            a.mgmt.clone_from(&site.hosts.mgmt);
        }
        list(&mut a.ih, &site.hosts.ih);
        list(&mut a.cas, &site.hosts.cas);
        list(&mut a.imap, &site.targets.imap);
        list(&mut a.pop3, &site.targets.pop3);
        list(&mut a.ews, &site.targets.ews);
        list(&mut a.ldap, &site.targets.ldap);
        if a.mailstore_host.is_none() {
            a.mailstore_host.clone_from(&site.targets.mailstore);
        }
        a.pin.extend(site.pins.iter().cloned());
        let o = &site.options;
        if a.timeout.is_none() {
            a.timeout.clone_from(&o.timeout);
        }
        a.concurrency = a.concurrency.or(o.concurrency);
        a.expiry_warning = a.expiry_warning.or(o.expiry_warning);
        a.port_offset = a.port_offset.or(o.port_offset);
        if a.dns_server.is_none() {
            a.dns_server.clone_from(&o.dns_server);
        }
        if a.public_ca.is_empty() {
            a.public_ca = o.public_ca.clone().unwrap_or_default();
        }
        if a.signatures.is_empty() {
            a.signatures = o.signatures.clone().unwrap_or_default();
        }
        if a.proxy.is_none() && !a.no_proxy {
            a.proxy.clone_from(&o.proxy);
        }
        a.all_addresses |= o.all_addresses.unwrap_or(false);
        a.strict |= o.strict.unwrap_or(false);
        a
    }

    /// Reads and parses a site file.
    ///
    /// # Errors
    /// `FILE:LINE:COLUMN: what was expected`, or the read error.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "{}: cannot read the site file: {e}",
                crate::sanitize::echo(&path.to_string_lossy())
            )
        })?;
        let mut site = Self::parse(path, &text)?;
        site.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = site.dir.clone();
        let fix = |v: &mut Option<Vec<PathBuf>>| {
            for p in v.iter_mut().flatten() {
                if p.is_relative() {
                    *p = dir.join(&*p);
                }
            }
        };
        fix(&mut site.options.public_ca);
        fix(&mut site.options.signatures);
        Ok(site)
    }

    /// Parses the text of a site file; `path` names it in errors.
    ///
    /// # Errors
    /// `FILE:LINE:COLUMN: what was expected`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map_or((0, 0), |s| super::profile::line_col(text, s.start));
            format!(
                "{}:{line}:{col}: {}",
                crate::sanitize::echo(&path.to_string_lossy()),
                // A message can quote the file's text: cut that too.
                crate::sanitize::printable(&e.message().trim().replace('\n', " "), 300)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_site() {
        let s = Site::parse(
            Path::new("site.toml"),
            "pins = [\"mgmt01:8471=ab\"]\nadmin_nets = [\"192.0.2.0/24\"]\n[hosts]\nmgmt = \"mgmt01\"\nih = [\"ih01\", \"ih02\"]\ncas = \"cas01\"\n[targets]\nimap = \"mail.example.com\"\n[options]\ntimeout = \"3s\"\nexpiry_warning = 14\n",
        )
        .expect("parses");
        assert_eq!(s.options.expiry_warning, Some(14));
        let flags = CheckArgs {
            expiry_warning: Some(7),
            ..CheckArgs::default()
        };
        assert_eq!(s.fill(&flags).expiry_warning, Some(7), "flags win");
        assert_eq!(s.fill(&CheckArgs::default()).expiry_warning, Some(14));
        assert_eq!(s.hosts.mgmt.as_deref(), Some("mgmt01"));
        assert_eq!(
            s.hosts.ih.map(OneOrMany::into_vec),
            Some(vec!["ih01".into(), "ih02".into()])
        );
        assert_eq!(
            s.hosts.cas.map(OneOrMany::into_vec),
            Some(vec!["cas01".into()])
        );
        assert_eq!(s.options.timeout.as_deref(), Some("3s"));
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, needle) in [
            ("[hosts]\nmgmt = 5\n", "site.toml:2:"),
            ("[hosts]\nmgnt = \"x\"\n", "unknown field `mgnt`"),
            ("[options]\nconcurrency = \"many\"\n", "site.toml:2:"),
            ("[hosts\n", "site.toml:1:"),
        ] {
            let e = Site::parse(Path::new("site.toml"), text).expect_err(text);
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
