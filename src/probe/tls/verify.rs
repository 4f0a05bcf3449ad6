//! The verifiers: the recorder that takes any chain during the handshake (trust is judged
//! afterwards), the public roots with `--public-ca`, this machine's trust store, the
//! client-certificate refuser — and what can go wrong building them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Why the TLS configuration of a run could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A `--public-ca` file that cannot be used.
    #[error("--public-ca {}: {problem}", file.display())]
    PublicCa {
        file: PathBuf,
        problem: PublicCaProblem,
    },
    /// rustls would not build a verifier over the public roots.
    #[error("public roots: {0}")]
    PublicRoots(VerifierBuilderError),
    /// rustls would not build a verifier over this machine's roots.
    #[error("the OS roots: {0}")]
    OsRoots(VerifierBuilderError),
    /// The OS's own chain engine (Windows, macOS) would not start.
    #[error("the OS certificate verifier: {0}")]
    OsVerifier(rustls::Error),
    /// The crypto provider supports none of the protocol versions asked for.
    #[error("TLS versions: {0}")]
    Versions(rustls::Error),
}

impl SetupError {
    /// Whether the user's input is at fault (a `--public-ca` file: exit 2) rather than the
    /// tool itself (exit 3).
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(self, SetupError::PublicCa { .. })
    }
}

/// What is wrong with a `--public-ca` file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublicCaProblem {
    /// It could not be opened or read.
    #[error("{0}")]
    Unreadable(pem::Error),
    /// It is not PEM.
    #[error("not a PEM certificate file: {0}")]
    NotPem(pem::Error),
    /// It is PEM, but no block in it is a certificate rustls can use as a root.
    #[error("no usable certificate in it; expected PEM 'BEGIN CERTIFICATE' blocks")]
    NoCertificate,
}

/// The Mozilla roots (webpki-roots) and the `--public-ca` files: what counts as public.
pub(super) fn public_verifier(
    extra_public: &[PathBuf],
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, SetupError> {
    let mut public_roots = RootCertStore::empty();
    public_roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for file in extra_public {
        let certs = read_pem_certs(file).map_err(|problem| SetupError::PublicCa {
            file: file.clone(),
            problem,
        })?;
        let (added, _ignored) = public_roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(SetupError::PublicCa {
                file: file.clone(),
                problem: PublicCaProblem::NoCertificate,
            });
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(public_roots), provider.clone())
        .build()
        .map_err(SetupError::PublicRoots)
}

/// The OS's own chain engine where there is one (Windows, macOS).
#[cfg(any(windows, target_os = "macos"))]
pub(super) fn os_verifier(
    provider: &Arc<CryptoProvider>,
    _notes: &mut Vec<String>,
) -> Result<Arc<dyn ServerCertVerifier>, SetupError> {
    rustls_platform_verifier::Verifier::new(provider.clone())
        .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
        .map_err(SetupError::OsVerifier)
}

/// Elsewhere the OS roots (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's bundle).
#[cfg(not(any(windows, target_os = "macos")))]
pub(super) fn os_verifier(
    provider: &Arc<CryptoProvider>,
    notes: &mut Vec<String>,
) -> Result<Arc<dyn ServerCertVerifier>, SetupError> {
    let loaded = rustls_native_certs::load_native_certs();
    for e in loaded.errors.iter().take(3) {
        notes.push(format!("OS trust store: {e}"));
    }
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        notes.push("the OS trust store holds no usable root certificate".into());
        // An empty store cannot build a verifier; one that trusts nothing is the truth.
        return Ok(Arc::new(TrustNothing {
            provider: provider.clone(),
        }));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map(|v| v as Arc<dyn ServerCertVerifier>)
        .map_err(SetupError::OsRoots)
}

fn read_pem_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, PublicCaProblem> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(file)
        .map_err(PublicCaProblem::Unreadable)?
        .collect();
    certs.map_err(PublicCaProblem::NotPem)
}

/// Accepts any chain during the handshake (the chain is judged afterwards, and never
/// trusted with data) but still checks that the peer holds the key it presented.
#[derive(Debug)]
pub(super) struct Recorder {
    pub(super) provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The verifier of an empty trust store.
#[derive(Debug)]
#[cfg_attr(any(windows, target_os = "macos"), allow(dead_code))]
struct TrustNothing {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for TrustNothing {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Recorder {
            provider: self.provider.clone(),
        }
        .verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Recorder {
            provider: self.provider.clone(),
        }
        .verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Never presents a client certificate, but notes that the server asked for one.
#[derive(Debug)]
pub(super) struct NoClientCert(pub(super) Arc<AtomicBool>);

impl rustls::client::ResolvesClientCert for NoClientCert {
    fn resolve(
        &self,
        _acceptable_issuers: &[&[u8]],
        _schemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_message(e: &SetupError) -> String {
        assert!(e.is_usage(), "{e:?}");
        e.to_string()
    }

    #[test]
    fn a_public_ca_file_without_a_certificate_is_bad_input_naming_the_file() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let dir = tempfile::tempdir().expect("tmp");

        let missing = dir.path().join("missing.pem");
        let e = public_verifier(std::slice::from_ref(&missing), &provider).expect_err("missing");
        let text = usage_message(&e);
        assert!(
            text.starts_with(&format!("--public-ca {}: ", missing.display())),
            "{text}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no PEM block here\n").expect("write");
        let e = public_verifier(std::slice::from_ref(&empty), &provider).expect_err("empty");
        assert_eq!(
            usage_message(&e),
            format!(
                "--public-ca {}: no usable certificate in it; expected PEM 'BEGIN CERTIFICATE' blocks",
                empty.display()
            )
        );
        assert!(matches!(
            e,
            SetupError::PublicCa {
                problem: PublicCaProblem::NoCertificate,
                ..
            }
        ));

        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let e = public_verifier(std::slice::from_ref(&broken), &provider).expect_err("broken");
        assert!(
            usage_message(&e).contains(": not a PEM certificate file: "),
            "{e}"
        );

        assert!(
            public_verifier(&[], &provider).is_ok(),
            "the Mozilla roots alone"
        );
    }

    #[test]
    fn rustls_setup_failures_are_the_tools_own() {
        let e = SetupError::Versions(rustls::Error::General("no versions".into()));
        assert!(!e.is_usage());
        assert_eq!(e.to_string(), "TLS versions: unexpected error: no versions");
    }
}
