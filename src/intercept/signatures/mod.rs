//! The interception-signature database (DESIGN §5, evidence 4): issuer names of AV, UTM
//! and debugging-proxy CAs, lines of AV mail proxies, and headers and block pages of web
//! proxies, each with its public source. It loads `profiles/interception.toml` (embedded)
//! or a user file, and matches observed text against it.
//!
//! Matching is plain ASCII case-insensitive text comparison, linear in the input (KMP for
//! `contains`), with no regular expressions: the text comes from a peer that may be
//! hostile, so it must never be able to make the check slow or make it panic.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::dn::dn_attributes;

/// The signature file compiled into the binary.
const EMBEDDED: &str = include_str!("../../../profiles/interception.toml");
const EMBEDDED_NAME: &str = "profiles/interception.toml";

/// The longest pattern a signature may have, in characters.
pub const MAX_PATTERN_CHARS: usize = 200;

/// What part of an observation a signature looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    /// The CN attribute of a certificate's issuer.
    IssuerCn,
    /// The O attribute of a certificate's issuer.
    IssuerO,
    /// The OU attribute of a certificate's issuer.
    IssuerOu,
    /// Any line an IMAP server sends before login (greeting, CAPABILITY).
    ImapGreeting,
    /// Any line a POP3 server sends before login (greeting, CAPA).
    Pop3Greeting,
    /// An HTTP header; the signature names which one.
    HttpHeader,
    /// The first bytes of an HTTP body.
    HttpBody,
}

impl Field {
    /// The name used in the signature file.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Field::IssuerCn => "issuer-cn",
            Field::IssuerO => "issuer-o",
            Field::IssuerOu => "issuer-ou",
            Field::ImapGreeting => "imap-greeting",
            Field::Pop3Greeting => "pop3-greeting",
            Field::HttpHeader => "http-header",
            Field::HttpBody => "http-body",
        }
    }
}

/// What sort of product intercepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Utm,
    Antivirus,
    Proxy,
    Debugging,
}

impl Kind {
    /// The name used in the signature file.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Kind::Utm => "utm",
            Kind::Antivirus => "antivirus",
            Kind::Proxy => "proxy",
            Kind::Debugging => "debugging",
        }
    }
}

/// How a pattern is compared; always ASCII case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    Contains,
    Prefix,
    Exact,
}

impl MatchKind {
    /// The name used in the signature file.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            MatchKind::Contains => "contains",
            MatchKind::Prefix => "prefix",
            MatchKind::Exact => "exact",
        }
    }
}

/// One known product marker. A header-only signature (`field` http-header without
/// `pattern`) matches when the header is present; its `match_kind` is then `Contains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub product: String,
    pub kind: Kind,
    pub field: Field,
    pub header: Option<String>,
    #[serde(rename = "match")]
    pub match_kind: MatchKind,
    pub pattern: Option<String>,
    pub advice: String,
    pub source: String,
}

impl Signature {
    /// The next step, with `{host}` and `{port}` filled in (an IPv6 host in brackets).
    #[must_use]
    pub fn advice_for(&self, host: &str, port: u16) -> String {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let port = port.to_string();
        let mut out = String::with_capacity(self.advice.len() + host.len());
        let mut rest = self.advice.as_str();
        // One pass, so a `{port}` inside the host name is not expanded again.
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(t) = tail.strip_prefix("{host}") {
                out.push_str(&host);
                rest = t;
            } else if let Some(t) = tail.strip_prefix("{port}") {
                out.push_str(&port);
                rest = t;
            } else {
                out.push('{');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }
}

/// A signature file that could not be used, with the place of the problem.
/// Line and column count from 1; line 0 means the whole file (e.g. unreadable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
#[non_exhaustive]
pub struct SignatureError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A loaded set of signatures, in file order.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    entries: Vec<Signature>,
    /// The folded pattern of each entry, same index.
    needles: Vec<Needle>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    signature: Vec<Spanned<RawSignature>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    product: Spanned<String>,
    kind: Kind,
    field: Spanned<Field>,
    header: Option<Spanned<String>>,
    #[serde(rename = "match")]
    match_kind: Option<Spanned<MatchKind>>,
    pattern: Option<Spanned<String>>,
    advice: Spanned<String>,
    source: Spanned<String>,
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
        let at = |span: Option<Range<usize>>, message: String| {
            let (line, column) =
                span.map_or((0, 0), |s| crate::config::profile::line_col(text, s.start));
            SignatureError {
                file: file.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let raw: RawFile = toml::from_str(text)
            .map_err(|e| at(e.span(), e.message().trim().replace('\n', " ")))?;
        let mut out = Self::default();
        for entry in raw.signature {
            let whole = entry.span();
            let sig =
                check(entry.get_ref()).map_err(|(span, m)| at(Some(span.unwrap_or(whole)), m))?;
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

/// What is wrong with an entry, and where (the value at fault, if it has a span).
type Fault = (Option<Range<usize>>, String);

/// Checks one raw entry through the small `validate_*` rules below.
fn check(raw: &RawSignature) -> Result<Signature, Fault> {
    let product = raw.product.get_ref().trim().to_string();
    if product.is_empty() {
        return Err((Some(raw.product.span()), "`product` is empty".into()));
    }
    let ctx = |(span, m): Fault| (span, format!("signature {product:?}: {m}"));
    let field = *raw.field.get_ref();
    let header = validate_header(raw, field).map_err(ctx)?;
    let pattern = validate_pattern(raw, field).map_err(ctx)?;
    let match_kind = validate_match(raw, pattern.is_some()).map_err(ctx)?;
    let advice = validate_advice(&raw.advice).map_err(ctx)?;
    let source = validate_source(&raw.source).map_err(ctx)?;
    Ok(Signature {
        product,
        kind: raw.kind,
        field,
        header,
        match_kind,
        pattern,
        advice,
        source,
    })
}

/// `header` goes with field http-header, and only with it, and is an HTTP token.
fn validate_header(raw: &RawSignature, field: Field) -> Result<Option<String>, Fault> {
    match (&raw.header, field == Field::HttpHeader) {
        (None, false) => Ok(None),
        (None, true) => Err((
            Some(raw.field.span()),
            "field \"http-header\" needs `header`, the header name".into(),
        )),
        (Some(h), false) => Err((
            Some(h.span()),
            format!(
                "`header` applies only to field \"http-header\", not {:?}",
                field.label()
            ),
        )),
        (Some(h), true) => {
            let name = h.get_ref().trim();
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err((
                    Some(h.span()),
                    format!("header {name:?} is not an HTTP header name"),
                ));
            }
            Ok(Some(name.to_string()))
        }
    }
}

/// `pattern` is 1-200 printable characters; only http-header may leave it out.
fn validate_pattern(raw: &RawSignature, field: Field) -> Result<Option<String>, Fault> {
    let Some(p) = &raw.pattern else {
        if field == Field::HttpHeader {
            return Ok(None);
        }
        return Err((
            Some(raw.field.span()),
            format!(
                "`pattern` is required for field {:?} (only http-header may leave it out, \
                 meaning \"header present\")",
                field.label()
            ),
        ));
    };
    let text = p.get_ref();
    let chars = text.chars().count();
    let problem = if text.trim().is_empty() {
        "`pattern` is empty".to_string()
    } else if chars > MAX_PATTERN_CHARS {
        format!("`pattern` has {chars} characters; at most {MAX_PATTERN_CHARS}")
    } else if text.chars().any(char::is_control) {
        "`pattern` contains a control character".to_string()
    } else {
        return Ok(Some(text.clone()));
    };
    Err((Some(p.span()), problem))
}

/// `match` goes with `pattern`; a header-present entry has neither.
fn validate_match(raw: &RawSignature, has_pattern: bool) -> Result<MatchKind, Fault> {
    match (&raw.match_kind, has_pattern) {
        (Some(m), true) => Ok(*m.get_ref()),
        (None, false) => Ok(MatchKind::Contains),
        (None, true) => Err((
            raw.pattern.as_ref().map(Spanned::span),
            "`pattern` needs `match` (contains, prefix or exact)".into(),
        )),
        (Some(m), false) => Err((
            Some(m.span()),
            "`match` without `pattern`; leave both out to mean \"header present\"".into(),
        )),
    }
}

/// `advice` is a non-empty sentence whose only placeholders are `{host}` and `{port}`.
fn validate_advice(advice: &Spanned<String>) -> Result<String, Fault> {
    let text = advice.get_ref().trim();
    if text.is_empty() {
        return Err((Some(advice.span()), "`advice` is empty".into()));
    }
    if let Some(bad) = unknown_placeholder(text) {
        return Err((
            Some(advice.span()),
            format!("`advice` has the placeholder {bad:?}; only {{host}} and {{port}} exist"),
        ));
    }
    Ok(text.to_string())
}

/// `source` is an http:// or https:// URL.
fn validate_source(source: &Spanned<String>) -> Result<String, Fault> {
    let text = source.get_ref().trim();
    let lower = text.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
        return Err((
            Some(source.span()),
            format!("`source` {text:?} must be an http:// or https:// URL"),
        ));
    }
    Ok(text.to_string())
}

/// The first `{...}` in `advice` other than `{host}` and `{port}`.
fn unknown_placeholder(advice: &str) -> Option<String> {
    let mut rest = advice;
    while let Some(i) = rest.find('{') {
        let tail = &rest[i..];
        let end = tail.find('}').map_or(tail.len(), |e| e + 1);
        let token = &tail[..end];
        if token != "{host}" && token != "{port}" {
            return Some(token.to_string());
        }
        rest = &tail[end..];
    }
    None
}

/// RFC 9110 token characters, the ones a header name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A pattern folded to ASCII lower case, with its KMP failure table.
#[derive(Debug, Clone)]
struct Needle {
    bytes: Vec<u8>,
    fail: Vec<usize>,
}

impl Needle {
    fn new(pattern: &str) -> Self {
        let bytes: Vec<u8> = pattern.bytes().map(|b| b.to_ascii_lowercase()).collect();
        let mut fail = vec![0; bytes.len()];
        let mut k = 0;
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            while k > 0 && bytes.get(k) != Some(&b) {
                k = fail.get(k - 1).copied().unwrap_or(0);
            }
            if bytes.get(k) == Some(&b) {
                k += 1;
            }
            if let Some(slot) = fail.get_mut(i) {
                *slot = k;
            }
        }
        Self { bytes, fail }
    }

    /// `contains` works on the raw text; `prefix` and `exact` ignore surrounding white space.
    fn test(&self, kind: MatchKind, text: &str) -> bool {
        let trimmed = text
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .as_bytes();
        match kind {
            MatchKind::Contains => self.found_in(text.as_bytes()),
            MatchKind::Prefix => trimmed
                .get(..self.bytes.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(&self.bytes)),
            MatchKind::Exact => trimmed.eq_ignore_ascii_case(&self.bytes),
        }
    }

    /// Knuth-Morris-Pratt: one pass over `hay`, whatever its content.
    fn found_in(&self, hay: &[u8]) -> bool {
        if self.bytes.is_empty() {
            return true;
        }
        let mut k = 0;
        for &b in hay {
            let c = b.to_ascii_lowercase();
            while k > 0 && self.bytes.get(k) != Some(&c) {
                k = self.fail.get(k - 1).copied().unwrap_or(0);
            }
            if self.bytes.get(k) == Some(&c) {
                k += 1;
                if k == self.bytes.len() {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests;
