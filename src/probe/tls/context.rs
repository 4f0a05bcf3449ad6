//! The TLS context of a run: the recording client configuration shared by every probe, the
//! handshake, and the facts of a session — its version, suite and chain, judged twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::failure::{classify_handshake_error, describe_cert_error, problem_of};
use super::tap::Tap;
use super::verify::{os_verifier, public_verifier, NoClientCert, Recorder, SetupError};
use super::x509::cert_info;
use crate::observation::{CertProblem, TlsFacts, TlsFailure, Trust};

/// Roots and verifiers, built once per run.
pub struct TlsContext {
    config: Arc<ClientConfig>,
    public: Arc<WebPkiServerVerifier>,
    os: Arc<dyn ServerCertVerifier>,
    /// Problems met while loading trust stores, for the report.
    pub notes: Vec<String>,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsContext {
    /// Builds the recording client and both verifiers. `extra_public` are PEM roots that
    /// count as public (`--public-ca`).
    ///
    /// # Errors
    /// A `--public-ca` file that holds no certificate (bad input, see
    /// [`SetupError::is_usage`]), or a rustls setup failure.
    pub fn new(extra_public: &[std::path::PathBuf]) -> Result<Self, SetupError> {
        let provider = provider();
        let mut notes = Vec::new();

        let public = public_verifier(extra_public, &provider)?;
        let os = os_verifier(&provider, &mut notes)?;

        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(SetupError::Versions)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Recorder {
                provider: provider.clone(),
            }))
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            public,
            os,
            notes,
        })
    }

    /// Runs the handshake on `stream` and captures what the server presented. The chain
    /// is recorded whether or not it verifies; trust is judged afterwards.
    ///
    /// # Errors
    /// Why the handshake failed, by cause.
    pub async fn handshake<S>(
        &self,
        stream: S,
        name: &ServerName<'static>,
    ) -> Result<(TlsStream<Tap<S>>, TlsFacts), TlsFailure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.handshake_heard(stream, name, Arc::default()).await
    }

    /// As [`Self::handshake`], counting the bytes the server sent into `heard`, which the
    /// caller keeps: when its timeout drops the handshake, a count above zero means the
    /// server began and then stalled ([`TlsFailure::Stalled`]), not that it never answered.
    ///
    /// # Errors
    /// Why the handshake failed, by cause.
    pub async fn handshake_heard<S>(
        &self,
        stream: S,
        name: &ServerName<'static>,
        heard: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Result<(TlsStream<Tap<S>>, TlsFacts), TlsFailure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tap = Tap::counted(stream, heard);
        // A configuration per handshake, to learn whether this server asks for a client
        // certificate (cheap: the configuration is mostly shared `Arc`s).
        let asked = Arc::new(AtomicBool::new(false));
        let mut config = (*self.config).clone();
        config.client_auth_cert_resolver = Arc::new(NoClientCert(Arc::clone(&asked)));
        let connector = TlsConnector::from(Arc::new(config));
        let mut stream = match connector.connect(name.clone(), tap).into_fallible().await {
            Ok(s) => s,
            Err((e, tap)) => {
                let requested = asked.load(Ordering::Relaxed);
                return Err(classify_handshake_error(
                    &e,
                    Some(tap.seen()),
                    tap.heard(),
                    requested,
                ));
            }
        };
        stream.get_mut().0.stop_recording();
        let mut facts = self.facts(stream.get_ref().1, name);
        facts.client_cert_requested = asked.load(Ordering::Relaxed);
        let mut ekm = [0u8; crate::e2e::EKM_LEN];
        facts.ekm = stream
            .get_ref()
            .1
            .export_keying_material(&mut ekm, crate::e2e::EKM_LABEL, None)
            .ok()
            .map(|b| crate::hex::encode(b));
        Ok((stream, facts))
    }

    fn facts(&self, conn: &rustls::ClientConnection, name: &ServerName<'static>) -> TlsFacts {
        let certs: Vec<CertificateDer<'static>> = conn
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        let version = conn
            .protocol_version()
            .unwrap_or(rustls::ProtocolVersion::Unknown(0));
        let cipher = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown")
            .to_string();
        self.judge_chain(&certs, name, version, cipher)
    }

    /// The facts of a chain seen outside a rustls session (the legacy look of
    /// [`crate::probe::legacy`]), judged like any other.
    #[must_use]
    pub fn judge_chain(
        &self,
        certs: &[CertificateDer<'static>],
        name: &ServerName<'static>,
        version: rustls::ProtocolVersion,
        cipher: String,
    ) -> TlsFacts {
        let (public, os) = if let Some((ee, rest)) = certs.split_first() {
            (
                judge(self.public.as_ref(), ee, rest, name),
                judge(self.os.as_ref(), ee, rest, name),
            )
        } else {
            let none = Trust::Untrusted {
                problem: CertProblem::Other,
                reason: "the server sent no certificate".into(),
            };
            (none.clone(), none)
        };
        TlsFacts {
            version,
            cipher,
            client_cert_requested: false,
            ekm: None,
            chain: certs.iter().map(|c| cert_info(c)).collect(),
            public,
            os,
        }
    }
}

fn judge(
    v: &dyn ServerCertVerifier,
    ee: &CertificateDer<'static>,
    intermediates: &[CertificateDer<'static>],
    name: &ServerName<'static>,
) -> Trust {
    match v.verify_server_cert(ee, intermediates, name, &[], UnixTime::now()) {
        Ok(_) => Trust::Trusted,
        Err(e) => Trust::Untrusted {
            problem: problem_of(&e),
            reason: describe_cert_error(&e, name),
        },
    }
}
