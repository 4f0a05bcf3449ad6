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

/// The signature file compiled into the binary.
const EMBEDDED: &str = include_str!("../../profiles/interception.toml");
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

/// The CN, O and OU attributes of a DN string, unescaped, in order.
///
/// A `,`, `+` or `;` separates attributes only where a `key=` follows, so that an
/// unescaped comma inside a value (x509-parser does not escape) stays in the value.
/// Every byte is looked at a bounded number of times: linear in the input.
fn dn_attributes(dn: &str) -> Vec<(Field, String)> {
    let bytes = dn.as_bytes();
    let mut out = Vec::new();
    let Some((mut key, mut start)) = key_at(bytes, 0) else {
        return out;
    };
    let (mut i, mut quoted) = (start, false);
    loop {
        let at_end = i >= bytes.len();
        let next = if at_end {
            None
        } else {
            match bytes.get(i) {
                Some(b'\\') => {
                    i += 2;
                    continue;
                }
                Some(b'"') => {
                    quoted = !quoted;
                    None
                }
                Some(b',' | b'+' | b';') if !quoted => key_at(bytes, i + 1),
                _ => None,
            }
        };
        if at_end || next.is_some() {
            let field = match_key(bytes.get(key.clone()).unwrap_or_default());
            if let (Some(field), Some(raw)) = (field, bytes.get(start..i.min(bytes.len()))) {
                out.push((field, unescape(raw)));
            }
            match next {
                Some((k, s)) => {
                    (key, start) = (k, s);
                    i = s;
                    continue;
                }
                None => return out,
            }
        }
        i += 1;
    }
}

/// At `from`: optional spaces, an attribute type, optional spaces, `=`. Returns the
/// type's range and where the value starts.
fn key_at(bytes: &[u8], from: usize) -> Option<(Range<usize>, usize)> {
    let skip_spaces = |mut i: usize| {
        while bytes.get(i).is_some_and(|&b| b == b' ' || b == b'\t') {
            i += 1;
        }
        i
    };
    let start = skip_spaces(from);
    let mut end = start;
    while bytes
        .get(end)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        end += 1;
    }
    let eq = skip_spaces(end);
    (end > start && bytes.get(eq) == Some(&b'=')).then_some((start..end, eq + 1))
}

fn match_key(key: &[u8]) -> Option<Field> {
    let is = |names: &[&str]| names.iter().any(|n| key.eq_ignore_ascii_case(n.as_bytes()));
    if is(&["CN", "commonName", "2.5.4.3"]) {
        Some(Field::IssuerCn)
    } else if is(&["O", "organizationName", "2.5.4.10"]) {
        Some(Field::IssuerO)
    } else if is(&["OU", "organizationalUnitName", "2.5.4.11"]) {
        Some(Field::IssuerOu)
    } else {
        None
    }
}

/// Trims, drops surrounding quotes, and resolves `\c` and `\hh` escapes (RFC 4514).
fn unescape(raw: &[u8]) -> String {
    let trimmed = raw.trim_ascii();
    let inner = match trimmed {
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    };
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while let Some(&b) = inner.get(i) {
        if b == b'\\' {
            let pair = (inner.get(i + 1).copied(), inner.get(i + 2).copied());
            if let (Some(h), Some(l)) = pair {
                if let (Some(h), Some(l)) = (hex(h), hex(l)) {
                    // Two hex digits make one byte, so the value fits in u8.
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
            }
            if let Some(&c) = inner.get(i + 1) {
                out.push(c);
            }
            i += 2;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded() -> Signatures {
        Signatures::embedded().expect("the embedded signature file parses")
    }

    fn products(hits: &[&Signature]) -> Vec<String> {
        let mut v: Vec<String> = hits.iter().map(|s| s.product.clone()).collect();
        v.sort();
        v.dedup();
        v
    }

    #[test]
    fn embedded_file_loads_with_enough_entries() {
        let s = embedded();
        assert!(s.len() >= 30, "only {} signatures", s.len());
        assert!(!s.is_empty());
        for sig in s.entries() {
            assert!(sig.source.starts_with("https://"), "{sig:?}");
        }
    }

    /// Every product the design brief names has an entry or is declared unsourced.
    #[test]
    fn every_named_product_is_covered_or_declared() {
        let s = embedded();
        let header: Vec<&str> = EMBEDDED
            .lines()
            .take_while(|l| !l.starts_with("[[signature]]"))
            .collect();
        let declared = |name: &str| {
            header.iter().any(|l| {
                l.contains(name) && l.contains("no sourced") && l.contains("local-root/pin")
            })
        };
        #[rustfmt::skip]
        let named = [
            "Fortinet", "Sophos", "Palo Alto", "Check Point", "Zscaler", "Netskope",
            "Cisco Umbrella", "Cisco Firepower", "Cisco IronPort", "Cisco ASA", "WatchGuard",
            "Barracuda", "Forcepoint", "Websense", "Blue Coat", "Symantec", "Kaspersky", "ESET",
            "Avast", "AVG", "Bitdefender", "Trend Micro", "McAfee", "Skyhigh", "Norton",
            "mitmproxy", "Burp", "PortSwigger", "Fiddler", "Charles", "sslsplit", "p3scan",
        ];
        for name in named {
            let has_entry = s.entries().iter().any(|e| e.product.contains(name));
            assert!(
                has_entry || declared(name),
                "{name}: no entry and not declared"
            );
        }
    }

    enum Sample {
        Issuer(&'static str),
        Greeting(Field, &'static str),
        Header(&'static str, &'static str),
        Body(&'static str),
    }

    fn hits<'a>(s: &'a Signatures, sample: &Sample) -> Vec<&'a Signature> {
        match sample {
            Sample::Issuer(dn) => s.match_issuer(dn),
            Sample::Greeting(f, g) => s.match_greeting(*f, g),
            Sample::Header(n, v) => s.match_header(n, v),
            Sample::Body(b) => s.match_body(b),
        }
    }

    /// Realistic samples: each matches exactly the products listed, and together they hit
    /// every entry of the file.
    #[test]
    fn every_entry_matches_its_example_and_only_its_product() {
        use Sample::{Body, Greeting, Header, Issuer};
        let table: &[(&[&str], Sample)] = &[
            (&["Fortinet FortiGate"], Issuer("C=US, ST=California, L=Sunnyvale, O=Fortinet, OU=Certificate Authority, CN=FortiGate CA")),
            (&["Fortinet FortiGate"], Issuer("C=US, O=Fortinet Ltd., CN=FGT60E0000000000")),
            (&["Fortinet FortiGate"], Body("<html><head><title>Web Filter Violation</title></head><body class=\"blocked\"><div class=\"header\"><h2>Powered By Fortinet</h2><h1>FortiGuard Web Filtering</h1>")),
            (&["Fortinet FortiGate"], Body("<p>To have the rating of this web page re-evaluated <a href=\"http://url.fortinet.net/rate/submit.php?id=1\">please click here</a>.</p>")),
            (&["Sophos"], Issuer("CN=Sophos SSL CA_C1234567, O=Sophos")),
            (&["Sophos"], Issuer("CN=Sophos_CA_ABC123")),
            (&["Sophos UTM"], Issuer("CN=sophosutm Proxy CA, O=sophosutm")),
            (&["Sophos Web Appliance"], Issuer("CN=Sophos Web Appliance, O=Sophos Plc, C=GB")),
            (&["Cisco Umbrella"], Issuer("C=US, O=Cisco, CN=Cisco Umbrella Root CA")),
            (&["Cisco Umbrella"], Issuer("O=Cisco, CN=Cisco Umbrella Primary SubCA")),
            (&["Zscaler"], Issuer("C=US, ST=California, L=San Jose, O=Zscaler Inc., OU=Zscaler Inc., CN=Zscaler Root CA")),
            (&["Zscaler"], Issuer("C = US, ST = California, O = Zscaler Inc., OU = Zscaler Inc., CN = \"Zscaler Intermediate Root CA (zscloud.net) (t) \"")),
            (&["Zscaler"], Header("Server", "Zscaler/5.6")),
            (&["Zscaler"], Body("<html>\n<head>\n<title>Internet Security by Zscaler</title>")),
            (&["Forcepoint"], Issuer("CN=Forcepoint Cloud CA, O=Forcepoint LLC, C=US")),
            (&["Blue Coat / Symantec ProxySG"], Issuer("CN=proxy.example, O=Blue Coat")),
            (&["Blue Coat / Symantec ProxySG"], Header("x-bluecoat-via", "ce2cfae06b3f12b4")),
            (&["McAfee Web Gateway"], Issuer("CN=McAfee Web Gateway, O=Example Corp")),
            (&["Trend Micro InterScan Web Security Suite"], Issuer("CN=IWSS.TREND")),
            (&["ContentKeeper"], Issuer("CN=ContentKeeper Appliance CA (1234), O=ContentKeeper Technologies")),
            (&["Cyberoam"], Issuer("CN=gateway.example, O=Cyberoam Certificate Authority")),
            (&["NetSpark"], Issuer("CN=www.netspark.com, O=NetSpark")),
            (&["Smoothwall"], Issuer("CN=Smoothwall-default-root-certificate-authority")),
            (&["SonicWall"], Issuer("CN=192.168.168.168, O=HTTPS Management Certificate for SonicWALL")),
            (&["Kaspersky"], Issuer("C=RU, O=AO Kaspersky Lab (TEST ONLY), CN=Kaspersky Anti-Virus Personal Root Certificate")),
            (&["Kaspersky"], Issuer("O=AO Kaspersky Lab, CN=Kaspersky Web Anti-Virus Certification Authority")),
            (&["ESET"], Issuer("CN=ESET SSL Filter CA, O=\"ESET, spol. s r. o.\", C=SK")),
            (&["Avast"], Issuer("O=avast! Web/Mail Shield, CN=avast! Web/Mail Shield Root")),
            (&["Bitdefender"], Issuer("CN=Bitdefender Personal CA.Net-Defender, O=Bitdefender")),
            (&["Norton"], Issuer("CN=Norton Web/Mail Shield Self-signed Root,OU=generated by Norton Antivirus for self-signed certificates,O=Norton Web/Mail Shield")),
            (&["p3scan"], Greeting(Field::Pop3Greeting, "+OK Dovecot ready.\r\n\r\n+OK P3Scan'ing...\r\n")),
            (&["p3scan"], Greeting(Field::Pop3Greeting, "+OK\r\n-ERR Not Identified\r\n")),
            (&["an HTTP proxy"], Header("Via", "1.1 67211fbb6cd8 (squid/3.4.8)")),
            (&["Squid"], Header("X-Squid-Error", "ERR_ACCESS_DENIED 0")),
            (&["Squid"], Header("Server", "squid/3.1.20")),
            (&["an HTTP proxy"], Header("Proxy-Authenticate", "Basic realm=\"proxy\"")),
            (&["mitmproxy"], Issuer("CN=mitmproxy, O=mitmproxy")),
            (&["Burp Suite (PortSwigger)"], Issuer("C=PortSwigger, ST=PortSwigger, L=PortSwigger, O=PortSwigger, OU=PortSwigger CA, CN=PortSwigger CA")),
            (&["Fiddler"], Issuer("OU=Created by http://www.fiddler2.com, O=DO_NOT_TRUST, CN=DO_NOT_TRUST_FiddlerRoot")),
            (&["Fiddler Everywhere"], Issuer("CN=Fiddler_Root_Certificate_Authority")),
            (&["Fiddler Everywhere"], Issuer("CN=Fiddler Root Certificate Authority")),
            (&["Charles Proxy"], Issuer("CN=Charles Proxy Custom Root Certificate (built on EMODO-PQ05F\\, 11 Apr 2022)")),
        ];
        let s = embedded();
        let mut hit = vec![false; s.len()];
        for (expected, sample) in table {
            let found = hits(&s, sample);
            let mut want: Vec<String> = expected.iter().map(ToString::to_string).collect();
            want.sort();
            assert_eq!(products(&found), want, "sample for {expected:?}");
            for f in found {
                let i = s.entries().iter().position(|e| std::ptr::eq(e, f));
                hit[i.expect("a hit is an entry")] = true;
            }
        }
        for (sig, was_hit) in s.entries().iter().zip(hit) {
            assert!(was_hit, "no sample hits {sig:?}");
        }
    }

    /// Ordinary answers and public CAs match nothing.
    #[test]
    fn ordinary_values_match_nothing() {
        let s = embedded();
        #[rustfmt::skip]
        let names = [
            "DigiCert Global Root G2", "ISRG Root X1", "R11", "Let's Encrypt", "GlobalSign",
            "Sectigo", "Microsoft Azure RSA TLS Issuing CA 03", "Go Daddy",
            "Amazon RSA 2048 M02", "DigiCert Inc", "Microsoft Corporation", "Amazon",
            "GoDaddy.com, Inc.", "Sectigo Limited", "GlobalSign nv-sa", "www.digicert.com",
            "Cisco Systems, Inc.", "Fortinet, Inc.", "Sophos Ltd",
        ];
        for n in names {
            for dn in [format!("CN={n}"), format!("O={n}"), format!("OU={n}")] {
                assert!(s.match_issuer(&dn).is_empty(), "{dn} matched");
            }
        }
        for dn in [
            "C=US, O=Let's Encrypt, CN=R11",
            "C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert Global Root G2",
            "C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 03",
            "C=US, O=Amazon, CN=Amazon RSA 2048 M02",
            "CN=mgmt01",
        ] {
            assert!(s.match_issuer(dn).is_empty(), "{dn} matched");
        }
        let greetings = [
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
            "+OK Dovecot (Debian) ready.\r\n",
            "* OK The Microsoft Exchange IMAP4 service is ready.\r\n",
            "+OK The Microsoft Exchange POP3 service is ready.\r\n",
            "-ERR [AUTH] Authentication failed.\r\n",
        ];
        for g in greetings {
            for f in [Field::ImapGreeting, Field::Pop3Greeting] {
                assert!(s.match_greeting(f, g).is_empty(), "{g:?} matched");
            }
        }
        let headers = [
            ("Server", "Microsoft-IIS/10.0"),
            ("Server", "nginx"),
            ("X-Powered-By", "ASP.NET"),
            ("Server", "Microsoft-HTTPAPI/2.0"),
            ("WWW-Authenticate", "Basic realm=\"mail.example.com\""),
            ("X-FEServer", "DM2PR42CA011"),
            ("Content-Type", "text/html; charset=utf-8"),
        ];
        for (n, v) in headers {
            assert!(s.match_header(n, v).is_empty(), "{n}: {v} matched");
        }
        for body in [
            "<html><head><title>401 Unauthorized</title></head><body><center><h1>401 Unauthorized</h1></center><hr><center>nginx</center>",
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\"><title>IIS Windows Server</title>",
            "",
        ] {
            assert!(s.match_body(body).is_empty(), "{body:?} matched");
        }
    }

    #[test]
    fn matching_is_case_insensitive_and_field_specific() {
        let s = embedded();
        assert_eq!(
            products(&s.match_issuer("cn=fortigate ca")),
            ["Fortinet FortiGate"]
        );
        // An issuer CN pattern does not fire on an O attribute.
        assert!(s.match_issuer("O=FortiGate CA").is_empty());
        // `exact` needs the whole value.
        assert!(s.match_issuer("O=Fortinet Customer PKI").is_empty());
        // A greeting of one protocol is not tested with the other's signatures.
        assert!(s
            .match_greeting(Field::ImapGreeting, "+OK P3Scan'ing...")
            .is_empty());
        assert!(s
            .match_greeting(Field::IssuerCn, "+OK P3Scan'ing...")
            .is_empty());
        assert_eq!(
            products(&s.match_header("VIA", "1.1 gw")),
            ["an HTTP proxy"]
        );
    }

    #[test]
    fn dn_parsing_handles_escapes_quotes_and_multivalued_rdns() {
        let f = |dn: &str| dn_attributes(dn);
        assert_eq!(
            f("CN=a\\, b, O=c + OU=d, C=US"),
            [
                (Field::IssuerCn, "a, b".to_string()),
                (Field::IssuerO, "c".to_string()),
                (Field::IssuerOu, "d".to_string())
            ]
        );
        // x509-parser leaves commas unescaped: they stay in the value.
        assert_eq!(
            f("O=Example, Inc., CN=x"),
            [
                (Field::IssuerO, "Example, Inc.".to_string()),
                (Field::IssuerCn, "x".to_string())
            ]
        );
        assert_eq!(f("CN = \"q, r\""), [(Field::IssuerCn, "q, r".to_string())]);
        assert_eq!(
            f("commonName=\\C3\\A9t\\C3\\A9"),
            [(Field::IssuerCn, "été".to_string())]
        );
        assert!(f("").is_empty() && f("no key here").is_empty() && f("=,=,\\").is_empty());
        assert_eq!(
            f("CN=trailing\\"),
            [(Field::IssuerCn, "trailing".to_string())]
        );
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let s = embedded();
        let mega = 1 << 20;
        let inputs = [
            "a".repeat(mega),
            ",CN=".repeat(mega / 4),
            "\\".repeat(mega),
            "\"".repeat(mega),
            "é€𝄞\u{0}".repeat(mega / 10),
            format!("{}FortiGate CA", "Forti".repeat(mega / 5)),
        ];
        for input in &inputs {
            let _ = s.match_issuer(input);
            let _ = s.match_issuer(&format!("CN={input}"));
            let _ = s.match_greeting(Field::Pop3Greeting, input);
            let _ = s.match_greeting(Field::ImapGreeting, input);
            let _ = s.match_header("Via", input);
            let _ = s.match_header(input, input);
            let _ = s.match_body(input);
        }
        // A match at the very end of a 1 MB body is still found.
        let late = format!(
            "{}Internet Security by Zscaler",
            "Internet Security by ".repeat(mega / 21)
        );
        assert_eq!(products(&s.match_body(&late)), ["Zscaler"]);
    }

    #[test]
    fn advice_fills_host_and_port() {
        let s = embedded();
        let forti = s.match_issuer("CN=FortiGate CA")[0];
        let a = forti.advice_for("mgmt01", 8471);
        assert!(a.contains("mgmt01:8471"), "{a}");
        assert!(!a.contains('{'), "{a}");
        assert!(forti.advice_for("::1", 993).contains("[::1]:993"));
        let sig = Signature {
            advice: "x {host}/{port} {other} {".into(),
            ..(*forti).clone()
        };
        assert_eq!(sig.advice_for("{port}", 1), "x {port}/1 {other} {");
    }

    #[test]
    fn extend_and_empty() {
        let mut s = Signatures::default();
        assert!(s.is_empty());
        let one = parse(&entry(
            "issuer-cn",
            "pattern = \"Lab CA\"\nmatch = \"exact\"\n",
        ))
        .expect("valid");
        s.extend(embedded());
        let n = s.len();
        s.extend(one);
        assert_eq!(s.len(), n + 1);
        assert_eq!(products(&s.match_issuer("CN=Lab CA")), ["Lab"]);
    }

    #[test]
    fn unreadable_file_is_line_zero() {
        let e = Signatures::load_file(Path::new("/nonexistent/sigs.toml")).expect_err("fails");
        assert_eq!((e.line, e.column), (0, 0));
        assert!(e.message.contains("cannot read"), "{e}");
        assert!(
            e.to_string().starts_with("/nonexistent/sigs.toml:0:0: "),
            "{e}"
        );
    }

    fn parse(text: &str) -> Result<Signatures, SignatureError> {
        Signatures::parse(Path::new("s.toml"), text)
    }

    /// A valid entry on lines 1-6 of `field`, plus `extra` lines from line 7 on.
    fn entry(field: &str, extra: &str) -> String {
        format!(
            "[[signature]]\nproduct = \"Lab\"\nkind = \"utm\"\nfield = \"{field}\"\n\
             advice = \"exclude {{host}}:{{port}}\"\nsource = \"https://example.org/x\"\n{extra}"
        )
    }

    fn error(text: &str) -> SignatureError {
        parse(text).expect_err("must be rejected")
    }

    #[test]
    fn syntax_error_names_its_line() {
        let e = error("[[signature]]\nproduct = \"x\"\nkind = utm\n");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().starts_with("s.toml:3:"), "{e}");
    }

    #[test]
    fn unknown_key_is_rejected_at_its_line() {
        let e = error(&entry(
            "issuer-cn",
            "pattern = \"p\"\nmatch = \"exact\"\nweak = true\n",
        ));
        assert_eq!(e.line, 9, "{e}");
        assert!(
            e.message.contains("weak") && e.message.contains("product"),
            "{e}"
        );
        let e = error("[meta]\nschema = 1\n");
        assert_eq!(e.line, 1, "{e}");
    }

    #[test]
    fn unknown_values_list_the_expected_ones() {
        let e = error(&entry("issuer-cn", "pattern = \"p\"\nmatch = \"regex\"\n"));
        assert_eq!((e.line, e.column), (8, 9), "{e}");
        assert!(
            e.message.contains("contains") && e.message.contains("exact"),
            "{e}"
        );
        let e = error(&entry("issuer-c", "pattern = \"p\"\nmatch = \"exact\"\n"));
        assert_eq!(e.line, 4, "{e}");
        assert!(
            e.message.contains("issuer-cn") && e.message.contains("http-body"),
            "{e}"
        );
        let e = error(
            &entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n")
                .replace("\"utm\"", "\"firewall\""),
        );
        assert_eq!(e.line, 3, "{e}");
        assert!(
            e.message.contains("antivirus") && e.message.contains("debugging"),
            "{e}"
        );
    }

    #[test]
    fn header_is_required_exactly_for_http_header() {
        let e = error(&entry(
            "http-header",
            "pattern = \"p\"\nmatch = \"exact\"\n",
        ));
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("needs `header`"), "{e}");
        let e = error(&entry(
            "issuer-o",
            "pattern = \"p\"\nmatch = \"exact\"\nheader = \"Via\"\n",
        ));
        assert_eq!(e.line, 9, "{e}");
        let e = error(&entry("http-header", "header = \"Bad Name\"\n"));
        assert_eq!(e.line, 7, "{e}");
        let ok = parse(&entry("http-header", "header = \"X-Lab\"\n")).expect("presence entry");
        assert_eq!(ok.entries()[0].pattern, None);
        assert_eq!(products(&ok.match_header("x-lab", "")), ["Lab"]);
    }

    #[test]
    fn pattern_rules() {
        let e = error(&entry("issuer-cn", ""));
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("`pattern` is required"), "{e}");
        let e = error(&entry("issuer-cn", "match = \"exact\"\npattern = \"  \"\n"));
        assert_eq!(e.line, 8, "{e}");
        let long = "x".repeat(MAX_PATTERN_CHARS + 1);
        let e = error(&entry(
            "http-body",
            &format!("match = \"contains\"\npattern = \"{long}\"\n"),
        ));
        assert!(e.message.contains("201 characters"), "{e}");
        assert!(parse(&entry(
            "http-body",
            &format!(
                "match = \"contains\"\npattern = \"{}\"\n",
                "é".repeat(MAX_PATTERN_CHARS)
            )
        ))
        .is_ok());
        let e = error(&entry("issuer-cn", "pattern = \"p\"\n"));
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("needs `match`"), "{e}");
        let e = error(&entry(
            "http-header",
            "header = \"Via\"\nmatch = \"prefix\"\n",
        ));
        assert_eq!(e.line, 8, "{e}");
    }

    #[test]
    fn source_and_advice_rules() {
        let ok = entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n");
        let e = error(&ok.replace("https://example.org/x", "example.org/x"));
        assert_eq!((e.line, e.column), (6, 10), "{e}");
        assert!(e.message.contains("http:// or https://"), "{e}");
        assert!(error(&ok.replace("https://example.org/x", "https://")).line == 6);
        let e = error(&ok.replace("exclude {host}:{port}", " "));
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("`advice` is empty"), "{e}");
        let e = error(&ok.replace("{port}", "{prot}"));
        assert!(e.message.contains("{prot}"), "{e}");
        let e = error(
            &entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n")
                .replace("source = \"https://example.org/x\"\n", ""),
        );
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("missing field `source`"), "{e}");
    }

    #[test]
    fn errors_point_into_the_right_entry() {
        let good = entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n");
        let bad = entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n")
            .replace("https://", "ftp://");
        let e = error(&format!("# header\n\n{good}\n{bad}"));
        assert_eq!(e.line, 2 + 9 + 6, "{e}");
    }

    #[test]
    fn names_serialize_as_in_the_file() {
        assert_eq!(Field::IssuerOu.label(), "issuer-ou");
        assert_eq!(Kind::Antivirus.label(), "antivirus");
        assert_eq!(MatchKind::Prefix.label(), "prefix");
        let s = embedded();
        let v = toml::to_string(&s.entries()[0]).expect("serializes");
        assert!(
            v.contains("field = \"issuer-cn\"") && v.contains("match = \"exact\""),
            "{v}"
        );
    }

    #[test]
    fn line_col_is_one_based_and_safe() {
        use crate::config::profile::line_col;
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
        assert_eq!(line_col("é\né", 5), (2, 2));
        assert_eq!(line_col("é\né", 4), (2, 1));
        assert_eq!(line_col("é", 1), (1, 1));
        assert_eq!(line_col("x", 99), (1, 2));
    }
}
