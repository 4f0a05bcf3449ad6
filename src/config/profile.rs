//! The port-table profiles: the serde model of `profiles/*.toml`, the embedded set, and
//! loading a directory of them with errors that name the file and line.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The profiles compiled into the binary (from the vendor's two port tables).
const EMBEDDED: &[(&str, &str)] = &[
    ("single.toml", include_str!("../../profiles/single.toml")),
    ("multi.toml", include_str!("../../profiles/multi.toml")),
];

/// Single server mode or multi server mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Single,
    Multi,
}

impl Mode {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::Multi => "multi",
        }
    }
}

/// A machine (or network) that a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Server,
    Mgmt,
    Ih,
    Cas,
    Adm,
    Client,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Server,
        Role::Mgmt,
        Role::Ih,
        Role::Cas,
        Role::Adm,
        Role::Client,
    ];

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Mgmt => "mgmt",
            Role::Ih => "ih",
            Role::Cas => "cas",
            Role::Adm => "adm",
            Role::Client => "client",
        }
    }

    /// The same machine as the target of other roles' paths; `adm` and `client` are never
    /// a target.
    #[must_use]
    pub fn as_target(self) -> Option<Target> {
        match self {
            Role::Server => Some(Target::Server),
            Role::Mgmt => Some(Target::Mgmt),
            Role::Ih => Some(Target::Ih),
            Role::Cas => Some(Target::Cas),
            Role::Adm | Role::Client => None,
        }
    }

    /// The name the vendor's documents use.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Role::Server => "MailStore SPE server",
            Role::Mgmt => "Management Server",
            Role::Ih => "Instance Host",
            Role::Cas => "Client Access Server",
            Role::Adm => "administration machine",
            Role::Client => "archive user's machine",
        }
    }
}

/// Where a path goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Server,
    Mgmt,
    Ih,
    Cas,
    /// The customers' archiving sources: mail, Exchange and LDAP servers.
    Any,
    /// my.mailstore.com (usage reporting and licence updates).
    Mailstore,
}

impl Target {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Target::Server => "server",
            Target::Mgmt => "mgmt",
            Target::Ih => "ih",
            Target::Cas => "cas",
            Target::Any => "any",
            Target::Mailstore => "mailstore",
        }
    }

    /// The name used in the JSON `target` field (DESIGN §10).
    #[must_use]
    pub fn json_name(self) -> &'static str {
        match self {
            Target::Mailstore => "my.mailstore.com",
            other => other.label(),
        }
    }

    /// What runs there, in words an admin reads in a hint.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Target::Server => "the MailStore SPE server",
            Target::Mgmt => "the Management Server",
            Target::Ih => "the Instance Host",
            Target::Cas => "the Client Access Server",
            Target::Any => "the customer's server",
            Target::Mailstore => "MailStore's licensing service",
        }
    }
}

/// Which flag supplies the host of an `any` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetFlag {
    Imap,
    Pop3,
    Ews,
    Ldap,
}

impl TargetFlag {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            TargetFlag::Imap => "imap",
            TargetFlag::Pop3 => "pop3",
            TargetFlag::Ews => "ews",
            TargetFlag::Ldap => "ldap",
        }
    }
}

/// How a path is probed (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    Tcp,
    Tls,
    Imaps,
    Pop3s,
    Ldaps,
    Https,
    ImapStarttls,
    Pop3Stls,
    LdapStarttls,
}

impl ProbeKind {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            ProbeKind::Tcp => "tcp",
            ProbeKind::Tls => "tls",
            ProbeKind::Imaps => "imaps",
            ProbeKind::Pop3s => "pop3s",
            ProbeKind::Ldaps => "ldaps",
            ProbeKind::Https => "https",
            ProbeKind::ImapStarttls => "imap-starttls",
            ProbeKind::Pop3Stls => "pop3-stls",
            ProbeKind::LdapStarttls => "ldap-starttls",
        }
    }

    /// Whether the probe starts in plaintext and upgrades.
    #[must_use]
    pub fn is_starttls(self) -> bool {
        matches!(
            self,
            ProbeKind::ImapStarttls | ProbeKind::Pop3Stls | ProbeKind::LdapStarttls
        )
    }

    /// Whether the probe runs TLS from the first byte.
    #[must_use]
    pub fn is_implicit_tls(self) -> bool {
        matches!(
            self,
            ProbeKind::Tls
                | ProbeKind::Imaps
                | ProbeKind::Pop3s
                | ProbeKind::Ldaps
                | ProbeKind::Https
        )
    }
}

/// Whether STARTTLS must be offered on a plaintext port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartTlsPolicy {
    Required,
    Optional,
}

/// How a certificate chain that does not verify is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertPolicy {
    /// A public endpoint: the chain must verify against the public roots.
    Public,
    /// The deployment's own, usually self-signed certificates (847x).
    Internal,
    /// Someone else's server (customers' mail servers, the CAS web endpoint): verified when
    /// possible, an untrusted chain is a warning.
    External,
}

/// What answer an https probe counts as the right service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    AnyHttp,
    /// 401 with `WWW-Authenticate`, as Exchange's EWS answers an anonymous request.
    AuthChallenge,
}

/// One row of a vendor table (one source of it): a path that must be open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathSpec {
    pub id: String,
    pub mode: Mode,
    pub port: u16,
    pub source: Role,
    pub target: Target,
    pub flag: Option<TargetFlag>,
    pub probe: ProbeKind,
    pub starttls: Option<StartTlsPolicy>,
    pub cert: CertPolicy,
    pub http_path: Option<String>,
    pub expect: Option<Expect>,
    pub all_addresses: bool,
    pub required: bool,
    pub description: String,
}

/// A malformed profile: which file, where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ProfileError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every path the tool knows, in the order of the vendor's tables.
#[derive(Debug, Clone)]
pub struct Profiles {
    paths: Vec<PathSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    mode: Mode,
    #[serde(default)]
    path: Vec<Spanned<RawPath>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    port: u16,
    source: Role,
    target: Target,
    flag: Option<TargetFlag>,
    probe: ProbeKind,
    starttls: Option<StartTlsPolicy>,
    cert: CertPolicy,
    http_path: Option<String>,
    expect: Option<Expect>,
    #[serde(default)]
    all_addresses: bool,
    required: bool,
    description: String,
}

impl Profiles {
    /// The profiles built into the binary.
    ///
    /// # Errors
    /// Only if the embedded files are broken, which a unit test rules out.
    pub fn embedded() -> Result<Self, ProfileError> {
        let mut paths = Vec::new();
        for (name, text) in EMBEDDED {
            paths.extend(parse_file(Path::new(&format!("profiles/{name}")), text)?);
        }
        Self::from_paths(paths, Path::new("profiles"))
    }

    /// Loads every `*.toml` file of `dir` instead of the embedded set.
    ///
    /// # Errors
    /// An unreadable directory or file, or a malformed profile, named with its line.
    pub fn load_dir(dir: &Path) -> Result<Self, ProfileError> {
        let at = |file: &Path, message: String| ProfileError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message,
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| at(dir, format!("cannot read the profile directory: {e}")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(at(
                dir,
                "no *.toml profile in this directory; expected files like single.toml and multi.toml".into(),
            ));
        }
        let mut paths = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file)
                .map_err(|e| at(file, format!("cannot read the profile: {e}")))?;
            paths.extend(parse_file(file, &text)?);
        }
        Self::from_paths(paths, dir)
    }

    fn from_paths(paths: Vec<PathSpec>, origin: &Path) -> Result<Self, ProfileError> {
        let mut seen = std::collections::HashSet::new();
        for p in &paths {
            if !seen.insert(p.id.as_str()) {
                return Err(ProfileError {
                    file: origin.to_path_buf(),
                    line: 0,
                    column: 0,
                    message: format!("path {} is defined twice", p.id),
                });
            }
        }
        Ok(Self { paths })
    }

    #[must_use]
    pub fn all(&self) -> &[PathSpec] {
        &self.paths
    }

    /// The paths whose source is `role`, optionally in one mode only.
    pub fn from_role(&self, role: Role, mode: Option<Mode>) -> impl Iterator<Item = &PathSpec> {
        self.paths
            .iter()
            .filter(move |p| p.source == role && mode.is_none_or(|m| p.mode == m))
    }
}

/// The paths of one profile file's text; `file` names it in errors. [`Profiles::embedded`]
/// and [`Profiles::load_dir`] read every file through this (the fuzzer feeds it text).
///
/// # Errors
/// Malformed TOML or a path that breaks the schema, named with its line and column.
pub fn parse_file(file: &Path, text: &str) -> Result<Vec<PathSpec>, ProfileError> {
    let located = |span: Option<std::ops::Range<usize>>, message: String| {
        let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
        ProfileError {
            file: file.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let raw: RawFile = toml::from_str(text)
        .map_err(|e| located(e.span(), e.message().trim().replace('\n', " ").clone()))?;
    raw.path
        .into_iter()
        .map(|spanned| {
            let span = spanned.span();
            let p = spanned.into_inner();
            check_path(raw.mode, p).map_err(|m| located(Some(span), m))
        })
        .collect()
}

fn check_path(mode: Mode, p: RawPath) -> Result<PathSpec, String> {
    if p.port == 0 {
        return Err("port 0 is not a TCP port; expected 1-65535".into());
    }
    match (p.target, p.flag) {
        (Target::Any, None) => {
            return Err("a path to `any` needs `flag` (imap, pop3, ews or ldap)".into())
        }
        (Target::Any, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err("`flag` applies only to paths whose target is `any`".into()),
    }
    if p.probe.is_starttls() != p.starttls.is_some() {
        return Err(format!(
            "`starttls` (required or optional) goes with the probes imap-starttls, pop3-stls \
             and ldap-starttls, and only with them; this path's probe is {}",
            p.probe.label()
        ));
    }
    if (p.http_path.is_some() || p.expect.is_some()) && p.probe != ProbeKind::Https {
        return Err("`http_path` and `expect` apply only to https probes".into());
    }
    if let Some(path) = &p.http_path {
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "http_path {path:?} must start with / and contain no spaces"
            ));
        }
    }
    if matches!(p.source, Role::Server) != matches!(mode, Mode::Single)
        && matches!(p.source, Role::Server | Role::Mgmt | Role::Ih | Role::Cas)
    {
        return Err(format!(
            "source {} does not exist in {} server mode",
            p.source.label(),
            mode.label()
        ));
    }
    Ok(PathSpec {
        id: format!(
            "{}-{}-{}-{}",
            mode.label(),
            p.port,
            p.source.label(),
            p.target.label()
        ),
        mode,
        port: p.port,
        source: p.source,
        target: p.target,
        flag: p.flag,
        probe: p.probe,
        starttls: p.starttls,
        cert: p.cert,
        http_path: p.http_path,
        expect: p.expect,
        all_addresses: p.all_addresses,
        required: p.required,
        description: p.description,
    })
}

/// 1-based line and column (in characters) of a byte offset, never panicking.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<PathSpec>, ProfileError> {
        parse_file(Path::new("x.toml"), text)
    }

    #[test]
    fn embedded_profiles_load() {
        let p = Profiles::embedded().expect("embedded profiles parse");
        assert_eq!(p.all().len(), 33);
        assert_eq!(
            p.all().iter().filter(|p| p.mode == Mode::Single).count(),
            13
        );
    }

    #[test]
    fn ids_follow_the_schema() {
        let p = Profiles::embedded().expect("embedded");
        assert!(p.all().iter().any(|p| p.id == "multi-8471-ih-mgmt"));
        assert!(p
            .all()
            .iter()
            .any(|p| p.id == "single-443-server-mailstore"));
    }

    #[test]
    fn bad_port_names_line() {
        let e = parse("mode = \"multi\"\n[[path]]\nport = 70000\nsource = \"ih\"\n")
            .expect_err("must fail");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().starts_with("x.toml:3:"), "{e}");
    }

    #[test]
    fn port_zero_is_rejected_with_its_path_line() {
        let text = "mode = \"multi\"\n\n[[path]]\nport = 0\nsource = \"ih\"\ntarget = \"mgmt\"\n\
                    probe = \"tls\"\ncert = \"internal\"\nrequired = true\ndescription = \"d\"\n";
        let e = parse(text).expect_err("must fail");
        assert!(e.message.contains("port 0"), "{e}");
        assert!(e.line >= 3, "{e}");
    }

    #[test]
    fn unknown_probe_lists_the_expected_values() {
        let text = "mode = \"multi\"\n[[path]]\nport = 1\nsource = \"ih\"\ntarget = \"mgmt\"\n\
                    probe = \"smtp\"\ncert = \"internal\"\nrequired = true\ndescription = \"d\"\n";
        let e = parse(text).expect_err("must fail");
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("imap-starttls"), "{e}");
    }

    #[test]
    fn any_target_needs_a_flag() {
        let text = "mode = \"multi\"\n[[path]]\nport = 143\nsource = \"ih\"\ntarget = \"any\"\n\
                    probe = \"tcp\"\ncert = \"external\"\nrequired = true\ndescription = \"d\"\n";
        let e = parse(text).expect_err("must fail");
        assert!(e.message.contains("flag"), "{e}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }
}
