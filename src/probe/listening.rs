//! Whether a port listens on this machine: the inbound side of a role, so that "the
//! service is not running" shows apart from "a firewall drops it". The sockets are the
//! [`Connector`]'s; this file only reads their answers.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use super::connector::Connector;

/// How long a connection on loopback may take: a local listener answers at once.
const LOOPBACK_WAIT: Duration = Duration::from_millis(300);

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
pub async fn check<C: Connector>(connector: &C, port: u16) -> Inbound {
    for ip in [
        std::net::IpAddr::V4(Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let addr = SocketAddr::new(ip, port);
        if let Ok(Ok(_)) = tokio::time::timeout(LOOPBACK_WAIT, connector.connect(addr)).await {
            return Inbound {
                port,
                listening: Some(true),
                detail: format!("accepts connections on {addr}"),
            };
        }
    }
    match connector.try_bind(port) {
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

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// This machine as a test says it is: who accepts on loopback, what a bind answers.
    struct Machine {
        accepts: Option<SocketAddr>,
        bind: fn() -> io::Result<()>,
    }

    impl Connector for Machine {
        type Stream = tokio::io::DuplexStream;
        async fn connect(&self, addr: SocketAddr) -> io::Result<Self::Stream> {
            if self.accepts == Some(addr) {
                Ok(tokio::io::duplex(64).0)
            } else {
                Err(io::ErrorKind::ConnectionRefused.into())
            }
        }
        fn try_bind(&self, _port: u16) -> io::Result<()> {
            (self.bind)()
        }
    }

    #[tokio::test]
    async fn a_port_is_listening_not_listening_or_untold() {
        let v6: SocketAddr = "[::1]:8472".parse().expect("addr");
        let in_use = || Err(io::ErrorKind::AddrInUse.into());
        let denied = || Err(io::Error::new(io::ErrorKind::PermissionDenied, "denied"));
        for (machine, listening, detail) in [
            (
                Machine {
                    accepts: Some(v6),
                    bind: in_use,
                },
                Some(true),
                "accepts connections on [::1]:8472",
            ),
            (
                Machine {
                    accepts: None,
                    bind: || Ok(()),
                },
                Some(false),
                "nothing listens on this port",
            ),
            (
                Machine {
                    accepts: None,
                    bind: in_use,
                },
                Some(true),
                "in use by a service bound to a specific address",
            ),
            (
                Machine {
                    accepts: None,
                    bind: denied,
                },
                None,
                "could not be tested: denied",
            ),
        ] {
            let seen = check(&machine, 8472).await;
            assert_eq!(
                seen,
                Inbound {
                    port: 8472,
                    listening,
                    detail: detail.into()
                }
            );
        }
    }
}
