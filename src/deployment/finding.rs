//! A finding of the merge: its kind (one fixed label each), severity, evidence and next
//! step, and the wording helpers every format shares.

use super::input::Leaf;
use crate::verdict::Severity;

/// The kinds of merge findings, each with one fixed label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    CertDiffers,
    BlockedFromSome,
    ListensButBlocked,
    NotListening,
    NotReported,
    NotCovered,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::CertDiffers,
        Kind::BlockedFromSome,
        Kind::ListensButBlocked,
        Kind::NotListening,
        Kind::NotReported,
        Kind::NotCovered,
    ];

    /// The label that every format shares.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Kind::CertDiffers => "cert-differs",
            Kind::BlockedFromSome => "blocked-from-some",
            Kind::ListensButBlocked => "listens-but-blocked",
            Kind::NotListening => "not-listening",
            Kind::NotReported => "not-reported",
            Kind::NotCovered => "not-covered",
        }
    }
}

/// One certificate as some sources saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSeen {
    pub sources: Vec<String>,
    pub leaf: Leaf,
}

/// A finding of the merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeFinding {
    pub kind: Kind,
    /// `Fail` counts in the exit code; `Warn` only with `--strict`.
    pub severity: Severity,
    /// The matrix row it is about, if any.
    pub row: Option<usize>,
    /// `host:port` it is about, if any.
    pub target: Option<String>,
    /// Every source host involved.
    pub sources: Vec<String>,
    /// One sentence: what and why.
    pub detail: String,
    /// Who saw what, one line each.
    pub evidence: Vec<String>,
    pub hint: Option<String>,
    /// For `cert-differs`: each certificate and who saw it.
    pub certificates: Vec<CertSeen>,
}

/// "a, b and c".
#[must_use]
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A SHA-1 thumbprint as SPE and Windows show it: upper-case hex.
#[must_use]
pub fn thumbprint(sha1: &str) -> String {
    sha1.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_english() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        assert_eq!(and_list(&v(&["a"])), "a");
        assert_eq!(and_list(&v(&["a", "b", "c"])), "a, b and c");
    }

    #[test]
    fn labels_are_fixed_and_distinct() {
        let labels: std::collections::BTreeSet<&str> =
            Kind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), Kind::ALL.len());
    }

    #[test]
    fn thumbprints_as_spe_shows_them() {
        assert_eq!(thumbprint("9f3cab"), "9F3CAB");
    }
}
