//! Whether a port listens on this machine: the inbound side of a role, so that "the
//! service is not running" shows apart from "a firewall drops it".

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

/// One inbound port of the role on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inbound {
    pub port: u16,
    /// `None` when it could not be told (no permission to test).
    pub listening: Option<bool>,
    pub detail: String,
}

/// Tests `port`: a connection on loopback, else a bind on every address (which fails when
/// a service holds the port on some address).
pub async fn check(port: u16) -> Inbound {
    for ip in [
        std::net::IpAddr::V4(Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let addr = SocketAddr::new(ip, port);
        if let Ok(Ok(_)) = tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            return Inbound {
                port,
                listening: Some(true),
                detail: format!("accepts connections on {addr}"),
            };
        }
    }
    // Bind without listening: enough to learn whether the port is taken, and no firewall
    // prompt on Windows.
    let bound = tokio::net::TcpSocket::new_v4()
        .and_then(|s| s.bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)));
    match bound {
        Ok(()) => Inbound {
            port,
            listening: Some(false),
            detail: "nothing listens on this port".into(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Inbound {
            port,
            listening: Some(true),
            detail: "in use by a service bound to a specific address".into(),
        },
        Err(e) => Inbound {
            port,
            listening: None,
            detail: format!("could not be tested: {e}"),
        },
    }
}
