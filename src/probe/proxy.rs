//! The tunnel through an explicit HTTP proxy: `CONNECT host:port` (RFC 9110 §9.3.6) sent
//! over a connection that another [`Connector`] opens to the proxy. Which proxy, if any, is
//! `config::proxy`'s business.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::connector::Connector;

/// Most bytes of a CONNECT answer head that are read.
const MAX_CONNECT_HEAD: usize = 8 * 1024;

/// Opens connections through an HTTP proxy with `CONNECT target`.
#[derive(Debug, Clone)]
pub struct ProxyConnector {
    /// `host:port` as written in the CONNECT line.
    pub target: String,
}

impl Connector for ProxyConnector {
    type Stream = TcpStream;

    /// `addr` is the proxy's address.
    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let mut s = TcpStream::connect(addr).await?;
        let _ = s.set_nodelay(true);
        let req = format!(
            "CONNECT {t} HTTP/1.1\r\nHost: {t}\r\nUser-Agent: {}\r\n\r\n",
            super::http::USER_AGENT,
            t = self.target
        );
        s.write_all(req.as_bytes()).await?;
        let head = read_head(&mut s).await?;
        let status_line = head.lines().next().unwrap_or_default().to_string();
        let status: Option<u16> = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok());
        match status {
            Some(200..=299) => Ok(s),
            Some(code) => Err(io::Error::other(ProxyRefused {
                status: Some(code),
                line: crate::sanitize::printable(&status_line, 80),
            })),
            None => Err(io::Error::other(ProxyRefused {
                status: None,
                line: crate::sanitize::printable(&status_line, 80),
            })),
        }
    }

    fn local_addr(stream: &TcpStream) -> Option<SocketAddr> {
        stream.local_addr().ok()
    }
}

/// The proxy did not open the tunnel.
#[derive(Debug, thiserror::Error)]
#[error("the proxy answered \"{line}\" to CONNECT")]
pub struct ProxyRefused {
    /// The HTTP status code; `None` when the answer is not an HTTP status line.
    pub status: Option<u16>,
    pub line: String,
}

/// Reads up to the end of the response head, one byte at a time so that no byte of the
/// tunnel is consumed (the head is small and this happens once per probe).
async fn read_head(s: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        // Something that is not an HTTP proxy (an SSH banner, TLS bytes) would never end a
        // head: say what it is once its first line is in, or after 64 bytes without one.
        let first_line_done = head.ends_with(b"\n") || (head.len() >= 64 && !head.contains(&b'\n'));
        if first_line_done && !head.starts_with(b"HTTP/") {
            let line = String::from_utf8_lossy(&head);
            return Err(io::Error::other(ProxyRefused {
                status: None,
                line: crate::sanitize::printable(line.trim_end(), 80),
            }));
        }
        if head.len() >= MAX_CONNECT_HEAD {
            return Err(io::Error::other(
                "the proxy's answer to CONNECT is too long",
            ));
        }
        if s.read(&mut byte).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the proxy closed the connection during CONNECT",
            ));
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}
