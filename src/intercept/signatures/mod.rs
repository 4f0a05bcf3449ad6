//! The interception-signature database (DESIGN §5, evidence 4): issuer names of AV, UTM
//! and debugging-proxy CAs, lines of AV mail proxies, and headers and block pages of web
//! proxies, each with its public source. It loads `profiles/interception.toml` (embedded)
//! or a user file, and matches observed text against it.
//!
//! Matching is plain ASCII case-insensitive text comparison, linear in the input (KMP for
//! `contains`), with no regular expressions: the text comes from a peer that may be
//! hostile, so it must never be able to make the check slow or make it panic.
//!
//! By job: `model` says what a signature is, `validate` reads and checks a file's entries,
//! `needle` compares a pattern with text; this file loads sets and matches them.

pub(super) mod model;
mod needle;
mod validate;

use std::path::Path;

use super::dn::dn_attributes;
pub use model::{Field, Kind, MatchKind, Signature, SignatureError};
use needle::Needle;
pub use validate::MAX_PATTERN_CHARS;

/// The signature file compiled into the binary.
const EMBEDDED: &str = include_str!("../../../profiles/interception.toml");
const EMBEDDED_NAME: &str = "profiles/interception.toml";

/// A loaded set of signatures, in file order.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    entries: Vec<Signature>,
    /// The folded pattern of each entry, same index.
    needles: Vec<Needle>,
}

impl Signatures {
    /// The signatures built into the binary.
    ///
    /// # Errors
    /// Only if the embedded file is broken, which a unit test rules out.
    pub fn embedded() -> Result<Self, SignatureError> {
        Self::parse(Path::new(EMBEDDED_NAME), EMBEDDED)
    }

    /// Loads a user's signature file (`--signatures FILE`).
    ///
    /// # Errors
    /// An unreadable file (line 0, with the I/O error) or a malformed one.
    pub fn load_file(path: &Path) -> Result<Self, SignatureError> {
        let text = std::fs::read_to_string(path).map_err(|e| SignatureError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the signature file: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses and checks the text of a signature file; `file` only names it in errors.
    ///
    /// # Errors
    /// A TOML error, an unknown key or value, or an entry that breaks a rule of the
    /// format, with the line and column of the offending value.
    pub fn parse(file: &Path, text: &str) -> Result<Self, SignatureError> {
        let mut out = Self::default();
        for sig in validate::read(file, text)? {
            out.needles
                .push(Needle::new(sig.pattern.as_deref().unwrap_or("")));
            out.entries.push(sig);
        }
        Ok(out)
    }

    /// Adds the signatures of `other` after these (e.g. a user file after the embedded set).
    pub fn extend(&mut self, other: Signatures) {
        self.entries.extend(other.entries);
        self.needles.extend(other.needles);
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[must_use]
    pub fn entries(&self) -> &[Signature] {
        &self.entries
    }

    /// Matches a certificate issuer given as an RFC 4514-ish DN string like
    /// `CN=FortiGate CA, O=Fortinet, C=US` (x509-parser's `Display`; OpenSSL's
    /// `CN = x, O = y` and quoted or backslash-escaped values work too). Every CN, O and
    /// OU attribute is tested against the issuer-cn / issuer-o / issuer-ou signatures.
    #[must_use]
    pub fn match_issuer(&self, issuer_dn: &str) -> Vec<&Signature> {
        let attributes = dn_attributes(issuer_dn);
        self.matching(|sig, needle| {
            attributes
                .iter()
                .any(|(field, value)| *field == sig.field && needle.test(sig.match_kind, value))
        })
    }

    /// Matches what an IMAP or POP3 server sent before login (`field` is
    /// `ImapGreeting` or `Pop3Greeting`; any other field matches nothing). `prefix` and
    /// `exact` apply to each line; `contains` to the whole text.
    #[must_use]
    pub fn match_greeting(&self, field: Field, greeting: &str) -> Vec<&Signature> {
        if !matches!(field, Field::ImapGreeting | Field::Pop3Greeting) {
            return Vec::new();
        }
        self.matching(|sig, needle| {
            sig.field == field
                && match sig.match_kind {
                    MatchKind::Contains => needle.test(MatchKind::Contains, greeting),
                    kind => greeting.split('\n').any(|line| needle.test(kind, line)),
                }
        })
    }

    /// Matches one HTTP header (name case-insensitive).
    #[must_use]
    pub fn match_header(&self, name: &str, value: &str) -> Vec<&Signature> {
        let name = name.trim();
        self.matching(|sig, needle| {
            sig.field == Field::HttpHeader
                && sig
                    .header
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(name))
                && (sig.pattern.is_none() || needle.test(sig.match_kind, value))
        })
    }

    /// Matches the start of an HTTP body (a block page).
    #[must_use]
    pub fn match_body(&self, body_prefix: &str) -> Vec<&Signature> {
        self.matching(|sig, needle| {
            sig.field == Field::HttpBody && needle.test(sig.match_kind, body_prefix)
        })
    }

    fn matching(&self, hit: impl Fn(&Signature, &Needle) -> bool) -> Vec<&Signature> {
        self.entries
            .iter()
            .zip(&self.needles)
            .filter(|(sig, needle)| hit(sig, needle))
            .map(|(sig, _)| sig)
            .collect()
    }
}

#[cfg(test)]
mod tests;
