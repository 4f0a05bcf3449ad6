//! The canary: a connection to a port of the same host where nothing should listen. When
//! it is accepted too, something on the way answers every port (DESIGN §5.6).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::connector::Connector;
use crate::observation::Canary;

/// The default canary port: the obsolete Discard service, which no MailStore host, mail
/// server or directory runs.
pub const DEFAULT_PORT: u16 = 9;

/// Connects to `addr` and, if accepted, listens briefly for a first word.
pub async fn probe<C: Connector>(
    connector: &Arc<C>,
    addr: SocketAddr,
    timeout: Duration,
) -> Canary {
    let port = addr.port();
    match tokio::time::timeout(timeout, connector.connect(addr)).await {
        Ok(Ok(mut stream)) => {
            let mut buf = [0u8; 64];
            let wait = timeout.min(Duration::from_millis(500));
            let said = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
                Ok(Ok(n)) => buf[..n].to_vec(),
                _ => Vec::new(),
            };
            Canary::Accepted { port, said }
        }
        Ok(Err(e)) => match super::tcp::classify(&e) {
            // Accepted, then reset before the connect call returned: it was accepted.
            crate::observation::ConnectFailure::ResetAfterAccept => Canary::Accepted {
                port,
                said: Vec::new(),
            },
            f => Canary::Closed {
                port,
                how: f.describe(),
            },
        },
        Err(_) => Canary::Closed {
            port,
            how: "filtered (no answer)".into(),
        },
    }
}
