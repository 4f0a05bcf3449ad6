//! The one place where sockets open: connections to probe, and the two questions about this
//! machine that need a socket (is an address ours, is a port taken). Tests and other
//! transports implement [`Connector`]; a fake answers all three without sockets.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Opens a byte stream to an address, and answers for this machine.
pub trait Connector: Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// A SYN-ACK of this connector comes from the far end's kernel within one round trip,
    /// so the run's route times tell how long an answer can take ([`super::rtt`]). True for
    /// plain TCP; not for a proxy tunnel, whose answer waits for the proxy's own connect.
    const ROUTE_TIMES: bool = false;

    /// Connects; the caller bounds the time.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// This side's address of a connection, as the far end should see it without NAT.
    fn local_addr(_stream: &Self::Stream) -> Option<SocketAddr> {
        None
    }

    /// Whether `ip` is an address of this machine (loopback, or one it can bind to), so
    /// that a target that is this machine can be marked. By default the OS is asked.
    fn is_local(&self, ip: IpAddr) -> bool {
        is_local_here(ip)
    }

    /// Binds `port` on every IPv4 address of this machine without listening, and lets it go:
    /// `AddrInUse` when a service holds the port on some address. By default the OS is asked.
    ///
    /// # Errors
    /// The bind's error: `AddrInUse`, or one that says the port could not be tested.
    fn try_bind(&self, port: u16) -> io::Result<()> {
        try_bind_here(port)
    }
}

/// Plain TCP through the OS.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    type Stream = TcpStream;
    const ROUTE_TIMES: bool = true;

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

/// The OS's answer to [`Connector::is_local`]: a UDP bind to port 0 works only on an
/// address of this machine, and sends nothing.
fn is_local_here(ip: IpAddr) -> bool {
    ip.is_loopback() || (!ip.is_unspecified() && UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok())
}

/// The OS's answer to [`Connector::try_bind`]. Bind without listening: enough to learn
/// whether the port is taken, and no firewall prompt on Windows.
fn try_bind_here(port: u16) -> io::Result<()> {
    tokio::net::TcpSocket::new_v4()
        .and_then(|s| s.bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)))
}
