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
        #[cfg(target_os = "linux")]
        let s = connect_seeing_soft_errors(addr).await?;
        #[cfg(not(target_os = "linux"))]
        let s = TcpStream::connect(addr).await?;
        // Probes write small requests and wait for answers: no reason to batch.
        let _ = s.set_nodelay(true);
        Ok(s)
    }

    fn local_addr(stream: &TcpStream) -> Option<SocketAddr> {
        stream.local_addr().ok()
    }
}

/// A connect that sees an ICMP error the kernel kept as "soft". When the error comes back
/// while the connecting call still holds the socket — on a fast link the router's
/// "administratively prohibited" can arrive within the call itself — Linux does not fail the
/// connect with it but keeps it aside and retransmits the SYN a second later, and only then
/// reports it. `SO_ERROR` hands over the kept error at once, so that a rejected port is
/// `unreachable` within a round trip, not `filtered` by an early call before that second.
#[cfg(target_os = "linux")]
async fn connect_seeing_soft_errors(addr: SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    /// Linux's "connection in progress" (`io::ErrorKind::InProgress` is not stable yet).
    const EINPROGRESS: i32 = 115;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    if let Some(e) = socket.take_error()? {
        return Err(e);
    }
    let stream = TcpStream::from_std(std::net::TcpStream::from(socket))?;
    // Writable once the handshake is done or has failed, as tokio's own connect waits.
    stream.writable().await?;
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    Ok(stream)
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
