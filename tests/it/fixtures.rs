//! Loopback fixtures: certificates from a test CA, TLS servers, a closed port, a listener
//! whose backlog is full, silent and wrong-protocol listeners, and a DNS server. Every
//! socket is on 127.0.0.1 or [`::1`] with an ephemeral port.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// A certificate authority for tests.
pub struct Ca {
    pub pem: String,
    pub der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A server identity: the chain to send and its key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Ca {
    /// A root CA with this common name and organisation.
    pub fn new(cn: &str, org: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        Self {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by this CA.
    pub fn leaf(&self, names: &[&str]) -> Identity {
        let mut params =
            CertificateParams::new(names.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// A server certificate with these subjectAltNames and common name, shaped by `tweak`.
    pub fn leaf_with(
        &self,
        names: &[&str],
        cn: &str,
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> Identity {
        let mut params =
            CertificateParams::new(names.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        tweak(&mut params);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// Writes the CA as PEM into `dir` and returns the path.
    pub fn write(&self, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, &self.pem).expect("write CA");
        p
    }
}

/// A self-signed certificate, as `MailStore` SPE makes for its internal ports.
pub fn self_signed(names: &[&str]) -> Identity {
    self_signed_with(names, |_| {})
}

/// A self-signed certificate shaped by `tweak` (its dates, say).
pub fn self_signed_with(names: &[&str], tweak: impl FnOnce(&mut CertificateParams)) -> Identity {
    let mut params =
        CertificateParams::new(names.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name.push(DnType::CommonName, names[0]);
    tweak(&mut params);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    Identity {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS acceptor serving `id` (TLS 1.2 and 1.3, no client authentication).
pub fn acceptor(id: Identity) -> tokio_rustls::TlsAcceptor {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(id.chain, id.key)
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// What a TLS test server does after the handshake.
#[derive(Clone, Copy, Debug)]
pub enum Serve {
    /// Nothing: holds the connection until the client closes.
    Hold,
    /// Writes these bytes at once (a greeting), then holds.
    Greet(&'static [u8]),
    /// Waits for the first bytes (a request), writes these, then closes.
    Answer(&'static [u8]),
    /// Waits for a request, writes `head`, `fill` `times` times and `tail` (as long as the
    /// client reads), then closes: an answer too long to keep.
    Flood {
        head: &'static [u8],
        fill: &'static [u8],
        times: usize,
        tail: &'static [u8],
    },
}

/// An HTTP answer like `MailStore`'s web servers give.
pub const HTTP_OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

/// A TLS server on `bind` (e.g. "127.0.0.1:0") that completes handshakes and then serves.
pub async fn tls_server(bind: &str, id: Identity, serve: Serve) -> SocketAddr {
    let acceptor = acceptor(id);
    let listener = TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut buf = [0u8; 1024];
                    match serve {
                        Serve::Hold => {}
                        Serve::Greet(b) => {
                            let _ = tls.write_all(b).await;
                        }
                        Serve::Answer(b) => {
                            let _ = tls.read(&mut buf).await;
                            let _ = tls.write_all(b).await;
                            let _ = tls.shutdown().await;
                            return;
                        }
                        Serve::Flood {
                            head,
                            fill,
                            times,
                            tail,
                        } => {
                            let _ = tls.read(&mut buf).await;
                            let _ = tls.write_all(head).await;
                            for _ in 0..times {
                                if tls.write_all(fill).await.is_err() {
                                    return;
                                }
                            }
                            let _ = tls.write_all(tail).await;
                            let _ = tls.shutdown().await;
                            return;
                        }
                    }
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A port on which nothing listens (bound, then released).
pub fn closed_port(ip: &str) -> SocketAddr {
    let l = std::net::TcpListener::bind((ip, 0)).expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a
}

/// A listener that never accepts, whose accept queue has been filled: further SYNs are
/// dropped by the kernel, which looks like a firewall DROP. Keep the guard alive.
#[cfg(target_os = "linux")]
pub struct FullBacklog {
    pub addr: SocketAddr,
    _listener: tokio::net::TcpListener,
    _fillers: Vec<std::net::TcpStream>,
}

/// Async because tokio's listen registers with the runtime's reactor.
#[cfg(target_os = "linux")]
#[allow(clippy::unused_async)]
pub async fn full_backlog() -> FullBacklog {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut fillers = Vec::new();
    // Fill the queue: connects complete until it is full, then hang; stop at the first
    // that does not complete quickly.
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    FullBacklog {
        addr,
        _listener: listener,
        _fillers: fillers,
    }
}

/// Accepts every connection and never says anything.
pub async fn silent_server(bind: &str) -> SocketAddr {
    let listener = TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// Answers any connection with `answer` and closes.
pub async fn canned_server(bind: &str, answer: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                let _ =
                    tokio::time::timeout(std::time::Duration::from_millis(200), s.read(&mut buf))
                        .await;
                let _ = s.write_all(answer).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

/// What the test DNS server answers for a name.
#[derive(Clone, Debug)]
pub enum Answer {
    Addrs(Vec<std::net::IpAddr>),
    NxDomain,
    ServFail,
    Silent,
}

/// A DNS server on 127.0.0.1 (UDP) that answers from `zone` (names without the final
/// dot); any other name gets NXDOMAIN.
pub async fn dns_server(zone: Vec<(&'static str, Answer)>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(q) = query.queries.first().cloned() else {
                continue;
            };
            let name = q.name().to_ascii();
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let answer = zone
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(Answer::NxDomain, |(_, a)| a.clone());
            let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
            reply.metadata.message_type = MessageType::Response;
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.metadata.recursion_available = true;
            reply.add_query(q.clone());
            match answer {
                Answer::Silent => continue,
                Answer::NxDomain => reply.metadata.response_code = ResponseCode::NXDomain,
                Answer::ServFail => reply.metadata.response_code = ResponseCode::ServFail,
                Answer::Addrs(ips) => {
                    for ip in ips {
                        let rdata = match (ip, q.query_type()) {
                            (std::net::IpAddr::V4(v4), RecordType::A) => RData::A(v4.into()),
                            (std::net::IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(v6.into()),
                            _ => continue,
                        };
                        reply.add_answer(Record::from_rdata(q.name().clone(), 60, rdata));
                    }
                }
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

/// An HTTP proxy that answers CONNECT: with `allow`, it tunnels to 127.0.0.1 on the
/// requested port; otherwise it answers 403 like a proxy whose policy forbids the target.
pub async fn connect_proxy(allow: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
                    match s.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let target = text
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let port: u16 = target
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                if !allow || !text.starts_with("CONNECT ") {
                    let _ = s
                        .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let Ok(mut upstream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                else {
                    let _ = s.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = s
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut s, &mut upstream).await;
            });
        }
    });
    addr
}

/// What TLS inspection does with one connection: end the client's TLS on `down` with
/// `acceptor`, open a TLS session of its own to `upstream` (any certificate), copy between.
pub async fn terminate_and_forward<S>(
    down: S,
    acceptor: tokio_rustls::TlsAcceptor,
    upstream: SocketAddr,
    name: rustls::pki_types::ServerName<'static>,
    tls: Arc<mssp_check::probe::tls::TlsContext>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(mut down) = acceptor.accept(down).await else {
        return;
    };
    let Ok(up) = tokio::net::TcpStream::connect(upstream).await else {
        return;
    };
    let Ok((mut up, _)) = tls.handshake(up, &name).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
}
