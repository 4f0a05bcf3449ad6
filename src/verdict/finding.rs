//! Findings: the kinds of evidence a verdict can cite, each with one fixed label that JSON,
//! JUnit, the table and Markdown share (DESIGN §10), and a finding's detail.

use serde::{Serialize, Serializer};

/// What a finding is about. The label is a stable contract (DESIGN §10): never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    LocalTarget,
    ClientCertRequired,
    UntrustedChain,
    LocalRoot,
    LegacyTls,
    PinMatch,
    PinMismatch,
    InterceptionCa,
    Resigned,
    BannerSignature,
    ProxyHeader,
    StarttlsMissing,
    StarttlsMasked,
    StarttlsHidden,
    StarttlsInjection,
    CanaryOpen,
    E2eVerified,
    E2eMismatch,
    E2eUnproven,
    E2eUnreadable,
    BannerRewritten,
    Nat,
    CertDiffers,
    CertExpiring,
    CertExpired,
}

impl FindingKind {
    pub const ALL: [FindingKind; 25] = [
        FindingKind::LocalTarget,
        FindingKind::ClientCertRequired,
        FindingKind::UntrustedChain,
        FindingKind::LocalRoot,
        FindingKind::LegacyTls,
        FindingKind::PinMatch,
        FindingKind::PinMismatch,
        FindingKind::InterceptionCa,
        FindingKind::Resigned,
        FindingKind::BannerSignature,
        FindingKind::ProxyHeader,
        FindingKind::StarttlsMissing,
        FindingKind::StarttlsMasked,
        FindingKind::StarttlsHidden,
        FindingKind::StarttlsInjection,
        FindingKind::CanaryOpen,
        FindingKind::E2eVerified,
        FindingKind::E2eMismatch,
        FindingKind::E2eUnproven,
        FindingKind::E2eUnreadable,
        FindingKind::BannerRewritten,
        FindingKind::Nat,
        FindingKind::CertDiffers,
        FindingKind::CertExpiring,
        FindingKind::CertExpired,
    ];

    /// The fixed label that JSON, JUnit, the table and Markdown show.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::LocalTarget => "local-target",
            FindingKind::ClientCertRequired => "client-cert-required",
            FindingKind::UntrustedChain => "untrusted-chain",
            FindingKind::LocalRoot => "local-root",
            FindingKind::LegacyTls => "legacy-tls",
            FindingKind::PinMatch => "pin-match",
            FindingKind::PinMismatch => "pin-mismatch",
            FindingKind::InterceptionCa => "interception-ca",
            FindingKind::Resigned => "resigned",
            FindingKind::BannerSignature => "banner-signature",
            FindingKind::ProxyHeader => "proxy-header",
            FindingKind::StarttlsMissing => "starttls-missing",
            FindingKind::StarttlsMasked => "starttls-masked",
            FindingKind::StarttlsHidden => "starttls-hidden",
            FindingKind::StarttlsInjection => "starttls-injection",
            FindingKind::CanaryOpen => "canary-open",
            FindingKind::E2eVerified => "e2e-verified",
            FindingKind::E2eMismatch => "e2e-mismatch",
            FindingKind::E2eUnproven => "e2e-unproven",
            FindingKind::E2eUnreadable => "e2e-unreadable",
            FindingKind::BannerRewritten => "banner-rewritten",
            FindingKind::Nat => "nat",
            FindingKind::CertDiffers => "cert-differs",
            FindingKind::CertExpiring => "cert-expiring",
            FindingKind::CertExpired => "cert-expired",
        }
    }

    /// What a finding of this kind means, in one line (for `explain`).
    #[must_use]
    pub fn summary(self) -> &'static str {
        match self {
            FindingKind::LocalTarget => "the target is an address of this machine: the path does not cross the network",
            FindingKind::ClientCertRequired => "the server asked for a client certificate and ended the handshake without one",
            FindingKind::UntrustedChain => "the certificate is trusted neither by the public roots nor by this machine",
            FindingKind::LocalRoot => "the chain ends at a root this machine trusts but the public roots do not: a locally installed root",
            FindingKind::LegacyTls => "the server speaks only TLS 1.2 suites without forward secrecy or AEAD",
            FindingKind::PinMatch => "the certificate matches the pinned thumbprint",
            FindingKind::PinMismatch => "the certificate is not the pinned one: someone in between presents their own",
            FindingKind::InterceptionCa => "an issuer in the chain is a known TLS-inspection CA",
            FindingKind::Resigned => "an internal certificate is not self-signed, and nothing here trusts its issuer: a re-signing proxy or a deployment CA",
            FindingKind::BannerSignature => "the greeting is a known mail proxy's",
            FindingKind::ProxyHeader => "the HTTP answer carries a proxy's header or block page",
            FindingKind::StarttlsMissing => "STARTTLS was not offered, or was refused",
            FindingKind::StarttlsMasked => "something on the way overwrites the STARTTLS command",
            FindingKind::StarttlsHidden => "STARTTLS works although the capability list did not name it",
            FindingKind::StarttlsInjection => "bytes followed the STARTTLS go-ahead before TLS began",
            FindingKind::CanaryOpen => "a port where nothing should listen accepted too: a middlebox answers every port",
            FindingKind::E2eVerified => "the mssp-check responder served the certificate (or answer) this machine received",
            FindingKind::E2eMismatch => "the responder's statement contradicts what arrived: something in between terminates the session",
            FindingKind::E2eUnproven => "the responder's statement could not be verified with this --token",
            FindingKind::E2eUnreadable => "a responder statement arrived but does not parse",
            FindingKind::BannerRewritten => "the responder's greeting arrived rewritten",
            FindingKind::Nat => "the responder saw the connection come from another address: NAT or a proxy",
            FindingKind::CertDiffers => "through the proxy the endpoint presents another certificate than directly",
            FindingKind::CertExpiring => "a certificate of the chain expires within --expiry-warning days (30 by default)",
            FindingKind::CertExpired => "a certificate of the chain has expired",
        }
    }
}

impl Serialize for FindingKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub detail: String,
    /// A finding that makes an otherwise ok path a warning.
    #[serde(skip)]
    pub warns: bool,
}

impl Finding {
    pub(crate) fn info(kind: FindingKind, detail: String) -> Self {
        Self {
            kind,
            detail,
            warns: false,
        }
    }
    pub(crate) fn warning(kind: FindingKind, detail: String) -> Self {
        Self {
            kind,
            detail,
            warns: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FindingKind;

    #[test]
    fn labels_are_unique_kebab_case_and_serialise_as_themselves() {
        let mut seen = std::collections::HashSet::new();
        for k in FindingKind::ALL {
            let label = k.label();
            assert!(seen.insert(label), "{label} twice");
            assert!(
                label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{label}"
            );
            assert_eq!(
                serde_json::to_string(&k).expect("json"),
                format!("\"{label}\"")
            );
            assert!(!k.summary().is_empty());
        }
        assert_eq!(FindingKind::CertDiffers.label(), "cert-differs");
        assert_eq!(FindingKind::E2eVerified.label(), "e2e-verified");
    }
}
