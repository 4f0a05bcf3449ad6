//! What a probe saw: raw facts with phase timings, before any judgement.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::{HostSpec, PathSpec};
use crate::probe::http::HttpHead;
use crate::probe::starttls::{DialogueStep, Failure, Transcript};

/// The step of a probe, named in every timeout and failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Dns,
    Connect,
    Tls,
    Protocol,
}

impl Phase {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Phase::Dns => "DNS lookup",
            Phase::Connect => "TCP connect",
            Phase::Tls => "TLS handshake",
            Phase::Protocol => "protocol dialogue",
        }
    }
}

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsFailure {
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no A or AAAA record.
    NoAddress,
    /// The server answered SERVFAIL (or REFUSED, …): named by `code`.
    ServerFailure { code: String },
    /// No DNS server answered in time.
    Timeout,
    /// No resolver configuration, or another local failure.
    Other(String),
}

/// How a connect attempt ended when it did not connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// TCP RST to our SYN.
    Refused,
    /// Nothing came back before the timeout.
    TimedOut,
    /// ICMP host/net unreachable or administratively prohibited, or no route here.
    Unreachable { detail: String },
    /// The HTTP proxy would not open a tunnel (`CONNECT` answered with an error): `status`
    /// is the HTTP status code, `None` when the answer was not HTTP; `line` is for display.
    ProxyRefused { status: Option<u16>, line: String },
    /// The peer completed the TCP handshake and reset the connection before the connect call
    /// returned: the OS says "reset" (ECONNRESET), not "refused", once the handshake is done.
    /// A direct probe goes on over a reset stream, so that this reads as the same reset a
    /// moment later would.
    ResetAfterAccept,
    /// Anything else the OS said (address in use, permission denied…).
    Other { detail: String },
}

impl Observation {
    /// An observation of `path` to `host` on `port` with `outcome` and nothing else recorded
    /// yet: the probe, the plan and the tests fill in what they saw.
    #[must_use]
    pub fn new(path: Arc<PathSpec>, host: Option<HostSpec>, port: u16, outcome: Outcome) -> Self {
        Self {
            path,
            host,
            port,
            address: None,
            local_target: false,
            other_attempts: Vec::new(),
            outcome,
            tls: None,
            dialogue: None,
            dialogue_failure: None,
            protocol_end: None,
            http: None,
            canary: None,
            via_proxy: None,
            local_addr: None,
            e2e: None,
            connect_tries: None,
            tls_connections: 0,
            stalls: 0,
            timings: Timings::default(),
        }
    }

    /// The target as written, with ` via PROXY` when the probe went through a proxy.
    #[must_use]
    pub fn host_label(&self) -> String {
        let host = self
            .host
            .as_ref()
            .map_or_else(|| "—".to_string(), crate::config::HostSpec::display_host);
        match &self.via_proxy {
            Some(p) => format!("{host} via {p}"),
            None => host,
        }
    }
}

impl DnsFailure {
    /// A few words, as in `dig`: `NXDOMAIN`, `no A/AAAA record`, `SERVFAIL`, `timeout`.
    #[must_use]
    pub fn short(&self) -> String {
        match self {
            DnsFailure::NxDomain => "NXDOMAIN".into(),
            DnsFailure::NoAddress => "no A/AAAA record".into(),
            DnsFailure::ServerFailure { code } => code.clone(),
            DnsFailure::Timeout => "timeout".into(),
            DnsFailure::Other(why) => crate::sanitize::printable(why, 60),
        }
    }
}

impl ConnectFailure {
    /// One line: the verdict word and the detail.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            ConnectFailure::Refused => "refused (TCP reset)".into(),
            ConnectFailure::ResetAfterAccept => "accepted, then reset at once".into(),
            ConnectFailure::TimedOut => "filtered (no answer)".into(),
            ConnectFailure::Unreachable { detail } => format!("unreachable: {detail}"),
            ConnectFailure::ProxyRefused { line, .. } => format!("proxy refused: {line}"),
            ConnectFailure::Other { detail } => detail.clone(),
        }
    }
}

/// A TLS handshake that did not complete, by cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server sent a TLS alert (during the handshake, or right after it, as TLS 1.3
    /// servers do when they reject the client's certificate).
    Alert {
        /// As rustls names it; reasons show its `Debug` name (`HandshakeFailure`).
        description: rustls::AlertDescription,
        /// The server had asked for a client certificate (this tool never has one).
        client_cert_requested: bool,
    },
    /// The bytes that came back are not TLS; `seen` holds the first of them (raw).
    NotTls { seen: Vec<u8> },
    /// The peer closed the connection during the handshake; `silent`: before sending a byte.
    Closed { silent: bool },
    /// The peer reset the connection during the handshake; `silent`: before sending a byte.
    Reset { silent: bool },
    /// No `ServerHello` before the timeout.
    TimedOut,
    /// The server began its handshake, then sent nothing more before the timeout.
    Stalled,
    /// Version or cipher negotiation failed, or another protocol error.
    Other { detail: String },
}

/// How a protocol conversation ended when the machine did not finish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolEnd {
    /// A read or write took longer than the step timeout, or the overall deadline passed.
    TimedOut { step: DialogueStep, overall: bool },
    /// The socket failed (reset, broken pipe…) outside the machine's view.
    Io { step: DialogueStep, detail: String },
    /// The TLS upgrade after STARTTLS failed.
    Tls(TlsFailure),
}

/// The outcome of one probe, raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No host was given for this path.
    Skipped {
        flag: &'static str,
    },
    Dns(DnsFailure),
    Connect(ConnectFailure),
    Tls(TlsFailure),
    /// Every step the probe kind has completed.
    Completed,
    /// Ctrl-C ended the run before this probe finished.
    Cancelled,
    /// Left out by `--only PORTS` or `--skip PORTS` (named in `by`).
    Excluded {
        by: &'static str,
    },
    /// The probe's task failed inside this tool (a panic): not an answer of the network.
    Internal {
        detail: String,
    },
    /// The probe exceeded its overall deadline while in `phase`.
    Deadline {
        phase: Phase,
    },
}

/// Why a verifier did not trust a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertProblem {
    /// The chain does not lead to a root this verifier trusts.
    UnknownIssuer,
    /// The certificate is not valid for the name or address probed.
    NameMismatch,
    /// Expired, or not valid yet.
    Validity,
    Revoked,
    /// Anything else: bad signature, wrong purpose, malformed.
    Other,
}

/// Trust of a chain as one verifier saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Trust {
    Trusted,
    Untrusted {
        problem: CertProblem,
        reason: String,
    },
}

impl Trust {
    #[must_use]
    pub fn is_trusted(&self) -> bool {
        matches!(self, Trust::Trusted)
    }
}

/// One certificate of the peer's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub sha1: String,
    pub sha256: String,
    pub not_before: String,
    pub not_after: String,
    pub san: Vec<String>,
    pub self_signed: bool,
}

impl CertInfo {
    /// When the certificate expires; `None` when the date was not readable (recorded empty).
    #[must_use]
    pub fn not_after_time(&self) -> Option<time::OffsetDateTime> {
        time::OffsetDateTime::parse(
            &self.not_after,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
    }
}

/// What the TLS handshake established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// As negotiated, or as the legacy look saw it (a version rustls does not speak).
    pub version: rustls::ProtocolVersion,
    pub cipher: String,
    /// The server asked for a client certificate (`CertificateRequest`); none was sent.
    pub client_cert_requested: bool,
    /// Keying material exported from this session for the end-to-end proof (hex; never
    /// reported: it only has to equal the responder's).
    pub ekm: Option<String>,
    pub chain: Vec<CertInfo>,
    pub public: Trust,
    pub os: Trust,
}

impl TlsFacts {
    /// `TLSv1.3`, `TLSv1.0`, `SSLv3`: the version as the reports name it.
    #[must_use]
    pub fn version_label(&self) -> String {
        version_label(self.version)
    }
}

/// `TLSv1.3` … `SSLv3`, or the number (`version 0x0200`).
#[must_use]
pub fn version_label(v: rustls::ProtocolVersion) -> String {
    use rustls::ProtocolVersion as V;
    match v {
        V::SSLv3 => "SSLv3".into(),
        V::TLSv1_0 => "TLSv1.0".into(),
        V::TLSv1_1 => "TLSv1.1".into(),
        V::TLSv1_2 => "TLSv1.2".into(),
        V::TLSv1_3 => "TLSv1.3".into(),
        other => format!("version 0x{:04x}", u16::from(other)),
    }
}

/// An end-to-end statement seen in a session (DESIGN §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E2eSeen {
    /// The statement, or why the text that carried the marker did not parse.
    pub statement: Result<crate::e2e::Statement, String>,
    /// The greeting text after the statement (IMAP), whose hash the statement carries.
    pub tail: Option<String>,
    /// The nonce this probe sent, if any.
    pub nonce: Option<String>,
}

/// The independent connect attempts to one address (each a fresh socket with the kernel's
/// own SYN retransmissions), so that one lost SYN or SYN-ACK never reads as a firewall drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectTries {
    /// Attempts started.
    pub attempts: u32,
    /// How long the first attempt waited in all.
    pub waited: Duration,
    /// Silence was called before the timeout, because hosts behind the same route answer
    /// within this (their slowest answer).
    pub early: Option<Duration>,
}

/// Time spent in each phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    pub dns: Option<Duration>,
    pub connect: Option<Duration>,
    pub tls: Option<Duration>,
    pub protocol: Option<Duration>,
    pub total: Duration,
}

/// What the canary port did: a port of the same host where nothing should listen (DESIGN
/// §5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canary {
    /// Accepted; `said` holds the first bytes if it spoke within the wait.
    Accepted { port: u16, said: Vec<u8> },
    /// Refused, dropped or unreachable: the expected answer of an ordinary host.
    Closed { port: u16, how: String },
}

/// One probe of one path to one address (or the attempt to find one).
#[derive(Debug, Clone)]
pub struct Observation {
    pub path: Arc<PathSpec>,
    pub host: Option<HostSpec>,
    pub port: u16,
    /// The address actually used (or tried first when none connected).
    pub address: Option<SocketAddr>,
    /// The address belongs to this machine.
    pub local_target: bool,
    /// Other addresses tried that did not connect, with why.
    pub other_attempts: Vec<(SocketAddr, ConnectFailure)>,
    pub outcome: Outcome,
    pub tls: Option<TlsFacts>,
    /// What the protocol dialogue saw (greeting, capabilities, STARTTLS).
    pub dialogue: Option<Transcript>,
    /// The machine's own verdict on the dialogue: `None` when it ran to its end.
    pub dialogue_failure: Option<Failure>,
    /// How the conversation ended when the machine did not end it.
    pub protocol_end: Option<ProtocolEnd>,
    /// The HTTP answer of an https probe.
    pub http: Option<Result<HttpHead, Failure>>,
    /// What a port of the same host where nothing should listen did, when asked.
    pub canary: Option<Canary>,
    /// The HTTP proxy this probe was tunnelled through (`http://host:port`).
    pub via_proxy: Option<String>,
    /// This side's address of the connection.
    pub local_addr: Option<SocketAddr>,
    /// What an `mssp-check listen` responder stated inside the session, if one answered.
    pub e2e: Option<E2eSeen>,
    /// How the TCP connect went: independent attempts, and whether silence was called early.
    pub connect_tries: Option<ConnectTries>,
    /// Connections that waited for a TLS answer (2 when the first stayed silent and a fresh
    /// one raced it).
    pub tls_connections: u8,
    /// 2 when the probe connected and then heard nothing twice, on two connections.
    pub stalls: u8,
    pub timings: Timings,
}
