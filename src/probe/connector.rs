//! The one place where sockets open. Tests and other transports implement [`Connector`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Opens a byte stream to an address.
pub trait Connector: Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Connects; the caller bounds the time.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// This side's address of a connection, as the far end should see it without NAT.
    fn local_addr(_stream: &Self::Stream) -> Option<SocketAddr> {
        None
    }
}

/// Plain TCP through the OS.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    type Stream = TcpStream;

    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let s = TcpStream::connect(addr).await?;
        // Probes write small requests and wait for answers: no reason to batch.
        let _ = s.set_nodelay(true);
        Ok(s)
    }

    fn local_addr(stream: &TcpStream) -> Option<SocketAddr> {
        stream.local_addr().ok()
    }
}
