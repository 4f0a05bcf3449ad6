//! `mssp-check demo`: a whole multi-server deployment on loopback — responders for the
//! Management Server, an Instance Host and a Client Access Server — with a TLS-intercepting
//! relay and a closed port in the way, checked from every role. Needs no root and sends
//! nothing beyond 127.0.0.1.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Profiles, Role};
use crate::error::RunError;
use crate::exit::Exit;
use crate::probe::connector::TcpConnector;
use crate::probe::tls::TlsContext;
use crate::report;
use crate::responder::{self, ListenConfig};

/// The secret the demo's responders and probes share.
const TOKEN: &str = "mssp-check-demo";

/// Offsets tried for the responders' ports (8470 + offset must stay below 65536).
const OFFSETS: [u16; 5] = [20000, 30000, 40000, 50000, 10000];

/// `mssp-check demo`: runs the demo and writes its reports.
///
/// # Errors
/// When no free set of loopback ports is found or a responder cannot start.
pub async fn run(options: &crate::cli::DemoArgs, out: &mut dyn Write) -> Result<Exit, RunError> {
    // `mssp-check demo | head`: a reader that goes away ends the demo quietly (STYLE 14).
    let mut out = report::UntilGone::new(out);
    let out = &mut out;
    let style = crate::app::table_style(options.color);
    let internal = |e: String| RunError::Internal(format!("demo: {e}"));
    let profiles = Profiles::embedded().map_err(|e| internal(e.to_string()))?;
    let offset = free_offset(&profiles)
        .ok_or_else(|| internal("no free set of loopback ports for the responders".into()))?;
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();

    let mut ready = Vec::new();
    for role in [Role::Mgmt, Role::Ih, Role::Cas] {
        let mut cfg = ListenConfig::new(role, profiles.clone());
        cfg.bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
        cfg.port_offset = offset;
        cfg.duration = Duration::from_secs(300);
        cfg.token = Some(TOKEN.as_bytes().to_vec());
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let mut sink = std::io::sink();
            let _ = responder::run(&cfg, cancel, &mut sink).await;
        });
        ready.extend(
            inbound_ports(&profiles, role)
                .into_iter()
                .map(|p| p + offset),
        );
    }
    for port in ready {
        wait_listening(port).await.map_err(internal)?;
    }
    let relay = relay(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 8472 + offset)),
        cancel.clone(),
    )
    .await
    .map_err(internal)?;
    let closed = {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| internal(e.to_string()))?;
        l.local_addr().map_err(|e| internal(e.to_string()))?
    };

    writeln!(
        out,
        "mssp-check demo: responders for a Management Server, an Instance Host and a Client Access\n\
         Server on 127.0.0.1 (ports + {offset}), the Instance Host's 8472 also behind a TLS-intercepting\n\
         relay on {relay}, and a closed port {closed} where the Client Access Server's 8473 should be.\n\
         my.mailstore.com is left out: the demo sends nothing beyond this machine.\n"
    )
    .map_err(|e| internal(e.to_string()))?;

    let o = offset.to_string();
    let runs: [(&str, Vec<String>); 3] = [
        (
            "An Instance Host: every path it needs is open, end to end",
            vec![
                "--role".into(),
                "ih".into(),
                "--mgmt".into(),
                "127.0.0.1".into(),
                "--port-offset".into(),
                o.clone(),
            ],
        ),
        (
            "The Management Server: a relay intercepts 8472, and 8473 is closed",
            vec![
                "--role".into(),
                "mgmt".into(),
                "--ih".into(),
                relay.to_string(),
                "--cas".into(),
                closed.to_string(),
                "--port-offset".into(),
                o.clone(),
            ],
        ),
        (
            "An archive user: IMAP with STARTTLS, HTTPS and IMAPS on the Client Access Server",
            vec![
                "--role".into(),
                "client".into(),
                "--cas".into(),
                "127.0.0.1".into(),
                "--port-offset".into(),
                o,
            ],
        ),
    ];
    for (title, args) in runs {
        if out.gone() {
            return Ok(Exit::Ok);
        }
        writeln!(out, "=== {title}\n").map_err(|e| internal(e.to_string()))?;
        let argv = ["mssp-check".to_string()].into_iter().chain(args).chain([
            "--token".into(),
            TOKEN.into(),
            "--no-proxy".into(),
            "--timeout".into(),
            "2s".into(),
        ]);
        let cli = crate::cli::Cli::try_parse_from(argv).map_err(|e| internal(e.to_string()))?;
        let mut cfg = config::validate_check(&cli.check)?;
        cfg.targets.mailstore = None;
        // The demo's own responders listen here; the self-check would only show them.
        cfg.check_inbound = false;
        let report = crate::app::check_with(&cfg, TcpConnector, cancel.child_token()).await?;
        report::render(&report, style, out).map_err(|e| internal(e.to_string()))?;
        writeln!(out).map_err(|e| internal(e.to_string()))?;
    }
    writeln!(
        out,
        "Try the same between your own machines: `mssp-check listen --role ih` on an Instance Host\n\
         before MailStore is installed, and `mssp-check --role mgmt --ih THAT-HOST` on the Management Server."
    )
    .map_err(|e| internal(e.to_string()))?;
    Ok(Exit::Ok)
}

/// The ports that paths of the profiles end at for a role.
fn inbound_ports(profiles: &Profiles, role: Role) -> Vec<u16> {
    responder::inbound_ports(profiles, role)
        .iter()
        .map(|p| p.port)
        .collect()
}

/// An offset at which every responder port is free on 127.0.0.1.
fn free_offset(profiles: &Profiles) -> Option<u16> {
    let ports: Vec<u16> = [Role::Mgmt, Role::Ih, Role::Cas]
        .iter()
        .flat_map(|r| inbound_ports(profiles, *r))
        .collect();
    OFFSETS.into_iter().find(|&o| {
        ports.iter().all(|p| {
            p.checked_add(o).is_some_and(|port| {
                std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
            })
        })
    })
}

async fn wait_listening(port: u16) -> Result<(), String> {
    for _ in 0..50 {
        if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    Err(format!(
        "the responder did not start listening on 127.0.0.1:{port}"
    ))
}

/// A TLS-terminating relay, as TLS-inspecting proxies are: it presents its own certificate
/// (from its own CA) and opens a new TLS session to `upstream`.
async fn relay(upstream: SocketAddr, cancel: CancellationToken) -> Result<SocketAddr, String> {
    let (chain, key) = inspection_identity().map_err(|e| format!("relay certificate: {e}"))?;
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let client = Arc::new(TlsContext::new(&[]).map_err(|e| e.to_string())?);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = cancel.cancelled() => return,
                a = listener.accept() => a,
            };
            let Ok((tcp, _)) = accepted else { return };
            let (acceptor, client) = (acceptor.clone(), Arc::clone(&client));
            tokio::spawn(async move {
                let relay_once = async {
                    let mut down = acceptor.accept(tcp).await.ok()?;
                    let up_tcp = tokio::net::TcpStream::connect(upstream).await.ok()?;
                    let name = ServerName::IpAddress(upstream.ip().into());
                    let (mut up, _) = client.handshake(up_tcp, &name).await.ok()?;
                    tokio::io::copy_bidirectional(&mut down, &mut up).await.ok()
                };
                let _ = tokio::time::timeout(Duration::from_secs(30), relay_once).await;
            });
        }
    });
    Ok(addr)
}

/// The relay's CA and leaf, named like the TLS-inspection CAs of UTM products.
fn inspection_identity(
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "mssp-check demo TLS inspection CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "mssp-check demo relay");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate()?;
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let key = KeyPair::generate()?;
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok((
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    ))
}
