//! The responder's TLS identity: a self-signed certificate generated at start (like the ones
//! MailStore SPE makes for itself), or `--cert`/`--key` PEM files; its fingerprints; the
//! rustls server configuration.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

use super::ListenError;

/// How long a generated certificate is valid (from one day ago, against clock skew).
const VALID_DAYS: i64 = 365;

/// The certificate chain and key the responder serves, with what the banner prints.
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The leaf's subject, e.g. `CN=cas01`.
    pub subject: String,
    /// The leaf's SHA-1, upper-case hex without separators: the Windows "thumbprint".
    pub sha1_thumbprint: String,
    /// The leaf's SHA-256, lower-case hex.
    pub sha256: String,
    /// Generated now (not loaded from files).
    pub generated: bool,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject)
            .field("sha256", &self.sha256)
            .field("generated", &self.generated)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A fresh self-signed certificate: CN and first SAN `hostname` (when it is a usable DNS
    /// name), then `localhost`, `127.0.0.1` and `::1`.
    ///
    /// # Errors
    /// rcgen could not make the key or the certificate.
    pub fn generate(hostname: Option<&str>) -> Result<Self, ListenError> {
        let gen_err = |e: rcgen::Error| ListenError::Certificate(e.to_string());
        let host = hostname
            .map(str::trim)
            .filter(|h| usable_dns_name(h))
            .map(str::to_ascii_lowercase);
        let mut names: Vec<String> = host.iter().cloned().collect();
        for n in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
        let mut params = rcgen::CertificateParams::new(names).map_err(gen_err)?;
        let cn = host.unwrap_or_else(|| "localhost".to_string());
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn.as_str());
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(VALID_DAYS);
        params.is_ca = rcgen::IsCa::NoCa;
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key_pair = rcgen::KeyPair::generate().map_err(gen_err)?;
        let cert = params.self_signed(&key_pair).map_err(gen_err)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        Ok(Self::new(vec![cert.der().clone()], key, true))
    }

    /// The chain in `cert` (PEM, leaf first) and the key in `key` (PEM: PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    /// A file that cannot be read or holds no certificate / key, naming the file; a key that
    /// does not belong to the certificate.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, ListenError> {
        let bad = |file: &Path, message: String| ListenError::Identity {
            file: file.to_path_buf(),
            message,
        };
        let text = std::fs::read(cert).map_err(|e| bad(cert, format!("cannot read it: {e}")))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
            .collect::<Result<_, _>>()
            .map_err(|e| bad(cert, format!("not a PEM certificate file: {e}")))?;
        if chain.is_empty() {
            return Err(bad(
                cert,
                "no certificate in it; expected a PEM 'BEGIN CERTIFICATE' block".into(),
            ));
        }
        let text = std::fs::read(key).map_err(|e| bad(key, format!("cannot read it: {e}")))?;
        let key_der = PrivateKeyDer::from_pem_slice(&text).map_err(|e| {
            bad(
                key,
                format!(
                    "no usable private key in it ({e}); expected a PEM 'BEGIN PRIVATE KEY', \
                     'BEGIN RSA PRIVATE KEY' or 'BEGIN EC PRIVATE KEY' block"
                ),
            )
        })?;
        let identity = Self::new(chain, key_der, false);
        // Builds once here so that a mismatch is reported with the file names.
        identity.server_config().map_err(|e| match e {
            ListenError::Tls(m) => bad(
                key,
                format!("does not fit the certificate in {}: {m}", cert.display()),
            ),
            other => other,
        })?;
        Ok(identity)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        generated: bool,
    ) -> Self {
        let leaf: &[u8] = chain.first().map_or(&[], |c| c.as_ref());
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, leaf);
        let subject = x509_parser::parse_x509_certificate(leaf).map_or_else(
            |e| format!("(unparsable certificate: {e})"),
            |(_, x)| x.subject().to_string(),
        );
        Identity {
            sha1_thumbprint: crate::hex::encode(sha1.as_ref()).to_ascii_uppercase(),
            sha256: crate::e2e::sha256_hex(leaf),
            subject,
            chain,
            key,
            generated,
        }
    }

    /// The leaf certificate's DER.
    #[must_use]
    pub fn leaf(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }

    /// A server configuration serving this identity (TLS 1.2 and 1.3, no client auth, no
    /// ALPN: a client offering only `h2` or `imap` still gets a handshake).
    ///
    /// # Errors
    /// rustls refused the key or the chain (e.g. they do not match).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, ListenError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ListenError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| ListenError::Tls(e.to_string()))?;
        Ok(Arc::new(config))
    }
}

/// Letters, digits, `-` and dots, as rcgen and TLS clients accept in a DNS SAN.
fn usable_dns_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sans(id: &Identity) -> Vec<String> {
        let info = crate::probe::tls::cert_info(&id.chain[0]);
        info.san
    }

    #[test]
    fn a_generated_certificate_names_the_host_and_loopback() {
        let id = Identity::generate(Some("CAS01")).expect("generates");
        assert_eq!(id.subject, "CN=cas01");
        assert_eq!(sans(&id), ["cas01", "localhost", "127.0.0.1", "::1"]);
        assert!(id.generated);
        assert_eq!(id.sha1_thumbprint.len(), 40);
        assert!(id
            .sha1_thumbprint
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        assert_eq!(id.sha256, crate::e2e::sha256_hex(id.leaf()));
        assert!(id.server_config().is_ok());
        let info = crate::probe::tls::cert_info(&id.chain[0]);
        assert!(info.self_signed);
        assert_eq!(info.sha256, id.sha256);
    }

    #[test]
    fn an_odd_hostname_falls_back_to_localhost() {
        for host in [None, Some(""), Some("my_host"), Some("h\u{e9}te")] {
            let id = Identity::generate(host).expect("generates");
            assert_eq!(id.subject, "CN=localhost", "{host:?}");
            assert_eq!(sans(&id), ["localhost", "127.0.0.1", "::1"]);
        }
    }

    #[test]
    fn pem_files_load_and_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let make = || {
            let key = rcgen::KeyPair::generate().expect("key");
            let params = rcgen::CertificateParams::new(vec!["x.test".to_string()]).expect("p");
            let cert = params.self_signed(&key).expect("cert");
            (cert.pem(), key.serialize_pem())
        };
        let (cert_a, key_a) = make();
        let (_, key_b) = make();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p
        };
        let (ca, ka, kb) = (
            write("a.crt", &cert_a),
            write("a.key", &key_a),
            write("b.key", &key_b),
        );
        let junk = write("junk.pem", "hello\n");
        let id = Identity::load(&ca, &ka).expect("loads");
        assert!(!id.generated);
        assert_eq!(id.subject, "CN=rcgen self signed cert");

        let missing = dir.path().join("missing.crt");
        #[rustfmt::skip]
        let table = [
            (&missing, &ka, "missing.crt", "cannot read"),
            (&junk, &ka, "junk.pem", "no certificate"),
            (&ca, &junk, "junk.pem", "no usable private key"),
            (&ca, &ca, "a.crt", "no usable private key"),
            (&ca, &kb, "b.key", "does not fit the certificate in"),
        ];
        for (cert, key, file, want) in table {
            let e = Identity::load(cert, key).expect_err(want).to_string();
            assert!(e.contains(file) && e.contains(want), "{e}");
        }
    }
}
