//! The next step for a path that works but warns: one hint per finding kind.

use super::{FindingKind, Hop};
use crate::observation::Observation;

/// The next step for a warning on a path that works.
pub(super) fn warning_hint(kind: FindingKind, obs: &Observation, hop: &Hop) -> Option<String> {
    let source = obs.path.source;
    let hp = format!("{}:{}", hop.host, hop.port);
    let implicit = match obs.path.probe {
        crate::config::profile::ProbeKind::ImapStarttls => "993 (IMAPS)",
        crate::config::profile::ProbeKind::Pop3Stls => "995 (POP3S)",
        crate::config::profile::ProbeKind::LdapStarttls => "636 (LDAPS)",
        _ => "implicit-TLS port",
    };
    Some(match kind {
        FindingKind::UntrustedChain if source == crate::config::Role::Client => format!(
            "give {} a certificate from a CA that the users' machines trust (a public CA, or your domain's CA rolled out to them)",
            hop.host
        ),
        FindingKind::UntrustedChain => format!(
            "give {} a certificate from a CA this machine trusts, or set MailStore to accept this one",
            hop.host
        ),
        FindingKind::StarttlsMissing => format!(
            "enable STARTTLS on {hp} (or find what removes it on the way), or archive over {implicit} instead"
        ),
        FindingKind::LegacyTls => format!(
            "enable ECDHE with AES-GCM (TLS 1.2) or TLS 1.3 on {hp}: the suites it has now are deprecated"
        ),
        FindingKind::ClientCertRequired => format!(
            "nothing to do if {hp} is MailStore's own service (its peers present their certificates); otherwise check which service asks for client certificates there"
        ),
        FindingKind::StarttlsHidden => format!(
            "ask {}'s admin whether STARTTLS is hidden on purpose; if not, a middlebox edits the session: run the check from another network to find it",
            hop.host
        ),
        FindingKind::Resigned => format!(
            "if the deployment's own CA issued this certificate, pin its thumbprint (--pin {hp}=SHA1); otherwise exclude {hp} from TLS inspection"
        ),
        FindingKind::ProxyHeader => format!(
            "an HTTP proxy handles the connection to {hp}: make sure it does not inspect or block MailStore's traffic"
        ),
        FindingKind::StarttlsInjection => format!(
            "a server or middlebox on the way to {hp} sends data before TLS starts: update the server, or remove the middlebox"
        ),
        FindingKind::Nat => format!(
            "a NAT on the way to {hp} is fine; a proxy is not: check which one it is"
        ),
        FindingKind::CertExpiring | FindingKind::CertExpired => format!(
            "renew the certificate of {hp} in time, then re-pin its new thumbprint wherever SPE (or --pin) pins it: a renewal changes the thumbprint"
        ),
        FindingKind::CanaryOpen => format!(
            "a middlebox answers every port on the way to {}: find it (firewall SYN proxy, antivirus) and exempt MailStore's ports",
            hop.host
        ),
        // The verdict's own hint covers these, or there is nothing to do.
        FindingKind::LocalTarget
        | FindingKind::LocalRoot
        | FindingKind::PinMatch
        | FindingKind::PinMismatch
        | FindingKind::InterceptionCa
        | FindingKind::BannerSignature
        | FindingKind::StarttlsMasked
        | FindingKind::E2eVerified
        | FindingKind::E2eMismatch
        | FindingKind::E2eUnproven
        | FindingKind::E2eUnreadable
        | FindingKind::BannerRewritten
        | FindingKind::CertDiffers => return None,
    })
}
