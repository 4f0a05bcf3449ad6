//! One certificate read with x509-parser: subject, issuer, SANs, validity, whether it is
//! self-signed, and its SHA-1 and SHA-256 fingerprints.

use rustls::pki_types::CertificateDer;

use crate::observation::CertInfo;

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

/// An iPAddress SAN: 4 bytes are IPv4, 16 are IPv6; anything else is malformed.
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
