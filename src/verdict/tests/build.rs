//! A small builder of observations for the table tests: a path by its profile id from the
//! embedded profiles, an outcome, and the facts a probe would have recorded. Nothing here
//! sends traffic: the addresses are only written into the observation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::profile::Profiles;
use crate::config::HostSpec;
use crate::observation::Canary;
use crate::observation::{
    CertInfo, CertProblem, ConnectFailure, DnsFailure, E2eSeen, Observation, Outcome, ProtocolEnd,
    Timings, TlsFacts, TlsFailure, Trust,
};
use crate::probe::http::HttpHead;
use crate::probe::starttls::{Failure, Transcript};
use crate::verdict::Context;

/// The address every built observation probed (inside the namespaces' range, never used).
pub const ADDR: &str = "198.18.0.2";

/// One observation and the context it is judged in.
#[derive(Debug, Clone)]
pub struct Case {
    pub obs: Observation,
    pub ctx: Context,
}

/// The path `id` (e.g. `multi-8471-ih-mgmt`) to `host`, at its profile port, that connected
/// and completed; change what differs with the methods.
pub fn on(id: &str) -> Case {
    on_host(id, "target.lab")
}

/// As [`on`], to `host` (a name or an address literal).
pub fn on_host(id: &str, host: &str) -> Case {
    let profiles = Profiles::embedded().expect("embedded profiles");
    let path = profiles
        .all()
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no path {id} in the embedded profiles"))
        .clone();
    let port = path.port;
    let mut obs = Observation::new(
        Arc::new(path),
        Some(HostSpec::parse(host).expect("host")),
        port,
        Outcome::Completed,
    );
    obs.address = Some(SocketAddr::new(ADDR.parse().expect("ip"), port));
    obs.timings = Timings {
        dns: Some(Duration::from_millis(1)),
        connect: Some(Duration::from_millis(2)),
        total: Duration::from_millis(9),
        ..Timings::default()
    };

    Case { obs, ctx: ctx() }
}

/// The context of a check from `ih01` (role ih) with a 5 s step timeout and the embedded
/// interception signatures.
pub fn ctx() -> Context {
    Context {
        role_label: "ih",
        hostname: "ih01".into(),
        timeout: Duration::from_secs(5),
        pins: Vec::new(),
        signatures: crate::intercept::signatures::Signatures::embedded().expect("signatures"),
        token: None,
        expiry: crate::verdict::Expiry {
            warn_days: 30,
            now: time::macros::datetime!(2026-11-29 10:00 UTC),
        },
    }
}

impl Case {
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.obs.outcome = outcome;
        self
    }
    pub fn dns(self, f: DnsFailure) -> Self {
        let mut c = self.outcome(Outcome::Dns(f));
        c.obs.address = None;
        c
    }
    pub fn connect(self, f: ConnectFailure) -> Self {
        self.outcome(Outcome::Connect(f))
    }
    pub fn tls_failed(self, f: TlsFailure) -> Self {
        self.outcome(Outcome::Tls(f))
    }
    pub fn tls(mut self, facts: TlsFacts) -> Self {
        self.obs.tls = Some(facts);
        self
    }
    pub fn dialogue(mut self, t: Transcript) -> Self {
        self.obs.dialogue = Some(t);
        self
    }
    pub fn failure(mut self, f: Failure) -> Self {
        self.obs.dialogue_failure = Some(f);
        self
    }
    pub fn ended(mut self, e: ProtocolEnd) -> Self {
        self.obs.protocol_end = Some(e);
        self
    }
    pub fn http(mut self, head: HttpHead) -> Self {
        self.obs.http = Some(Ok(head));
        self
    }
    pub fn canary_open(mut self, said: &[u8]) -> Self {
        self.obs.canary = Some(Canary::Accepted {
            port: 1,
            said: said.to_vec(),
        });
        self
    }
    pub fn tries(mut self, attempts: u32, waited_ms: u64, early_ms: Option<u64>) -> Self {
        self.obs.connect_tries = Some(crate::observation::ConnectTries {
            attempts,
            waited: std::time::Duration::from_millis(waited_ms),
            early: early_ms.map(std::time::Duration::from_millis),
        });
        self
    }
    pub fn tls_connections(mut self, n: u8) -> Self {
        self.obs.tls_connections = n;
        self
    }
    pub fn stalls(mut self, n: u8) -> Self {
        self.obs.stalls = n;
        self
    }
    pub fn via(mut self, proxy: &str) -> Self {
        self.obs.via_proxy = Some(proxy.into());
        self
    }
    pub fn local(mut self) -> Self {
        self.obs.local_target = true;
        self
    }
    pub fn local_addr(mut self, a: &str) -> Self {
        self.obs.local_addr = Some(a.parse().expect("socket address"));
        self
    }
    pub fn e2e(mut self, seen: E2eSeen) -> Self {
        self.obs.e2e = Some(seen);
        self
    }
    pub fn pin(mut self, pin: &str) -> Self {
        self.ctx
            .pins
            .push(crate::config::pin::Pin::parse(pin).expect("pin"));
        self
    }
    pub fn token(mut self, token: &[u8]) -> Self {
        self.ctx.token = Some(token.to_vec());
        self
    }
}

/// A certificate; `sha` is repeated into both fingerprints so that a test can tell
/// certificates apart.
pub fn cert(subject: &str, issuer: &str, sha: char) -> CertInfo {
    CertInfo {
        subject: subject.into(),
        issuer: issuer.into(),
        sha1: sha.to_string().repeat(40),
        sha256: sha.to_string().repeat(64),
        not_before: "2026-01-01T00:00:00Z".into(),
        not_after: "2027-01-01T00:00:00Z".into(),
        san: vec!["target.lab".into()],
        self_signed: subject == issuer,
    }
}

/// Untrusted, for `problem`, with rustls's words for it.
pub fn untrusted(problem: CertProblem) -> Trust {
    let reason = match problem {
        CertProblem::UnknownIssuer => "issued by an unknown CA".to_string(),
        CertProblem::NameMismatch => "the certificate is not valid for target.lab".to_string(),
        CertProblem::Validity => "the certificate expired on 2025-01-01".to_string(),
        CertProblem::Revoked => "the certificate is revoked".to_string(),
        CertProblem::Other => "a signature in the chain does not verify".to_string(),
    };
    Trust::Untrusted { problem, reason }
}

/// A TLS 1.3 session with `chain`, judged `public` and `os`.
pub fn facts(chain: Vec<CertInfo>, public: Trust, os: Trust) -> TlsFacts {
    TlsFacts {
        version: rustls::ProtocolVersion::TLSv1_3,
        cipher: "TLS13_AES_256_GCM_SHA384".into(),
        client_cert_requested: false,
        ekm: None,
        chain,
        public,
        os,
    }
}

/// A self-signed certificate for `target.lab`, trusted by nobody.
pub fn self_signed() -> TlsFacts {
    facts(
        vec![cert("CN=target.lab", "CN=target.lab", 'a')],
        untrusted(CertProblem::UnknownIssuer),
        untrusted(CertProblem::UnknownIssuer),
    )
}

/// A leaf from a public CA, trusted by both judges.
pub fn public_trusted() -> TlsFacts {
    facts(
        vec![
            cert("CN=target.lab", "CN=R11, O=Let's Encrypt", 'b'),
            cert("CN=R11, O=Let's Encrypt", "CN=ISRG Root X1", 'c'),
        ],
        Trust::Trusted,
        Trust::Trusted,
    )
}

/// An HTTP answer with `headers`.
pub fn head(status: u16, reason: &str, headers: &[(&str, &str)]) -> HttpHead {
    HttpHead {
        status,
        reason: reason.into(),
        version: "HTTP/1.1".into(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect(),
        body_prefix: String::new(),
    }
}

/// An IMAP transcript: `greeting`, the capabilities before TLS, and whether it upgraded.
pub fn imap(greeting: &str, caps: &[&str], upgraded: bool) -> Transcript {
    Transcript {
        greeting: Some(greeting.into()),
        capabilities: caps.iter().map(|c| (*c).to_string()).collect(),
        starttls_offered: Some(caps.contains(&"STARTTLS")),
        upgraded,
        ..Transcript::default()
    }
}
