//! TLS: the shared client configuration, the handshake, capturing the chain, and judging
//! trust twice — against the public roots and against this machine's trust store.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::observation::{CertInfo, CertProblem, TlsFacts, TlsFailure, Trust};

/// How many of the first bytes read are kept, to show what answered when it is not TLS.
const TAP_BYTES: usize = 128;

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
    /// A `--public-ca` file that holds no certificate, or a rustls setup failure.
    pub fn new(extra_public: &[std::path::PathBuf]) -> Result<Self, String> {
        let provider = provider();
        let mut notes = Vec::new();

        let mut public_roots = RootCertStore::empty();
        public_roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for file in extra_public {
            let certs = read_pem_certs(file)?;
            let (added, _ignored) = public_roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "--public-ca {}: no usable certificate in it; expected PEM 'BEGIN CERTIFICATE' blocks",
                    file.display()
                ));
            }
        }
        let public =
            WebPkiServerVerifier::builder_with_provider(Arc::new(public_roots), provider.clone())
                .build()
                .map_err(|e| format!("public roots: {e}"))?;

        let os = os_verifier(&provider, &mut notes)?;

        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
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
        let tap = Tap::new(stream);
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
                return Err(classify_handshake_error(&e, Some(tap.seen()), requested));
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
    /// [`super::legacy`]), judged like any other.
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

/// The OS's own chain engine where there is one (Windows, macOS).
#[cfg(any(windows, target_os = "macos"))]
fn os_verifier(
    provider: &Arc<CryptoProvider>,
    _notes: &mut Vec<String>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    rustls_platform_verifier::Verifier::new(provider.clone())
        .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
        .map_err(|e| format!("the OS certificate verifier: {e}"))
}

/// Elsewhere the OS roots (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's bundle).
#[cfg(not(any(windows, target_os = "macos")))]
fn os_verifier(
    provider: &Arc<CryptoProvider>,
    notes: &mut Vec<String>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
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
        .map_err(|e| format!("the OS roots: {e}"))
}

fn read_pem_certs(file: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("--public-ca {}: {e}", file.display()))?
        .collect();
    certs.map_err(|e| {
        format!(
            "--public-ca {}: not a PEM certificate file: {e}",
            file.display()
        )
    })
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

/// The kind of a verification error.
#[must_use]
pub fn problem_of(e: &rustls::Error) -> CertProblem {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertProblem::NameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => CertProblem::Validity,
            CertificateError::Revoked => CertProblem::Revoked,
            _ => CertProblem::Other,
        },
        _ => CertProblem::Other,
    }
}

/// A verification error in an admin's words.
#[must_use]
pub fn describe_cert_error(e: &rustls::Error, name: &ServerName<'_>) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "issued by an unknown CA".into(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the certificate is not valid for {}", name.to_str())
            }
            CertificateError::Revoked => "the certificate is revoked".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the certificate is not for TLS servers".into()
            }
            CertificateError::BadEncoding => "the certificate is malformed".into(),
            other => in_words(&rustls::Error::InvalidCertificate(other.clone())),
        },
        other => in_words(other),
    }
}

/// A rustls or webpki error whose text is a Rust name (`Other(OtherError(CaUsedAsEndEntity))`)
/// in an admin's words; anything not known keeps rustls's own text.
#[must_use]
pub fn in_words(e: &rustls::Error) -> String {
    let debug = format!("{e:?}");
    let known: &[(&str, &str)] = &[
        ("CaUsedAsEndEntity", "the server's certificate is a CA certificate (basicConstraints CA:TRUE, as `openssl req -x509` makes by default), used as a server certificate"),
        ("UnsupportedCertVersion", "the certificate is X.509 version 1 (no extensions, no subjectAltName); TLS clients need version 3"),
        ("BadSignature", "a signature in the chain does not verify, or uses what current TLS clients refuse (SHA-1, an RSA key under 2048 bits)"),
        ("UnsupportedSignatureAlgorithm", "the certificate is signed with an algorithm current TLS clients refuse (SHA-1, MD5, or an RSA key under 2048 bits)"),
        ("EndEntityUsedAsCa", "a server certificate is used as the CA of another one"),
        ("PathLenConstraintViolated", "the chain breaks a CA's path length constraint"),
        ("UnknownIssuer", "issued by an unknown CA"),
    ];
    known
        .iter()
        .find(|(name, _)| debug.contains(name))
        .map_or_else(|| e.to_string(), |(_, words)| (*words).to_string())
}

/// Accepts any chain during the handshake (the chain is judged afterwards, and never
/// trusted with data) but still checks that the peer holds the key it presented.
#[derive(Debug)]
struct Recorder {
    provider: Arc<CryptoProvider>,
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
struct NoClientCert(Arc<AtomicBool>);

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

/// A TLS alert inside an I/O error after the handshake: a TLS 1.3 server that wants a client
/// certificate says so only once the client has finished.
#[must_use]
pub fn alert_after_handshake(e: &io::Error, client_cert_requested: bool) -> Option<TlsFailure> {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => Some(TlsFailure::Alert {
            description: *a,
            client_cert_requested,
        }),
        _ => None,
    }
}

fn classify_handshake_error(e: &io::Error, seen: Option<&[u8]>, requested: bool) -> TlsFailure {
    let seen = seen.unwrap_or_default();
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::AlertReceived(a) => TlsFailure::Alert {
                description: *a,
                client_cert_requested: requested,
            },
            // TLS records (handshake type 22, version 3.x) that we could not take: say why,
            // and do not call it "not TLS".
            rustls::Error::InvalidMessage(m) if seen.starts_with(&[0x16, 0x03]) => {
                TlsFailure::Other {
                    detail: match m {
                        rustls::InvalidMessage::CertificatePayloadTooLarge
                        | rustls::InvalidMessage::HandshakePayloadTooLarge
                        | rustls::InvalidMessage::MessageTooLarge => "the server's TLS handshake is larger than 64 KiB, the most this client (like most TLS clients) accepts: a very long certificate chain?".into(),
                        other => format!("the server's TLS handshake is malformed ({other:?})"),
                    },
                }
            }
            rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. } => TlsFailure::NotTls {
                seen: seen.to_vec(),
            },
            other => TlsFailure::Other {
                detail: in_words(other),
            },
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => TlsFailure::Closed,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => TlsFailure::Reset,
        io::ErrorKind::TimedOut => TlsFailure::TimedOut,
        _ => TlsFailure::Other {
            detail: e.to_string(),
        },
    }
}

/// What one certificate says, with its fingerprints.
#[must_use]
pub fn cert_info(der: &CertificateDer<'_>) -> CertInfo {
    let sha1 = crate::hex::encode(
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref(),
    );
    let sha256 = crate::hex::encode(ring::digest::digest(&ring::digest::SHA256, der).as_ref());
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, x)) => {
            let mut san = Vec::new();
            if let Ok(Some(ext)) = x.subject_alternative_name() {
                for n in &ext.value.general_names {
                    match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => {
                            san.push((*d).to_string());
                        }
                        x509_parser::extensions::GeneralName::IPAddress(b) => {
                            if let Some(ip) = ip_from_bytes(b) {
                                san.push(ip.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            let same_name = x.subject().as_raw() == x.issuer().as_raw();
            CertInfo {
                subject: x.subject().to_string(),
                issuer: x.issuer().to_string(),
                sha1,
                sha256,
                not_before: rfc3339(x.validity().not_before.to_datetime()),
                not_after: rfc3339(x.validity().not_after.to_datetime()),
                san,
                self_signed: same_name && x.verify_signature(None).is_ok(),
            }
        }
        Err(e) => CertInfo {
            subject: format!("(unparsable certificate: {e})"),
            issuer: String::new(),
            sha1,
            sha256,
            not_before: String::new(),
            not_after: String::new(),
            san: Vec::new(),
            self_signed: false,
        },
    }
}

fn ip_from_bytes(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A stream that keeps the first bytes it reads, so a failed handshake can show what
/// answered instead of TLS.
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    seen: Vec<u8>,
    recording: bool,
}

impl<S> Tap<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            seen: Vec::new(),
            recording: true,
        }
    }
    #[must_use]
    pub fn seen(&self) -> &[u8] {
        &self.seen
    }
    fn stop_recording(&mut self) {
        self.recording = false;
        self.seen = Vec::new();
    }
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.recording {
            let room = TAP_BYTES.saturating_sub(self.seen.len());
            let new = &buf.filled()[before..];
            let take = new.len().min(room);
            let chunk = new[..take].to_vec();
            self.seen.extend_from_slice(&chunk);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webpki_names_are_put_in_words() {
        #[derive(Debug)]
        struct CaUsedAsEndEntity;
        impl std::fmt::Display for CaUsedAsEndEntity {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "CaUsedAsEndEntity")
            }
        }
        impl std::error::Error for CaUsedAsEndEntity {}
        let e = rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
            Arc::new(CaUsedAsEndEntity),
        )));
        let words = in_words(&e);
        assert!(
            words.starts_with("the server's certificate is a CA certificate"),
            "{words}"
        );
        let plain = rustls::Error::General("something new".into());
        assert_eq!(
            in_words(&plain),
            plain.to_string(),
            "unknown errors keep rustls's text"
        );
    }
}
