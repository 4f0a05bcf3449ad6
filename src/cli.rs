//! Command-line syntax (clap). Only syntax lives here; `config` gives it meaning.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  mssp-check --role ih --mgmt mgmt01 --imap mail.example.com
  mssp-check --role mgmt --ih ih01,ih02 --cas cas01 --format json
  mssp-check profiles --role cas

Exit codes:
  0  every required path is ok
  1  a required path is blocked, intercepted or broken (warnings too with --strict)
  2  bad input: usage, an unknown role, a malformed host or profile
  3  the tool itself failed
  With --format nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad input included)";

/// Checks the network paths of a MailStore Service Provider Edition deployment: which
/// required ports are blocked, and which are intercepted by antivirus or UTM proxies.
#[derive(Debug, Parser)]
#[command(name = "mssp-check", version, after_help = AFTER_HELP)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the outbound paths of a role (the default command).
    Check(Box<CheckArgs>),
    /// List the paths of the vendor's port tables.
    Profiles(ProfilesArgs),
    /// Print the inbound firewall rules a role needs (netsh, PowerShell or nftables).
    Firewall(FirewallArgs),
    /// Before go-live: answer on the inbound ports of a role, so that its peers can check
    /// the firewall end to end before MailStore is installed.
    Listen(ListenArgs),
    /// A whole deployment on loopback: responders, an intercepting relay, a closed port,
    /// and the checks of several roles against them.
    Demo(DemoArgs),
    /// Merge the JSON reports of many hosts into the deployment's view: a matrix of targets
    /// by source hosts, the problems, and what only a merge can see.
    #[command(after_help = REPORT_AFTER_HELP)]
    Report(ReportArgs),
    /// What a verdict or finding of the report means, what causes it, and how to fix it.
    Explain(ExplainArgs),
    /// Print the shell completion script (e.g. `mssp-check completions bash > /etc/bash_completion.d/mssp-check`).
    Completions(CompletionsArgs),
    /// Print the manual page (roff; e.g. `mssp-check man | man -l -`).
    Man,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// A verdict (refused, intercepted, …) or a finding (cert-expiring, local-root, …), as
    /// the report prints it; without one, the list of all.
    #[arg(value_name = "VERDICT|FINDING")]
    pub word: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// SERVER of single server mode
    Server,
    /// Management Server
    Mgmt,
    /// Instance Host
    Ih,
    /// Client Access Server
    Cas,
    /// an administrator's machine (ADM)
    Adm,
    /// an archive user's machine (ANY)
    Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Single,
    Multi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// a table for people
    #[default]
    Table,
    /// one JSON document (schema mssp-check/report/1)
    Json,
    /// JUnit XML for CI systems
    Junit,
    /// Markdown for a support ticket
    Markdown,
    /// Prometheus text, for the textfile collector of the node or Windows exporter
    Prometheus,
    /// a monitoring plugin (Nagios, Icinga, Checkmk, PRTG): status line, perfdata, exit 0-3
    Nagios,
}

/// Formats of `mssp-check profiles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ListFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorArg {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CheckArgs {
    /// The role of this machine; its outbound paths are checked.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// A site file naming every host of the deployment (see examples/site.toml); flags win.
    #[arg(long, value_name = "FILE")]
    pub site: Option<PathBuf>,

    /// SERVER of single server mode (a host, with an optional :port).
    #[arg(long, value_name = "HOST", help_heading = "Peers")]
    pub server: Option<String>,
    /// Management Server (a host, with an optional :port).
    #[arg(long, value_name = "HOST", help_heading = "Peers")]
    pub mgmt: Option<String>,
    /// Instance Hosts, comma-separated or repeated.
    #[arg(long, value_name = "HOST[,HOST…]", help_heading = "Peers")]
    pub ih: Vec<String>,
    /// Client Access Servers, comma-separated or repeated.
    #[arg(long, value_name = "HOST[,HOST…]", help_heading = "Peers")]
    pub cas: Vec<String>,

    /// A customer's IMAP server to archive from (143 and 993).
    #[arg(long, value_name = "HOST", help_heading = "Archiving targets")]
    pub imap: Vec<String>,
    /// A customer's POP3 server (110 and 995).
    #[arg(long, value_name = "HOST", help_heading = "Archiving targets")]
    pub pop3: Vec<String>,
    /// A customer's Exchange server, checked at /EWS/Exchange.asmx (443).
    #[arg(long, value_name = "HOST", help_heading = "Archiving targets")]
    pub ews: Vec<String>,
    /// A customer's LDAP or Active Directory server (389 and 636).
    #[arg(long, value_name = "HOST", help_heading = "Archiving targets")]
    pub ldap: Vec<String>,
    /// Check this host instead of my.mailstore.com (labs, mirrors).
    #[arg(long, value_name = "HOST", help_heading = "Archiving targets")]
    pub mailstore_host: Option<String>,

    /// Add N to every port of the profiles (for responders on unprivileged ports).
    #[arg(long, value_name = "N", help_heading = "Probing")]
    pub port_offset: Option<u16>,
    /// Probe every address of a name, not only the first that answers.
    #[arg(long, help_heading = "Probing")]
    pub all_addresses: bool,
    /// Wait this long for each step: connect, TLS handshake, each read (e.g. 5s, 800ms)
    /// [default: 5s].
    #[arg(long, value_name = "DURATION", help_heading = "Probing")]
    pub timeout: Option<String>,
    /// Probes in flight at once [default: 256].
    #[arg(long, value_name = "N", help_heading = "Probing")]
    pub concurrency: Option<usize>,
    /// Ask this DNS server (an IP, with an optional :port) instead of the system's resolvers.
    #[arg(long, value_name = "IP[:PORT]", help_heading = "Probing")]
    pub dns_server: Option<String>,
    /// Extra root certificates (PEM) that count as publicly trusted.
    #[arg(long, value_name = "FILE", help_heading = "Probing")]
    pub public_ca: Vec<PathBuf>,
    /// Load the port tables from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR", help_heading = "Probing")]
    pub profiles: Option<PathBuf>,

    /// The expected certificate of an endpoint: SHA-1 thumbprint (as SPE shows it) or SHA-256.
    #[arg(
        long,
        value_name = "HOST:PORT=FINGERPRINT",
        help_heading = "Interception"
    )]
    pub pin: Vec<String>,
    /// More interception signatures (TOML, the format of profiles/interception.toml).
    #[arg(long, value_name = "FILE", help_heading = "Interception")]
    pub signatures: Vec<PathBuf>,
    /// The secret shared with `mssp-check listen --token`: only the real responder can then
    /// prove the session end to end.
    #[arg(
        long,
        value_name = "SECRET",
        env = "MSSP_CHECK_TOKEN",
        hide_env_values = true,
        help_heading = "Interception"
    )]
    pub token: Option<String>,
    /// Also try a port where nothing should listen on every target (always done when a
    /// path comes out no-service).
    #[arg(long, help_heading = "Interception")]
    pub canary: bool,
    /// Check my.mailstore.com also through this HTTP proxy (default: `HTTPS_PROXY`, or on
    /// Windows the `WinHTTP` / Internet Options proxy).
    #[arg(long, value_name = "URL", help_heading = "Interception")]
    pub proxy: Option<String>,
    /// Do not use any proxy, not even the system's.
    #[arg(long, conflicts_with = "proxy", help_heading = "Interception")]
    pub no_proxy: bool,
    /// Warn when a certificate of a TLS path expires within DAYS (SPE pins thumbprints, so a
    /// renewal must be seen coming) [default: 30].
    #[arg(long, value_name = "DAYS", help_heading = "Interception")]
    pub expiry_warning: Option<u32>,
    /// The port the canary tries.
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 9,
        help_heading = "Interception"
    )]
    pub canary_port: u16,

    /// Check only these ports of the port tables (before --port-offset), e.g. `--only 8471,8472`;
    /// the rest are reported as skipped.
    #[arg(
        long,
        value_name = "PORTS",
        conflicts_with = "skip",
        help_heading = "Targets"
    )]
    pub only: Option<String>,
    /// Leave these ports of the port tables out, e.g. `--skip 110,995`.
    #[arg(long, value_name = "PORTS", help_heading = "Targets")]
    pub skip: Option<String>,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Table, help_heading = "Output")]
    pub format: Format,
    /// Colour in the table.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, help_heading = "Output")]
    pub color: ColorArg,
    /// Treat warnings (optional paths, untrusted external certificates) as failures.
    #[arg(long, help_heading = "Output")]
    pub strict: bool,
    /// More detail: the phase timings of each row in the table, and logs on stderr (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
    /// Only the paths that fail or warn in the table (the summary stays).
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ProfilesArgs {
    /// Only the paths whose source is this role.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// Only this mode.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Load the port tables from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub profiles: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FirewallFormatArg {
    /// `netsh advfirewall` commands, as in the vendor's document
    Netsh,
    /// `New-NetFirewallRule` commands
    Powershell,
    /// an `nft -f` file
    Nftables,
}

#[derive(Debug, Clone, Args)]
pub struct FirewallArgs {
    /// The role of the machine the rules are for.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Rule syntax.
    #[arg(long, value_enum, default_value_t = FirewallFormatArg::Netsh)]
    pub format: FirewallFormatArg,
    /// A site file naming every host of the deployment (see examples/site.toml); flags win.
    #[arg(long, value_name = "FILE")]
    pub site: Option<PathBuf>,
    /// The administrators' network (CIDR), for the ADM ports 8470 and 8474; repeatable.
    #[arg(long, value_name = "CIDR")]
    pub admin_net: Vec<String>,
    /// Management Server (its address becomes the source of its rules).
    #[arg(long, value_name = "HOST")]
    pub mgmt: Option<String>,
    /// Instance Hosts, comma-separated or repeated.
    #[arg(long, value_name = "HOST[,HOST…]")]
    pub ih: Vec<String>,
    /// Client Access Servers, comma-separated or repeated.
    #[arg(long, value_name = "HOST[,HOST…]")]
    pub cas: Vec<String>,
    /// Ask this DNS server (an IP, with an optional :port) instead of the system's resolvers.
    #[arg(long, value_name = "IP[:PORT]")]
    pub dns_server: Option<String>,
    /// Load the port tables from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub profiles: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// The role whose inbound ports to answer on (server, mgmt, ih or cas).
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The address to listen on [default: every address].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::IpAddr>,
    /// Add N to every port (no root needed, or beside a running service).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port_offset: u16,
    /// The certificate to serve (PEM) [default: a self-signed one made at start].
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Stop after this long (e.g. 15m, 90s).
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub duration: String,
    /// Connections served at once (fewer if the open-file limit is lower); beyond, one is told the responder is busy.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_connections: usize,
    /// Bytes read per connection at most.
    #[arg(long, value_name = "BYTES", default_value_t = 65536)]
    pub max_bytes: usize,
    /// A secret shared with the checking side (`--token`): statements are signed with it.
    #[arg(
        long,
        value_name = "SECRET",
        env = "MSSP_CHECK_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Load the port tables from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub profiles: Option<PathBuf>,
}

const REPORT_AFTER_HELP: &str = "\
Examples:
  mssp-check report reports/                        # every *.json in the directory
  mssp-check report mgmt01.json ih01.json cas01.json --site site.toml
  mssp-check report reports/ --format html > deployment.html

Exit codes:
  0  every required path of every report is ok, and the merge found nothing
  1  a required path failed, or the merge found cert-differs, blocked-from-some or
     listens-but-blocked (with --strict: any warning, a host that never reported, a path
     that no report covers)
  2  bad input: an unreadable, oversized or non-JSON file, a file of another schema, no
     report at all, a malformed site file
  3  the tool itself failed";

/// Formats of `mssp-check report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DeploymentFormat {
    /// the matrix and the problems, for a terminal
    #[default]
    Table,
    /// for pasting into a ticket
    Markdown,
    /// one JSON document (schema mssp-check/deployment/1)
    Json,
    /// JUnit XML: one testsuite per source host, and one for the merge's findings
    Junit,
    /// one self-contained HTML file (no external scripts, fonts or styles)
    Html,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// JSON reports of `mssp-check --format json`, or directories of them (their *.json
    /// files, not recursive, in name order).
    #[arg(value_name = "FILE|DIR", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The site file the hosts were checked with: names the hosts that never reported and
    /// the required paths between site hosts that no report covers.
    #[arg(long, value_name = "FILE")]
    pub site: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DeploymentFormat::Table)]
    pub format: DeploymentFormat,
    /// Colour in the table.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Treat warnings (optional paths, hosts that never reported, uncovered paths) as
    /// failures.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Colour in the tables.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}
