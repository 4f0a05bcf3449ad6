//! The tunnel through an explicit HTTP proxy: `CONNECT host:port` (RFC 9110 §9.3.6) sent
//! over a connection that another [`Connector`] opens to the proxy. Which proxy, if any, is
//! `config::proxy`'s business.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::connector::Connector;

/// Most bytes of a CONNECT answer head that are read.
const MAX_CONNECT_HEAD: usize = 8 * 1024;

/// Opens connections through an HTTP proxy with `CONNECT target`: the connection to the
/// proxy is `inner`'s, so that what is behind the proxy can be a test's fake.
#[derive(Debug)]
pub struct ProxyConnector<C> {
    /// Opens the connection to the proxy itself.
    pub inner: Arc<C>,
    /// `host:port` as written in the CONNECT line.
    pub target: String,
}

impl<C: Connector> Connector for ProxyConnector<C> {
    type Stream = C::Stream;

    /// `addr` is the proxy's address.
    async fn connect(&self, addr: SocketAddr) -> io::Result<C::Stream> {
        let mut s = self.inner.connect(addr).await?;
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

    fn local_addr(stream: &C::Stream) -> Option<SocketAddr> {
        C::local_addr(stream)
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        self.inner.is_local(ip)
    }

    fn try_bind(&self, port: u16) -> io::Result<()> {
        self.inner.try_bind(port)
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
async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<String> {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;

    /// What is behind the proxy: an in-process peer that reads the request head and answers
    /// `reply`. Records the address it was asked for and the request it got.
    struct FakeProxy {
        reply: &'static [u8],
        dialled: Mutex<Vec<SocketAddr>>,
        request: Arc<Mutex<String>>,
    }

    impl FakeProxy {
        fn new(reply: &'static [u8]) -> Arc<Self> {
            Arc::new(Self {
                reply,
                dialled: Mutex::default(),
                request: Arc::default(),
            })
        }
    }

    impl Connector for FakeProxy {
        type Stream = DuplexStream;

        async fn connect(&self, addr: SocketAddr) -> io::Result<DuplexStream> {
            self.dialled.lock().expect("lock").push(addr);
            let (ours, mut theirs) = tokio::io::duplex(4096);
            let (reply, request) = (self.reply, Arc::clone(&self.request));
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n")
                    && theirs.read(&mut byte).await.is_ok_and(|n| n == 1)
                {
                    head.push(byte[0]);
                }
                *request.lock().expect("lock") = String::from_utf8_lossy(&head).into_owned();
                let _ = theirs.write_all(reply).await;
                // Keep the far end open until the client is done.
                let _ = theirs.read(&mut byte).await;
            });
            Ok(ours)
        }
    }

    fn through(inner: &Arc<FakeProxy>) -> ProxyConnector<FakeProxy> {
        ProxyConnector {
            inner: Arc::clone(inner),
            target: "ms.test:443".into(),
        }
    }

    const PROXY: &str = "127.0.0.1:3128";

    #[tokio::test]
    async fn the_tunnel_is_dialled_through_the_inner_connector_and_loses_no_byte() {
        // The first bytes of the tunnel come in the same write as the head.
        let inner = FakeProxy::new(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03");
        let proxy: SocketAddr = PROXY.parse().expect("addr");
        let mut tunnel = through(&inner).connect(proxy).await.expect("tunnel");
        let mut first = [0u8; 3];
        tunnel.read_exact(&mut first).await.expect("read");
        assert_eq!(
            first,
            [0x16, 0x03, 0x03],
            "no byte of the tunnel is consumed"
        );
        assert_eq!(*inner.dialled.lock().expect("lock"), [proxy]);
        let request = inner.request.lock().expect("lock").clone();
        assert!(
            request.starts_with("CONNECT ms.test:443 HTTP/1.1\r\nHost: ms.test:443\r\n"),
            "{request}"
        );
        assert!(request.contains(&format!(
            "User-Agent: {}\r\n",
            super::super::http::USER_AGENT
        )));
    }

    #[tokio::test]
    async fn a_refusal_or_another_protocol_is_a_proxy_refused_error() {
        for (reply, status, line) in [
            (
                &b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"[..],
                Some(403),
                "HTTP/1.1 403 Forbidden",
            ),
            (&b"SSH-2.0-OpenSSH_9.2\r\n"[..], None, "SSH-2.0-OpenSSH_9.2"),
        ] {
            let inner = FakeProxy::new(reply);
            let e = through(&inner)
                .connect(PROXY.parse().expect("addr"))
                .await
                .expect_err("refused");
            let refused = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<ProxyRefused>())
                .expect("a ProxyRefused");
            assert_eq!((refused.status, refused.line.as_str()), (status, line));
        }
    }

    #[tokio::test]
    async fn questions_about_this_machine_go_to_the_inner_connector() {
        struct Here;
        impl Connector for Here {
            type Stream = DuplexStream;
            async fn connect(&self, _: SocketAddr) -> io::Result<DuplexStream> {
                Err(io::ErrorKind::ConnectionRefused.into())
            }
            fn is_local(&self, ip: IpAddr) -> bool {
                ip == IpAddr::from([198, 18, 0, 1])
            }
            fn try_bind(&self, port: u16) -> io::Result<()> {
                if port == 8472 {
                    Err(io::ErrorKind::AddrInUse.into())
                } else {
                    Ok(())
                }
            }
        }
        let p = ProxyConnector {
            inner: Arc::new(Here),
            target: "ms.test:443".into(),
        };
        assert!(p.is_local(IpAddr::from([198, 18, 0, 1])));
        assert!(
            !p.is_local(IpAddr::from([127, 0, 0, 1])),
            "the inner one's answer, not the OS's"
        );
        assert_eq!(
            p.try_bind(8472).map_err(|e| e.kind()),
            Err(io::ErrorKind::AddrInUse)
        );
        assert!(p.try_bind(8473).is_ok());
    }
}
