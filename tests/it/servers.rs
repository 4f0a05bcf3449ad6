//! Small IMAP, POP3 and LDAP servers on loopback, each with the switches the tests need:
//! STARTTLS offered, missing or refused, and the TLS upgrade done with tokio-rustls.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::fixtures::Identity;

/// How a server answers STARTTLS / STLS / the LDAP `StartTLS` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    Offer,
    /// Not in the capabilities, and answered BAD / -ERR (no TLS here, or a stripper that
    /// also blocks the command).
    Missing,
    /// Not in the capabilities, but it works (a middlebox edited the list on the way).
    Hidden,
    /// IMAP: not in the capabilities and refused, yet `LOGINDISABLED` is listed (a server
    /// that wants TLS for logins, behind a middlebox that removed STARTTLS).
    StrippedLoginDisabled,
    /// Listed and sent as `XXXXXXXX` / `XXXX`, the way a masking middlebox leaves both the
    /// list and the command; the server quotes the masked command in its answer.
    Masked,
    /// Listed, but answered NO / -ERR / resultCode 52.
    Refuse,
}

fn acceptor(id: Identity) -> TlsAcceptor {
    crate::fixtures::acceptor(id)
}

async fn serve<F, Fut>(session: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(session(s));
        }
    });
    addr
}

/// Reads one line, at most 1 KiB.
async fn line<S: AsyncRead + Unpin>(r: &mut BufReader<S>) -> Option<String> {
    let mut buf = Vec::new();
    let n = (&mut *r)
        .take(1024)
        .read_until(b'\n', &mut buf)
        .await
        .ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf).trim_end().to_string())
}

/// An IMAP server: greeting, CAPABILITY, STARTTLS, LOGOUT.
pub async fn imap(id: Identity, mode: StartTls) -> SocketAddr {
    imap_greeting(
        id,
        mode,
        b"* OK [CAPABILITY IMAP4rev1 STARTTLS] test ready\r\n",
    )
    .await
}

/// The IMAP server of [`imap`] with its own greeting (bytes, line end included: a greeting
/// need not be UTF-8 or printable).
pub async fn imap_greeting(id: Identity, mode: StartTls, greeting: &'static [u8]) -> SocketAddr {
    let acceptor = acceptor(id);
    serve(move |tcp| {
        let acceptor = acceptor.clone();
        async move {
            let mut r = BufReader::new(tcp);
            if r.get_mut().write_all(greeting).await.is_err() {
                return;
            }
            if imap_loop(&mut r, mode, false).await {
                let tcp = r.into_inner();
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let mut r = BufReader::new(tls);
                    imap_loop(&mut r, mode, true).await;
                }
            }
        }
    })
    .await
}

/// Serves commands until LOGOUT (false) or an accepted STARTTLS (true).
async fn imap_loop<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    mode: StartTls,
    tls: bool,
) -> bool {
    while let Some(l) = line(r).await {
        let mut words = l.splitn(2, ' ');
        let tag = words.next().unwrap_or("*").to_string();
        let cmd = words.next().unwrap_or("").to_ascii_uppercase();
        let reply = match cmd.as_str() {
            "CAPABILITY" => {
                let st = match mode {
                    _ if tls => "",
                    StartTls::Missing | StartTls::Hidden => "",
                    StartTls::StrippedLoginDisabled => " LOGINDISABLED",
                    StartTls::Masked => " XXXXXXXX",
                    StartTls::Offer | StartTls::Refuse => " STARTTLS",
                };
                format!(
                    "* CAPABILITY IMAP4rev1{st} AUTH=PLAIN\r\n{tag} OK CAPABILITY completed\r\n"
                )
            }
            "STARTTLS" if mode == StartTls::Refuse => {
                format!("{tag} NO STARTTLS not available now\r\n")
            }
            "STARTTLS" if matches!(mode, StartTls::Missing | StartTls::StrippedLoginDisabled) => {
                format!("{tag} BAD Unknown command\r\n")
            }
            "STARTTLS" if mode == StartTls::Masked => {
                format!("{tag} BAD Error in IMAP command XXXXXXXX: Unknown command.\r\n")
            }
            "STARTTLS" => {
                let _ = r
                    .get_mut()
                    .write_all(format!("{tag} OK Begin TLS negotiation now\r\n").as_bytes())
                    .await;
                return true;
            }
            "LOGOUT" => {
                let _ = r
                    .get_mut()
                    .write_all(
                        format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n").as_bytes(),
                    )
                    .await;
                return false;
            }
            _ => format!("{tag} BAD unknown command\r\n"),
        };
        if r.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return false;
        }
    }
    false
}

/// A POP3 server: greeting, CAPA, STLS, QUIT.
pub async fn pop3(id: Identity, mode: StartTls, greeting: &'static str) -> SocketAddr {
    let acceptor = acceptor(id);
    serve(move |tcp| {
        let acceptor = acceptor.clone();
        async move {
            let mut r = BufReader::new(tcp);
            if r.get_mut()
                .write_all(format!("{greeting}\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            if pop3_loop(&mut r, mode, false).await {
                let tcp = r.into_inner();
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let mut r = BufReader::new(tls);
                    pop3_loop(&mut r, mode, true).await;
                }
            }
        }
    })
    .await
}

async fn pop3_loop<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    mode: StartTls,
    tls: bool,
) -> bool {
    while let Some(l) = line(r).await {
        let reply = match l.to_ascii_uppercase().as_str() {
            "CAPA" => {
                let st = match mode {
                    _ if tls => "",
                    StartTls::Missing | StartTls::Hidden | StartTls::StrippedLoginDisabled => "",
                    StartTls::Masked => "XXXX\r\n",
                    StartTls::Offer | StartTls::Refuse => "STLS\r\n",
                };
                format!("+OK Capability list follows\r\nTOP\r\nUSER\r\n{st}UIDL\r\n.\r\n")
            }
            "STLS" if mode == StartTls::Refuse => "-ERR not now\r\n".to_string(),
            "STLS" if mode == StartTls::Missing => "-ERR unknown command\r\n".to_string(),
            "STLS" if mode == StartTls::Masked => "-ERR Unknown command: XXXX\r\n".to_string(),
            "STLS" => {
                let _ = r
                    .get_mut()
                    .write_all(b"+OK Begin TLS negotiation\r\n")
                    .await;
                return true;
            }
            "QUIT" => {
                let _ = r.get_mut().write_all(b"+OK bye\r\n").await;
                return false;
            }
            _ => "-ERR unknown command\r\n".to_string(),
        };
        if r.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return false;
        }
    }
    false
}

/// An `LDAPMessage`: SEQUENCE { messageID, protocolOp }.
fn ldap_message(id: u8, op: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, id];
    body.extend_from_slice(op);
    let mut m = vec![0x30, u8::try_from(body.len()).expect("short")];
    m.extend(body);
    m
}

/// An LDAPResult-shaped operation with this application tag and result code.
fn ldap_result(tag: u8, code: u8) -> Vec<u8> {
    vec![tag, 0x07, 0x0a, 0x01, code, 0x04, 0x00, 0x04, 0x00]
}

/// Reads one short `LDAPMessage` (the tests' requests are all under 128 bytes); returns its id.
async fn ldap_read<S: AsyncRead + Unpin>(s: &mut S) -> Option<u8> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.ok()?;
    let mut body = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut body).await.ok()?;
    body.get(2).copied()
}

/// An LDAP server for `StartTLS` (389) and, with `implicit`, a `RootDSE` over TLS (636).
pub async fn ldap(id: Identity, mode: StartTls, implicit: bool) -> SocketAddr {
    let acceptor = acceptor(id);
    serve(move |mut tcp| {
        let acceptor = acceptor.clone();
        async move {
            if implicit {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Some(msg_id) = ldap_read(&mut tls).await else {
                    return;
                };
                // SearchResultEntry "" with supportedLDAPVersion: 3, then SearchResultDone.
                let attr = [
                    &[0x30, 0x1b, 0x04, 0x14][..],
                    b"supportedLDAPVersion",
                    &[0x31, 0x03, 0x04, 0x01, b'3'],
                ]
                .concat();
                let entry = [&[0x64, 0x21, 0x04, 0x00, 0x30, 0x1d][..], &attr].concat();
                let _ = tls.write_all(&ldap_message(msg_id, &entry)).await;
                let _ = tls
                    .write_all(&ldap_message(msg_id, &ldap_result(0x65, 0)))
                    .await;
                let _ = ldap_read(&mut tls).await; // unbind
                return;
            }
            let Some(msg_id) = ldap_read(&mut tcp).await else {
                return;
            };
            let code = if mode == StartTls::Offer { 0 } else { 52 };
            let _ = tcp
                .write_all(&ldap_message(msg_id, &ldap_result(0x78, code)))
                .await;
            if code != 0 {
                let _ = ldap_read(&mut tcp).await;
                return;
            }
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                let _ = ldap_read(&mut tls).await;
            }
        }
    })
    .await
}

/// Writes `first`, then `byte` every `every` until the client goes away (at most 10 000).
pub async fn trickle(first: &'static [u8], byte: u8, every: std::time::Duration) -> SocketAddr {
    serve(move |mut s| async move {
        if s.write_all(first).await.is_err() {
            return;
        }
        for _ in 0..10_000 {
            tokio::time::sleep(every).await;
            if s.write_all(&[byte]).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// Writes `first`, then `fill` over and over until `len` bytes of it have gone (the last
/// copy may be cut), then `end`, then holds the connection until the client goes away. A
/// client that stops reading ends it at once: the write fails.
pub async fn flood(
    first: &'static [u8],
    fill: &'static [u8],
    len: usize,
    end: &'static [u8],
) -> SocketAddr {
    let chunk: Vec<u8> = fill.iter().copied().cycle().take(64 * 1024).collect();
    serve(move |mut s| {
        let chunk = chunk.clone();
        async move {
            if s.write_all(first).await.is_err() {
                return;
            }
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len());
                if s.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
                left -= n;
            }
            if s.write_all(end).await.is_err() {
                return;
            }
            let mut sink = [0u8; 64];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    })
    .await
}

/// Accepts and resets when the client's first bytes arrive or `after` has passed, whichever
/// comes first (at once with `Duration::ZERO`): `SO_LINGER` 0, then close, so the kernel
/// sends RST instead of FIN (a firewall that accepts and then rejects, a crashing service).
pub async fn reset_on_accept(after: std::time::Duration) -> SocketAddr {
    serve(move |mut s| async move {
        if !after.is_zero() {
            let mut first = [0u8; 1];
            let _ = tokio::time::timeout(after, s.read(&mut first)).await;
        }
        let _ = s.set_zero_linger();
        drop(s);
    })
    .await
}

/// A TLS server that reads the `ClientHello`, answers with the first record of a real
/// rustls server's flight (its `ServerHello`) and then, with `close`, closes (a peer that
/// dies mid-handshake) or, without, says nothing more until the client goes (one that hangs).
pub async fn server_hello_then(id: Identity, close: bool) -> SocketAddr {
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(id.chain, id.key)
        .expect("server config"),
    );
    serve(move |mut s| {
        let config = config.clone();
        async move {
            let mut hello = Vec::new();
            let mut buf = [0u8; 4096];
            // One whole record: the 5-byte header, then its length.
            while hello.len() < 5
                || hello.len() < 5 + usize::from(u16::from_be_bytes([hello[3], hello[4]]))
            {
                match s.read(&mut buf).await {
                    Ok(n) if n > 0 => hello.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            let Ok(mut conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut flight = Vec::new();
            if conn.read_tls(&mut hello.as_slice()).is_err()
                || conn.process_new_packets().is_err()
                || conn.write_tls(&mut flight).is_err()
                || flight.len() < 5
            {
                return;
            }
            let first =
                (5 + usize::from(u16::from_be_bytes([flight[3], flight[4]]))).min(flight.len());
            let _ = s.write_all(&flight[..first]).await;
            if close {
                let _ = s.shutdown().await;
                return;
            }
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        }
    })
    .await
}
