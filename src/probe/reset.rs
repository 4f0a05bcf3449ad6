//! The stream of a connection the peer accepted and reset before the connect call returned.
//! The probe talks to it as to any connection, so that the verdict is the one a reset a
//! moment later gives (a TLS handshake reset without a byte, a greeting that never came),
//! not one that depends on which the OS reported first.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Every read and write fails with "connection reset".
#[derive(Debug, Default)]
pub struct ResetStream;

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "the peer reset the connection",
    )
}

impl AsyncRead for ResetStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(reset()))
    }
}

impl AsyncWrite for ResetStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(reset()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};
    use std::sync::Arc;
    use std::time::Duration;

    use crate::config::profile::Profiles;
    use crate::config::HostSpec;
    use crate::observation::{Outcome, TlsFailure};
    use crate::probe::connector::Connector;
    use crate::probe::starttls::Failure;
    use crate::probe::{run, Job, ProbeContext};

    /// A peer that accepted and reset before the connect call returned, as the OS says it.
    struct ResetAtConnect;

    impl Connector for ResetAtConnect {
        type Stream = tokio::io::DuplexStream;
        async fn connect(&self, _: SocketAddr) -> std::io::Result<Self::Stream> {
            Err(std::io::ErrorKind::ConnectionReset.into())
        }
        fn is_local(&self, _: IpAddr) -> bool {
            false
        }
    }

    async fn probe(id: &str) -> crate::observation::Observation {
        let path = Profiles::embedded()
            .expect("profiles")
            .all()
            .iter()
            .find(|p| p.id == id)
            .expect("path")
            .clone();
        let ctx = ProbeContext {
            connector: Arc::new(ResetAtConnect),
            tls: Arc::new(crate::probe::tls::TlsContext::new(&[]).expect("tls")),
            timeout: Duration::from_secs(1),
            token: None,
            progress: Arc::default(),
            routes: Arc::default(),
        };
        let job = Job {
            port: path.port,
            path: Arc::new(path),
            host: HostSpec::parse("target.lab").expect("host"),
            // Never connected to: the connector answers without the network.
            addrs: vec!["198.18.0.2".parse().expect("ip")],
            dns_time: None,
            proxy: None,
        };
        run(&ctx, &job).await
    }

    #[tokio::test]
    async fn a_reset_at_connect_reads_as_the_reset_a_moment_later() {
        // A TLS port: the handshake reset without a byte (the canary decides the rest).
        let tls = probe("multi-8471-ih-mgmt").await;
        assert_eq!(
            tls.outcome,
            Outcome::Tls(TlsFailure::Reset { silent: true })
        );
        assert!(tls.timings.connect.is_some());
        // A plaintext protocol: closed before its greeting, as an accept-and-close is.
        let imap = probe("multi-143-ih-any").await;
        assert_eq!(imap.outcome, Outcome::Completed, "{imap:?}");
        assert!(
            matches!(imap.dialogue_failure, Some(Failure::Closed { .. })),
            "{:?}",
            imap.dialogue_failure
        );
    }
}
