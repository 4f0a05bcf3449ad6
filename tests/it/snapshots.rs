//! Snapshots of what users read: the table, the JUnit and Markdown reports, and `--help`.
//! The report is built from fixed observations (no network, no clock), judged by the real
//! verdict module, so that a change in wording or layout shows as a reviewed diff
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test` and read `git diff`).

use std::sync::Arc;
use std::time::Duration;

use mssp_check::config::profile::{Mode, Role};
use mssp_check::config::{self, HostSpec};
use mssp_check::observation::{
    CertInfo, ConnectFailure, DnsFailure, Observation, Outcome, Timings, TlsFacts, Trust,
};
use mssp_check::probe::starttls::Transcript;
use mssp_check::report::{self, Meta, Report, Style};
use mssp_check::verdict::Context;

fn path(id: &str) -> Arc<config::PathSpec> {
    let profiles = config::load_profiles(None).expect("embedded profiles");
    let p = profiles
        .all()
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no path {id}"));
    Arc::new(p.clone())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn obs(id: &str, host: Option<&str>, port: u16, outcome: Outcome) -> Observation {
    // Where the probe got to the network: not for a name that did not resolve.
    let address = host
        .filter(|_| !matches!(outcome, Outcome::Dns(_)))
        .map(|_| {
            format!("198.18.0.{}:{port}", 2 + port % 200)
                .parse()
                .expect("addr")
        });
    let mut o = Observation::new(
        path(id),
        host.map(|h| HostSpec::parse(h).expect("host")),
        port,
        outcome,
    );
    o.address = address;
    o.timings = Timings {
        dns: Some(ms(1)),
        connect: Some(ms(2)),
        total: Duration::from_millis(12),
        ..Timings::default()
    };
    o
}

fn cert(subject: &str, issuer: &str, san: &[&str], n: u8) -> CertInfo {
    CertInfo {
        subject: subject.into(),
        issuer: issuer.into(),
        sha1: format!("{n:02x}").repeat(20),
        sha256: format!("{n:02x}").repeat(32),
        not_before: "2026-01-01T00:00:00Z".into(),
        not_after: "2027-01-01T00:00:00Z".into(),
        san: san.iter().map(|s| (*s).to_string()).collect(),
        self_signed: subject == issuer,
    }
}

fn tls(chain: Vec<CertInfo>, public: Trust, os: Trust) -> TlsFacts {
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

fn unknown_ca() -> Trust {
    Trust::Untrusted {
        problem: mssp_check::observation::CertProblem::UnknownIssuer,
        reason: "issued by an unknown CA".into(),
    }
}

/// An Instance Host's run: every verdict a first run typically shows.
fn ih_run() -> Vec<Observation> {
    let mut out = Vec::new();

    let mut ok = obs(
        "multi-8471-ih-mgmt",
        Some("mgmt01"),
        8471,
        Outcome::Completed,
    );
    ok.tls = Some(tls(
        vec![cert("CN=mgmt01", "CN=mgmt01", &["mgmt01"], 0x9f)],
        unknown_ca(),
        unknown_ca(),
    ));
    ok.timings.tls = Some(ms(3));
    out.push(ok);

    out.push(obs(
        "multi-8470-ih-mgmt",
        Some("mgmt01"),
        8470,
        Outcome::Connect(ConnectFailure::Refused),
    ));

    let mut mitm = obs(
        "multi-443-ih-any",
        Some("exchange.example.com"),
        443,
        Outcome::Completed,
    );
    mitm.tls = Some(tls(
        vec![
            cert(
                "CN=exchange.example.com",
                "CN=FortiGate CA, O=Fortinet",
                &["exchange.example.com"],
                0xab,
            ),
            cert(
                "CN=FortiGate CA, O=Fortinet",
                "CN=FortiGate CA, O=Fortinet",
                &[],
                0xfc,
            ),
        ],
        unknown_ca(),
        unknown_ca(),
    ));
    out.push(mitm);

    let mut imap = obs(
        "multi-143-ih-any",
        Some("mail.example.com"),
        143,
        Outcome::Completed,
    );
    imap.dialogue = Some(Transcript {
        greeting: Some("* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.".into()),
        capabilities: vec!["IMAP4REV1".into(), "STARTTLS".into()],
        capabilities_tls: vec!["IMAP4REV1".into(), "AUTH=PLAIN".into()],
        starttls_offered: Some(true),
        starttls_response: Some("a2 OK Begin TLS negotiation now.".into()),
        upgraded: true,
        ..Transcript::default()
    });
    imap.tls = Some(tls(
        vec![cert(
            "CN=mail.example.com",
            "CN=Example Public CA",
            &["mail.example.com"],
            0x42,
        )],
        Trust::Trusted,
        Trust::Trusted,
    ));
    out.push(imap);

    out.push(obs(
        "multi-993-ih-any",
        Some("mail.example.com"),
        993,
        Outcome::Connect(ConnectFailure::TimedOut),
    ));
    out.push(obs(
        "multi-389-ih-any",
        Some("dc01.example.com"),
        389,
        Outcome::Dns(DnsFailure::NxDomain),
    ));
    for (id, port, flag) in [
        ("multi-110-ih-any", 110, "--pop3"),
        ("multi-995-ih-any", 995, "--pop3"),
    ] {
        out.push(obs(id, None, port, Outcome::Skipped { flag }));
    }
    out
}

fn report() -> Report {
    let meta = Meta {
        version: "0.0.0-snapshot",
        role: Role::Ih,
        roles: vec![Role::Ih],
        os_hostname: "IH01".into(),
        addresses: Vec::new(),
        modes: vec![Mode::Multi],
        hostname: "ih01".into(),
        started_at: "2026-11-29T10:00:00Z".into(),
        duration_ms: 812,
        strict: false,
        stopped: None,
        notes: vec!["a note about the run".into()],
        inbound: Vec::new(),
    };
    let ctx = Context {
        role_label: Role::Ih.label(),
        hostname: "ih01".into(),
        timeout: Duration::from_secs(5),
        pins: Vec::new(),
        signatures: config::load_signatures(&[]).expect("signatures"),
        token: None,
        expiry: mssp_check::verdict::Expiry {
            warn_days: 30,
            now: time::macros::datetime!(2026-11-29 10:00 UTC),
        },
    };
    let judged = mssp_check::verdict::judge_run(ih_run(), &ctx);
    Report::build(meta, judged.rows)
}

fn render(style: Style) -> String {
    let mut out = Vec::new();
    report::render(&report(), style, &mut out).expect("render");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn table() {
    insta::assert_snapshot!(render(Style::Table {
        color: false,
        width: Some(140),
        view: report::TableView::default(),
    }));
}

#[test]
fn table_quiet_with_phases() {
    insta::assert_snapshot!(render(Style::Table {
        color: false,
        width: Some(160),
        view: report::TableView {
            quiet: true,
            phases: true,
        },
    }));
}

#[test]
fn junit() {
    insta::assert_snapshot!(render(Style::Junit));
}

#[test]
fn markdown() {
    insta::assert_snapshot!(render(Style::Markdown));
}

#[test]
fn explain_intercepted() {
    let out = crate::bin()
        .args(["explain", "intercepted"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

fn help(args: &[&str]) -> String {
    let out = crate::bin()
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{args:?}");
    // Windows names the binary with its extension in "Usage:".
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .replace("mssp-check.exe", "mssp-check")
}

#[test]
fn help_texts() {
    for (name, args) in [
        ("help", &["--help"][..]),
        ("help_profiles", &["profiles", "--help"][..]),
        ("help_firewall", &["firewall", "--help"][..]),
        ("help_listen", &["listen", "--help"][..]),
        ("help_explain", &["explain", "--help"][..]),
        ("help_report", &["report", "--help"][..]),
    ] {
        insta::assert_snapshot!(name, help(args));
    }
}
